"""The transformers-backed codecs (codecs/hf.py) against transformers' own calls (random init, offline).

Each model is built from its library config shrunk in width and depth (the figures a plugin states, rate, hop,
codebooks and codebook size, are kept), given seeded random weights, saved with ``save_pretrained`` beside its
feature extractor (the published layout), and loaded back through the plugin's ``weights=`` path, so the
loader, the feature extraction, the encode and the decode all run. The references below are written out from
the modeling files, not taken from the plugin. Nothing here downloads: fetching is refused or stubbed.
"""

from __future__ import annotations

import copy
import re
import time
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("torchaudio")

from codec_checks import assert_bad_input_rejected  # noqa: E402

from bench.codecs import CODECS, WeightsUnavailable, get_codec  # noqa: E402
from bench.codecs import hf as hfc  # noqa: E402

PLUGINS: dict[str, type[hfc.HFCodec]] = {
    "xcodec-hf": hfc.XcodecHF, "mimi": hfc.MimiHF, "xcodec2": hfc.Xcodec2HF, "wavtokenizer": hfc.WavTokenizerHF,
    "higgs-audio-tokenizer": hfc.HiggsAudioTokenizer, "encodec-24khz-hf": hfc.EncodecHF, "dac-16khz-hf": hfc.DacHF,
}

_HUBERT = dict(model_type="hubert", hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
               conv_dim=[8] * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, mask_time_prob=0.0)
# name -> config fields that shrink the model (widths, depths); the plugin's published_config is applied first
SMALL: dict[str, dict[str, Any]] = {
    "xcodec-hf": dict(acoustic_model_config=dict(encoder_hidden_size=2, decoder_hidden_size=16, hidden_size=8),
                      semantic_model_config=_HUBERT),
    "higgs-audio-tokenizer": dict(acoustic_model_config=dict(encoder_hidden_size=2, decoder_hidden_size=64,
                                                             hidden_size=8),
                                  semantic_model_config=_HUBERT, codebook_dim=8),
    "mimi": dict(hidden_size=16, num_filters=2, num_hidden_layers=1, intermediate_size=32, num_attention_heads=2,
                 num_key_value_heads=2, codebook_dim=16, vector_quantization_hidden_dimension=16, upsample_groups=16),
    "xcodec2": dict(hidden_size=32, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                    num_key_value_heads=2, head_dim=16, encoder_hidden_size=1, quantization_dim=48,
                    semantic_model_config=dict(model_type="wav2vec2-bert", hidden_size=16, num_hidden_layers=1,
                                               num_attention_heads=2, intermediate_size=32,
                                               conv_depthwise_kernel_size=3)),
    "wavtokenizer": dict(num_filters=2, hidden_size=16, codebook_dim=16, num_lstm_layers=1, decoder_hidden_size=16,
                         decoder_intermediate_size=32, decoder_num_layers=1, decoder_attention_num_groups=4),
    "encodec-24khz-hf": dict(hidden_size=16, num_filters=2, num_lstm_layers=1),
    "dac-16khz-hf": dict(encoder_hidden_size=2, decoder_hidden_size=16, hidden_size=16),
}


