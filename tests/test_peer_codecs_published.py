"""EnCodec / DAC / SpeechTokenizer adapters against the libraries' own calls (random init, offline).

Each model is built from its library's own classes with the published config, given codebooks
initialised by the library's own k-means on seeded noise (EnCodec and SpeechTokenizer start with
all-zero codebooks, which would make every code 0 and the comparison vacuous), saved in the
library's own file format, and loaded back through the adapter's ``weights=`` path: so the loader,
the encode and the decode are all exercised.
"""

from __future__ import annotations

import json
import math
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("encodec")
pytest.importorskip("dac")
pytest.importorskip("speechtokenizer")

from codec_checks import assert_bad_input_rejected  # noqa: E402

from bench.codecs import WeightsUnavailable, get_codec  # noqa: E402
from bench.codecs.dac import DAC16kPublished, DAC44kPublished  # noqa: E402
from bench.codecs.encodec import BANDWIDTHS, EncodecPublished, n_q_for_bandwidth  # noqa: E402
from bench.codecs.resampling import AtRate, decode_to, encode_at, resample  # noqa: E402
from bench.codecs.speechtokenizer import SpeechTokenizerPublished, published_config  # noqa: E402

PUBLISHED = ["encodec-24khz", "dac-16khz", "dac-24khz", "dac-44khz", "speechtokenizer"]

# fnlp/SpeechTokenizer config/spt_base_cfg.json, model keys (typed here independently of the adapter)
ST_BASE = {"n_filters": 64, "strides": [8, 5, 4, 2], "dimension": 1024, "semantic_dimension": 768,
           "bidirectional": True, "dilation_base": 2, "residual_kernel_size": 3, "n_residual_layers": 1,
           "lstm_layers": 2, "activation": "ELU", "codebook_size": 1024, "n_q": 8, "sample_rate": 16000}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _init_codebooks(model, quantize, seed: int = 0) -> None:
    """The library's own k-means codebook init (1 iteration: fast), on one training pass over seeded noise."""
    g = torch.Generator().manual_seed(seed)
    x = 0.1 * torch.randn(1, 1, 8000, generator=g)
    for m in model.modules():
        if hasattr(m, "kmeans_iters"):
            m.kmeans_iters = 1
    model.train()
    with torch.no_grad():
        quantize(model.encoder(x))
    model.eval()


def _audio(sr: float, seconds: float, batch: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, 1, int(sr * seconds), generator=g)


@pytest.fixture(scope="module")
def encodec_model(tmp_path_factory):
    from encodec import EncodecModel

    torch.manual_seed(0)
    model = EncodecModel.encodec_model_24khz(pretrained=False)
    _init_codebooks(model, lambda e: model.quantizer(e, model.frame_rate))
    path = tmp_path_factory.mktemp("encodec") / "random.th"
    torch.save(model.state_dict(), path)
    return model.eval(), path


@pytest.fixture(scope="module")
def dac16_model(tmp_path_factory):
    import dac

    torch.manual_seed(0)
    model = dac.DAC(sample_rate=16000, encoder_rates=[2, 4, 5, 8], decoder_rates=[8, 5, 4, 2], n_codebooks=12)
    path = tmp_path_factory.mktemp("dac16") / "weights_16khz.pth"
    model.save(str(path))  # the library's own format (state dict + constructor kwargs)
    return model.eval(), path


@pytest.fixture(scope="module")
def st_model(tmp_path_factory):
    from speechtokenizer.model import SpeechTokenizer

    torch.manual_seed(0)
    model = SpeechTokenizer(ST_BASE)
    _init_codebooks(model, model.quantizer)
    folder = tmp_path_factory.mktemp("st")
    (folder / "config.json").write_text(json.dumps(ST_BASE))
    torch.save(model.state_dict(), folder / "SpeechTokenizer.pt")
    return model.eval(), folder