# the library's own calls, from each modeling file: (encode(model, features, n_q), decode(model, codes))
REF: dict[str, tuple[Any, Any]] = {
    # X-Codec: 0.5 kbps per level at 50 Hz; bandwidths 0.5, 1, 1.5, 2, 4 -> 1, 2, 3, 4, 8 levels
    "xcodec-hf": (lambda m, f, n: m.encode(f["input_values"], bandwidth={8: 4, 5: 4, 3: 1.5}[n]).audio_codes[:, :n],
                  lambda m, c: m.decode(c).audio_values),
    # Higgs: 0.25 kbps per level at 25 Hz; bandwidths 0.5, 1, 1.5, 2 -> 2, 4, 6, 8 levels
    "higgs-audio-tokenizer": (lambda m, f, n: m.encode(f["input_values"], bandwidth={8: 2, 3: 1}[n])
                              .audio_codes[:, :n], lambda m, c: m.decode(c).audio_values),
    "mimi": (lambda m, f, n: m.encode(f["input_values"], f["padding_mask"], num_quantizers=n).audio_codes,
             lambda m, c: m.decode(c).audio_values),
    "xcodec2": (lambda m, f, n: m.encode(f["input_values"], f["input_features"], padding_mask=f["padding_mask"],
                                         input_features_mask=f["input_features_mask"]).audio_codes,
                lambda m, c: m.decode(audio_codes=c).audio_values),
    "wavtokenizer": (lambda m, f, n: m.encode(f["input_values"], padding_mask=f["padding_mask"]).audio_codes,
                     lambda m, c: m.decode(c).audio_values),
    # EnCodec: 0.75 kbps per level at 75 Hz; bandwidths 1.5 .. 24 -> 2, 4, 8, 16, 32 levels; codes [chunks, B, ..]
    "encodec-24khz-hf": (lambda m, f, n: m.encode(f["input_values"], f["padding_mask"], bandwidth={32: 24.0, 5: 6.0}[n])
                         .audio_codes[0][:, :n], lambda m, c: m.decode(c[None], [None]).audio_values),
    "dac-16khz-hf": (lambda m, f, n: m.encode(f["input_values"], n_quantizers=n).audio_codes[:, :n],
                     lambda m, c: m.decode(audio_codes=c).audio_values[:, None]),
}
N_Q = {"xcodec-hf": (8, 5, 3), "higgs-audio-tokenizer": (8, 3), "mimi": (32, 4), "encodec-24khz-hf": (32, 5),
       "dac-16khz-hf": (12, 4), "xcodec2": (1,), "wavtokenizer": (1,)}
AUDIO_ARG = {"xcodec2": "audio", "wavtokenizer": "audio"}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _audio(sr: int, seconds: float = 0.43, batch: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, 1, int(sr * seconds), generator=g)


def _features(name: str, fe, wav) -> dict:
    arg = AUDIO_ARG.get(name, "raw_audio")
    return dict(fe(**{arg: [x.numpy() for x in wav[:, 0]]}, sampling_rate=PLUGINS[name].rate, return_tensors="pt"))


def _spread_codebooks(model, encode_once) -> None:
    """Each Euclidean codebook takes its entries from the vectors it is first given (one pass, level by level):
    the libraries initialise them to zeros, which maps every frame to code 0 and makes a comparison vacuous.
    X-Codec 2's FSQ has no codebook: its input projection is rescaled so the levels are all used."""
    g = torch.Generator().manual_seed(0)
    patched = []
    for m in model.modules():
        bufs = dict(m.named_buffers(recurse=False))
        key = "embed_sum" if "embed_sum" in bufs else "embed" if "embed" in bufs else None
        if key is None or not hasattr(m, "quantize"):
            continue

        def first(x, m=m, key=key, orig=m.quantize):
            buf = getattr(m, key)
            pick = torch.randint(0, x.shape[0], (buf.shape[0],), generator=g)
            buf.copy_(x[pick] + 1e-3 * torch.randn(buf.shape, generator=g))
            if key == "embed_sum":  # Mimi: embed = embed_sum / cluster_usage (ones), cached
                m._embed = None
            return orig(x)

        m.quantize = first
        patched.append(m)
    fsq = getattr(getattr(model, "quantizer", None), "project_in", None)
    outs: list = []
    hook = fsq.register_forward_hook(lambda mod, i, o: outs.append(o)) if fsq is not None else None
    with torch.no_grad():
        encode_once()
        if hook is not None:
            hook.remove()
            fsq.weight.mul_(2 / outs[0].std())
            fsq.bias.mul_(2 / outs[0].std())
    for m in patched:
        del m.quantize