# EnCodec ---------------------------------------------------------------------------------------
def test_encodec_bandwidth_to_n_q_is_the_librarys_rule(encodec_model):
    model, _ = encodec_model
    assert [n_q_for_bandwidth(b) for b in BANDWIDTHS] == [2, 4, 8, 16, 32]
    for b in BANDWIDTHS:
        assert n_q_for_bandwidth(b) == model.quantizer.get_num_quantizers_for_bandwidth(model.frame_rate, b)


@pytest.mark.parametrize("n_q", [8, 3, 32])
def test_encodec_codes_equal_library_encode(encodec_model, n_q):
    model, path = encodec_model
    codec = EncodecPublished(weights=path)
    assert codec.weights().present
    x = _audio(24000, 0.5)
    codes = codec.encode(x, n_q=n_q)
    with torch.no_grad():
        model.set_target_bandwidth(min(b for b in BANDWIDTHS if n_q_for_bandwidth(b) >= n_q))
        ref = model.encode(x)[0][0][:, :n_q]
    assert codes.dtype == torch.int64 and codes.shape == (2, n_q, math.ceil(x.shape[-1] / 320))
    assert torch.equal(codes, ref)
    assert len(codes.unique()) > 10  # random codebooks give varied codes: the comparison is not vacuous
    wav = codec.decode(codes)
    assert wav.shape == (2, 1, codes.shape[-1] * 320)
    with torch.no_grad():
        ref_wav = model.decode([(ref, None)])
    torch.testing.assert_close(wav, ref_wav[..., : wav.shape[-1]])


# DAC -----------------------------------------------------------------------------------------
def test_dac16_codes_equal_library_and_decode_is_padded_to_frames(dac16_model):
    model, path = dac16_model
    codec = DAC16kPublished(weights=path)
    assert (codec.sample_rate, codec.frame_rate, codec.n_codebooks) == (16000, 50.0, 12)
    x = _audio(16000, 0.43)  # not a multiple of the hop
    for n_q in (12, 4):
        codes = codec.encode(x, n_q=n_q)
        with torch.no_grad():
            _z, ref, *_ = model.encode(model.preprocess(x, 16000), n_quantizers=n_q)
        assert codes.shape == (2, n_q, math.ceil(x.shape[-1] / 320))
        assert torch.equal(codes, ref[:, :n_q])
    with torch.no_grad():
        lib_wav = model.decode(model.quantizer.from_codes(codes)[0])
    wav = codec.decode(codes)
    assert lib_wav.shape[-1] == codes.shape[-1] * 320 - 8  # the library quirk this adapter handles
    assert wav.shape == (2, 1, codes.shape[-1] * 320)
    torch.testing.assert_close(wav[..., : lib_wav.shape[-1]], lib_wav)
    assert torch.all(wav[..., lib_wav.shape[-1]:] == 0)


@pytest.mark.slow  # several seconds (issue #14: the default suite stays fast); CI runs it
def test_dac44_published_architecture_figures_and_codes(tmp_path):
    import dac

    torch.manual_seed(0)
    model = dac.DAC()  # the library's defaults are the published 44.1 kHz config
    model.save(str(tmp_path / "w44.pth"))
    codec = DAC44kPublished(weights=tmp_path / "w44.pth")
    assert (codec.sample_rate, codec.n_codebooks, codec.hop_length) == (44100, 9, 512)
    x = _audio(44100, 0.2, batch=1)
    codes = codec.encode(x)
    with torch.no_grad():
        ref = model.eval().encode(model.preprocess(x, 44100))[1]
    assert torch.equal(codes, ref)
    assert codec.decode(codes[:, :2]).shape == (1, 1, codes.shape[-1] * 512)


# SpeechTokenizer -----------------------------------------------------------------------------
def test_speechtokenizer_config_is_the_published_base():
    assert published_config() == ST_BASE