def _build(name: str, folder: Path):
    """A small random model of ``name``'s architecture and figures, saved in transformers' format with its feature
    extractor; returns (model, feature extractor)."""
    cls = PLUGINS[name]
    cfg = getattr(transformers, cls.config_class)(**_merge(cls.published_config, SMALL[name]))
    torch.manual_seed(0)
    model = getattr(transformers, cls.model_class)(cfg).eval()
    fe_cls, fe_kwargs = cls.feature_extractor
    fe = getattr(transformers, fe_cls)(**fe_kwargs)
    noise = _audio(cls.rate, seconds=0.4, seed=7)
    _spread_codebooks(model, lambda: REF[name][0](model, _features(name, fe, noise), cls.codebooks))
    model.save_pretrained(folder)
    fe.save_pretrained(folder)
    return model, fe


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache: dict[str, tuple[Any, Any, Path]] = {}

    def get(name: str):
        if name not in cache:
            folder = tmp_path_factory.mktemp(name)
            cache[name] = (*_build(name, folder), folder)
        return cache[name]

    return get


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """No weights anywhere, offline: an empty hub cache, no --weights, no $BENCH_WEIGHTS_*."""
    for cls in PLUGINS.values():
        monkeypatch.delenv(cls().weights_env, raising=False)
    for var in ("BENCH_ONLINE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path


# codes and audio against the library ------------------------------------------------------------------------
@pytest.mark.parametrize("name", PLUGINS)
def test_codes_equal_library_encode_and_decode_runs(built, name):
    model, fe, folder = built(name)
    codec = get_codec(name, weights=folder)
    assert codec.weights().present and codec.weights().detail == str(folder / "model.safetensors")
    x = _audio(codec.sample_rate)  # 0.43 s: not a multiple of any hop
    f = _features(name, fe, x)
    for n_q in N_Q[name]:
        codes = codec.encode(x, n_q=n_q)
        with torch.no_grad():
            ref = REF[name][0](model, f, n_q)
        assert codes.dtype == torch.int64 and codes.shape == (2, n_q, codec.n_frames(x.shape[-1])), codes.shape
        assert torch.equal(codes, ref.long())
        assert int(codes.min()) >= 0 and int(codes.max()) < codec.codebook_size
    assert len(codes.unique()) > 5  # spread codebooks: the comparison is not vacuous
    wav = codec.decode(codes)
    assert wav.shape == (2, 1, codes.shape[-1] * codec.hop_length) and wav.dtype == torch.float32
    with torch.no_grad():
        ref_wav = REF[name][1](model, codes)
    n = min(wav.shape[-1], ref_wav.shape[-1])
    assert n >= wav.shape[-1] - 8  # the library returns F * hop samples, DAC 8 fewer (padded with zeros here)
    torch.testing.assert_close(wav[..., :n], ref_wav[..., :n])


def test_prefix_levels_equal_a_smaller_bandwidth(built):
    """n_q = 3 of X-Codec's 8 levels equals the library's own 1.5 kbps encode (RVQ prefix consistency)."""
    model, fe, folder = built("xcodec-hf")
    codec = get_codec("xcodec-hf", weights=folder)
    x = _audio(16000, batch=1)
    with torch.no_grad():
        full = model.encode(_features("xcodec-hf", fe, x)["input_values"], bandwidth=4).audio_codes
    assert torch.equal(codec.encode(x, n_q=3), full[:, :3])


@pytest.mark.parametrize("name", PLUGINS)
def test_published_figures_are_the_library_configs(name):
    """What `bench codecs` lists without importing torch equals the library's config of the published model."""
    cls = PLUGINS[name]
    cfg = getattr(transformers, cls.config_class)(**cls.published_config)
    assert cls.figures(cfg) == cls.published_figures()
    codec = cls()
    if hasattr(cfg, "frame_rate"):  # Xcodec2 has none
        assert codec.frame_rate == cfg.frame_rate
    assert codec.n_codebooks == cls.figures(cfg)[2] and codec.codebook_size == cls.figures(cfg)[3]


@pytest.mark.parametrize("name", PLUGINS)
def test_repo_and_classes_are_the_ones_transformers_names(name):
    cls = PLUGINS[name]
    model_cls = getattr(transformers, cls.model_class)
    assert getattr(transformers, cls.config_class) is model_cls.config_class
    import inspect

    src = inspect.getsource(inspect.getmodule(model_cls)) + inspect.getsource(inspect.getmodule(model_cls.config_class))
    assert cls.repo_id in src  # the checkpoint its modeling or configuration file names


# weights: lookup order, offline refusal, wrong checkpoints ------------------------------------------------------
@pytest.mark.parametrize("name", PLUGINS)
def test_missing_weights_offline_raise_fast_with_the_fetch_command(no_weights, name):
    codec = get_codec(name)
    status = codec.weights()
    assert status.origin == "published" and not status.present
    assert f"bench weights fetch {name}" in status.detail and codec.weights_env in status.detail
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailable, match="not available here") as e:
        codec.encode(torch.zeros(1, 1, 4000))
    assert time.perf_counter() - t0 < 2.0
    assert f"bench weights fetch {name}" in str(e.value) and str(no_weights / "hub") in str(e.value)


def test_hub_cache_and_env_var_are_found(built, no_weights, monkeypatch):
    """The hub cache's snapshot (refs/main) is read like transformers reads it; $BENCH_WEIGHTS_<NAME> comes first."""
    model, fe, folder = built("mimi")
    snap = no_weights / "hub" / "models--kyutai--mimi" / "snapshots" / "abc123"
    snap.parent.mkdir(parents=True)
    snap.symlink_to(folder, target_is_directory=True)
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("abc123")
    codec = get_codec("mimi")
    w = codec.weights()
    assert w.present and "hub cache" in w.source and w.detail == str(snap / "model.safetensors")
    x = _audio(24000, batch=1)
    with torch.no_grad():
        ref = model.encode(_features("mimi", fe, x)["input_values"], num_quantizers=32).audio_codes
    assert torch.equal(codec.encode(x), ref)
    monkeypatch.setenv("BENCH_WEIGHTS_MIMI", str(folder / "model.safetensors"))  # a file: its folder is used
    assert "$BENCH_WEIGHTS_MIMI" in get_codec("mimi").weights().source


def test_a_checkpoint_of_another_model_or_other_figures_is_refused(built, tmp_path):
    _, _, folder = built("xcodec-hf")
    with pytest.raises(WeightsUnavailable, match=r"of XcodecConfig, not the published \(24000, 1920, 32, 2048\)"):
        get_codec("mimi", weights=folder).encode(torch.zeros(1, 1, 4000))
    transformers.XcodecConfig(target_bandwidths=[0.5, 1, 2]).save_pretrained(tmp_path)  # 4 levels, not 8
    with pytest.raises(WeightsUnavailable, match=r"figures .* \(16000, 320, 4, 1024\), not the published"):
        get_codec("xcodec-hf", weights=tmp_path).encode(torch.zeros(1, 1, 4000))


def test_a_folder_without_a_checkpoint_is_not_present(tmp_path):
    assert not get_codec("mimi", weights=tmp_path).weights().present


@pytest.mark.parametrize("name", ["mimi", "xcodec2"])
def test_stereo_int_and_too_many_levels_rejected_before_loading(no_weights, name):
    assert_bad_input_rejected(get_codec(name))


# precision ----------------------------------------------------------------------------------------------------
def test_precision_is_fp32_by_default_and_recorded(built):
    _, _, folder = built("mimi")
    assert get_codec("mimi").summary()["precision"] == "float32"
    bf = get_codec("mimi", weights=folder, precision="bfloat16")
    assert bf.summary()["precision"] == "bfloat16" and "bfloat16" in bf.weights().source
    assert get_codec("mimi", weights=folder).weights().source != bf.weights().source  # token caches stay apart
    codes = bf.encode(_audio(24000, batch=1), n_q=8)
    assert next(bf.model.parameters()).dtype == torch.bfloat16
    assert codes.dtype == torch.int64 and codes.shape == (1, 8, bf.n_frames(int(24000 * 0.43)))
    with pytest.raises(ValueError, match="precision"):
        get_codec("mimi", precision="int8")