@pytest.mark.parametrize("n_q", [8, 1])
def test_speechtokenizer_codes_equal_library_encode_transposed(st_model, n_q):
    model, folder = st_model
    codec = SpeechTokenizerPublished(weights=folder)
    assert codec.weights().present
    x = _audio(16000, 0.5)
    codes = codec.encode(x, n_q=n_q)
    with torch.no_grad():
        ref = model.encode(x, n_q=n_q)  # (n_q, B, F): the library's layout
    assert ref.shape[:2] == (n_q, 2)
    assert codes.shape == (2, n_q, 25)
    assert torch.equal(codes, ref.permute(1, 0, 2))
    wav = codec.decode(codes)
    with torch.no_grad():
        ref_wav = model.decode(ref)
    assert wav.shape == (2, 1, 25 * 320)
    torch.testing.assert_close(wav, ref_wav[..., : wav.shape[-1]])


def test_speechtokenizer_weights_as_ckpt_file_with_config_beside(st_model):
    _, folder = st_model
    assert SpeechTokenizerPublished(weights=folder / "SpeechTokenizer.pt").weights().present


# input handling ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PUBLISHED)
def test_stereo_and_int_input_rejected_before_loading(name):
    assert_bad_input_rejected(get_codec(name))


def test_wrong_rate_goes_through_the_resampling_helper(encodec_model):
    model, path = encodec_model
    codec = EncodecPublished(weights=path)
    x16 = _audio(16000, 0.5, batch=1)
    codes = encode_at(codec, x16, 16000, n_q=4)
    assert torch.equal(codes, codec.encode(resample(x16, 16000, 24000), n_q=4))
    assert codes.shape[-1] == math.ceil(12000 / 320)
    back = decode_to(codec, codes, 16000, length=x16.shape[-1])
    assert back.shape == x16.shape
    view = AtRate(codec, 16000)
    assert (view.sample_rate, view.frame_rate, view.name) == (16000, 75.0, "encodec-24khz")
    assert torch.equal(view.encode(x16, n_q=4), codes)
    assert view.decode(codes).shape == (1, 1, math.ceil(codes.shape[-1] * 320 * 16000 / 24000))


def test_resample_lengths_and_content():
    t = torch.arange(16000) / 16000
    x = torch.sin(2 * math.pi * 440 * t).view(1, 1, -1)
    for sr in (24000, 44100, 16000):
        y = resample(x, 16000, sr)
        assert y.shape[-1] == math.ceil(16000 * sr / 16000)
        back = resample(y, sr, 16000)
        assert back.shape == x.shape
        err = (back - x)[..., 200:-200].abs().max()  # a 440 Hz tone survives the round trip
        assert err < 1e-2


# missing weights -----------------------------------------------------------------------------
@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    for var in ("BENCH_WEIGHTS_ENCODEC", "BENCH_WEIGHTS_SPEECHTOKENIZER", "BENCH_WEIGHTS_DAC_16KHZ",
                "BENCH_WEIGHTS_DAC_24KHZ", "BENCH_WEIGHTS_DAC_44KHZ", "BENCH_ONLINE", "TORCH_HOME",
                "HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("name", PUBLISHED)
def test_missing_published_weights_raise_fast_with_how_to(empty_caches, name):
    codec = get_codec(name)
    status = codec.weights()
    assert status.origin == "published" and not status.present
    assert "BENCH_ONLINE=1" in status.detail and "BENCH_WEIGHTS_" in status.detail
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailable, match="not available here") as e:
        codec.encode(torch.zeros(1, 1, 1600))
    assert time.perf_counter() - t0 < 2.0
    assert str(empty_caches) in str(e.value)  # says where it looked


def test_env_var_and_library_cache_are_found(empty_caches, monkeypatch):
    f = empty_caches / "enc.th"
    f.write_bytes(b"x")
    monkeypatch.setenv("BENCH_WEIGHTS_ENCODEC", str(f))
    assert EncodecPublished().weights().present
    cache = empty_caches / ".cache" / "descript" / "dac" / "weights_16khz_8kbps_0.0.5.pth"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"x")
    st = DAC16kPublished().weights()
    assert st.present and "dac cache" in st.source
    assert not DAC44kPublished().weights().present