# listing and the fetch verb -----------------------------------------------------------------------------------
def test_listing_rows_carry_licence_and_the_command_that_gets_the_weights(no_weights):
    from bench.listing import codec_rows

    rows = {r["name"]: r for r in codec_rows()}
    for name, cls in PLUGINS.items():
        r = rows[name]
        assert r["get"] == f"bench weights fetch {name}" and r["licence"] == cls.licence and not r["present"]
        assert (r["sample_rate"], r["n_codebooks"], r["codebook_size"]) == (cls.rate, cls.codebooks, cls.size)
    assert rows["xcodec"]["get"].startswith("bench train-codec xcodec")


def test_listing_the_transformers_codecs_imports_neither_torch_nor_transformers():
    import subprocess
    import sys

    code = ("import sys; from bench.codecs import get_codec; "
            f"[get_codec(n).summary() for n in {list(PLUGINS)!r}]; "
            "assert not {'torch', 'transformers'} & set(sys.modules), 'imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def _fetch(*args: str):
    from typer.testing import CliRunner

    from bench.cli import app

    return CliRunner().invoke(app, ["weights", "fetch", *args])


@pytest.fixture
def no_download(monkeypatch):
    import huggingface_hub

    def refuse(*a, **k):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)


def test_weights_fetch_refuses_offline_at_once(no_weights, no_download, monkeypatch):
    t0 = time.perf_counter()
    r = _fetch("mimi")
    assert r.exit_code == 2, r.output
    assert "error:" in r.output and "BENCH_ONLINE=1 bench weights fetch mimi" in r.output
    monkeypatch.setenv("BENCH_ONLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = _fetch("mimi")
    assert r.exit_code == 2 and "HF_HUB_OFFLINE" in r.output, r.output
    assert time.perf_counter() - t0 < 10


def test_weights_fetch_refuses_codecs_not_on_the_hub_and_unknown_names(no_weights, no_download):
    r = _fetch("dac-16khz")
    assert r.exit_code == 2 and "not a hub checkpoint" in r.output and "python -m dac download" in r.output
    r = _fetch("mimmi")
    assert r.exit_code == 2 and "mimi" in r.output


def test_weights_fetch_online_downloads_the_repo(no_weights, monkeypatch, tmp_path):
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo_id, local_dir=None: calls.append((repo_id, local_dir)) or str(tmp_path))
    monkeypatch.setenv("BENCH_ONLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    r = _fetch("xcodec2", "--to", str(tmp_path / "x2"))
    assert r.exit_code == 0, r.output
    assert calls == [("HKUSTAudio/xcodec2-hf", tmp_path / "x2")]


# the GUIDE's transformers recipe -------------------------------------------------------------------------------
def test_guide_transformers_recipe_loads_through_the_published_path(built):
    text = (Path(__file__).resolve().parent.parent / "docs" / "GUIDE.md").read_text(encoding="utf-8")
    start = text.index("## Adding a codec\n")
    body = text[start:text.find("\n## ", start + 1)]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", body, flags=re.S) if "bench.codecs.hf" in b]
    assert len(blocks) == 1
    exec(compile(blocks[0], "GUIDE.md:Adding a codec (transformers)", "exec"), {"__name__": "guide_hf"})  # noqa: S102
    model, fe, folder = built("xcodec-hf")
    codec = get_codec("xcodec-wavlm-mls", weights=folder)
    x = _audio(16000, batch=1)
    with torch.no_grad():
        ref = model.encode(_features("xcodec-hf", fe, x)["input_values"]).audio_codes
    assert torch.equal(codec.encode(x), ref) and "xcodec-wavlm-mls" in CODECS.names()
    assert codec.summary()["get"] == "bench weights fetch xcodec-wavlm-mls"
