"""EnCodec / DAC / SpeechTokenizer trained here: configs, the shared trainer hook, and loading back."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("encodec")
pytest.importorskip("dac")
pytest.importorskip("speechtokenizer")

from bench.codecs import get_codec  # noqa: E402
from bench.codecs.peer_here import FAMILIES, PeerConfig, load_peer_config  # noqa: E402
from bench.codecs.xcodec.config import load_config as load_xcodec  # noqa: E402
from bench.config import from_dict, to_dict  # noqa: E402

NAMES = {"encodec": "encodec@here", "dac": "dac@here", "speechtokenizer": "speechtokenizer@here"}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _shapes(model) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("preset", ["smoke", "small", "paper"])
def test_shared_sections_come_from_xcodec(family, preset):
    cfg = load_peer_config(family, preset)
    x = load_xcodec(preset)
    assert cfg.train == x.train  # same steps, batch, segment, lr, seed as X-Codec's preset
    assert to_dict(cfg.disc) == to_dict(x.disc)
    if family == "speechtokenizer":
        assert (cfg.teacher, cfg.teacher_dim) == (x.teacher, x.teacher_dim)  # the same teacher
    else:
        assert cfg.teacher is None
    if preset != "paper":
        assert cfg.n_q == x.quantizer.n_q  # same token depth as X-Codec at smoke/small


def test_overrides_apply_last():
    cfg = load_peer_config("dac", "smoke", ["train.steps=7", "model.n_codebooks=2"])
    assert cfg.train.steps == 7 and cfg.n_q == 2


@pytest.mark.parametrize("family", ["encodec", "speechtokenizer"])
def test_preset_scales_the_ema_codebook_settings(family):
    """A preset may set the EMA codebooks' decay, k-means iterations and dead-code threshold in both
    EMA families (SpeechTokenizer's constructor does not take them; they are set on its codebooks)."""
    from bench.codecs.peer_train import build_library_model

    default = build_library_model(load_peer_config(family, "smoke")).quantizer.vq.layers[0]._codebook
    assert (default.decay, default.kmeans_iters, default.threshold_ema_dead_code) == (0.99, 50, 2)  # library's
    cfg = load_peer_config(family, "smoke", ["model.decay=0.9", "model.kmeans_iters=5",
                                             "model.threshold_ema_dead_code=0.5"])
    layers = build_library_model(cfg).quantizer.vq.layers
    assert len(layers) == cfg.n_q
    assert {(cb._codebook.decay, cb._codebook.kmeans_iters, cb._codebook.threshold_ema_dead_code)
            for cb in layers} == {(0.9, 5, 0.5)}


def test_paper_presets_are_the_published_architectures():
    import dac
    from encodec import EncodecModel
    from speechtokenizer.model import SpeechTokenizer

    from bench.codecs.peer_train import build_library_model
    from bench.codecs.speechtokenizer import published_config

    with torch.device("meta"):  # shapes only: no memory, no init cost
        enc = load_peer_config("encodec", "paper")
        assert _shapes(build_library_model(enc)) == _shapes(EncodecModel.encodec_model_24khz(pretrained=False))
        assert enc.n_q == 32 and enc.sample_rate == 24000
        d = load_peer_config("dac", "paper")
        ref = dac.DAC(sample_rate=16000, encoder_rates=[2, 4, 5, 8], decoder_rates=[8, 5, 4, 2], n_codebooks=12)
        assert _shapes(build_library_model(d)) == _shapes(ref)
        st = load_peer_config("speechtokenizer", "paper")
        ref_cfg = {**published_config(), "semantic_dimension": st.teacher_dim}
        assert _shapes(build_library_model(st)) == _shapes(SpeechTokenizer(ref_cfg))


@pytest.mark.parametrize("family", FAMILIES)
def test_untrained_plugin_says_how_to_train(family):
    c = get_codec(NAMES[family], preset="smoke")
    w = c.weights()
    assert w.origin == "trained-here" and not w.present
    assert f"bench train-codec {NAMES[family]} --preset smoke" in w.detail
    cfg = load_peer_config(family, "smoke")
    assert (c.sample_rate, c.n_codebooks, c.frame_rate) == (cfg.sample_rate, cfg.n_q, cfg.sample_rate / cfg.hop_length)


def test_speechtokenizer_distills_rvq1_toward_teacher():
    from bench.codecs.peer_train import build_generator

    cfg = from_dict(PeerConfig, to_dict(load_peer_config("speechtokenizer", "smoke")))
    gen = build_generator(cfg).train()
    wav = 0.1 * torch.randn(2, 1, 3200)
    teacher = torch.randn(2, cfg.teacher_dim, 10)
    out = gen(wav, {"teacher": teacher})
    assert out["audio"].shape == wav.shape
    assert set(out) >= {"vq/commitment", "sem/distill"}
    out["sem/distill"].backward()
    assert gen.model.encoder.model[0].conv.conv.weight_v.grad.abs().sum() > 0  # reaches the encoder


@pytest.fixture
def tiny_manifest(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(0)
    rows = []
    (tmp_path / "audio").mkdir()
    for i in range(3):
        t = np.arange(8000) / 16000
        x = 0.3 * np.sin(2 * np.pi * (200 + 100 * i) * t) + 0.01 * rng.standard_normal(8000)
        sf.write(tmp_path / "audio" / f"{i}.wav", x.astype(np.float32), 16000)
        rows.append({"id": f"c{i}", "path": f"audio/{i}.wav", "duration": 0.5, "sr": 16000, "split": "train"})
    m = tmp_path / "manifest.jsonl"
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return m


TINY = ["train.steps=2", "train.batch_size=2", "train.segment_seconds=0.2", "train.disc_start=1",
        "train.ckpt_every=2", "train.log_every=1"]
SHRINK = {"encodec": ["model.n_filters=2", "model.dimension=8"],
          "dac": ["model.encoder_dim=2", "model.decoder_dim=16"],
          "speechtokenizer": ["model.n_filters=2", "model.dimension=32"]}


@pytest.mark.parametrize("family", FAMILIES)
def test_shared_trainer_trains_and_plugin_loads_it(family, tiny_manifest, tmp_path):
    from bench.codecs import CODECS
    from bench.codecs.library import fit_length
    from bench.config import config_hash
    from bench.train.loop import run_dir, train

    name = NAMES[family]
    trainable, cfg_dict = CODECS.get(name).trainable("smoke", TINY + SHRINK[family], load_teacher=False)
    out = run_dir(name, "smoke", config_hash(cfg_dict), tmp_path / "data")
    state = train(trainable, tiny_manifest, out, cfg_dict, progress=False)
    assert state.step == 2 and (out / "ckpt.pt").is_file()
    logged = state.history[-1]
    assert all(np.isfinite(v) for v in logged.values())
    assert "adv/g" in logged and "vq/commitment" in logged

    codec = get_codec(name, preset="smoke", data_dir=tmp_path / "data")
    assert codec.weights().present and codec.n_codebooks == trainable.cfg.n_q
    x = 0.1 * torch.randn(1, 1, codec.sample_rate // 4)
    codes = codec.encode(x)
    assert codes.shape == (1, codec.n_codebooks, codec.n_frames(x.shape[-1])) and codes.dtype == torch.int64
    wav = codec.decode(codes[:, :1])
    assert wav.shape == (1, 1, codes.shape[-1] * codec.hop_length)
    # the plugin's model is the library's own module, and its codes are the library's own
    lib = codec.model
    with torch.no_grad():
        if family == "dac":
            ref = lib.encode(lib.preprocess(x, lib.sample_rate))[1]
        elif family == "speechtokenizer":
            ref = lib.encode(x).permute(1, 0, 2)
        else:
            lib.set_target_bandwidth(max(lib.target_bandwidths))
            ref = lib.encode(x)[0][0]
    assert torch.equal(codes, ref)
    assert fit_length(wav, 10).shape[-1] == 10


def test_vq_reinit_reruns_the_librarys_kmeans_at_listed_steps(monkeypatch):
    import encodec.quantization.core_vq as core_vq

    from bench.codecs.peer_train import build_generator

    calls = []
    real = core_vq.kmeans
    monkeypatch.setattr(core_vq, "kmeans", lambda *a, **k: calls.append(1) or real(*a, **k))
    cfg = load_peer_config("encodec", "smoke", ["vq_reinit=[2]", *SHRINK["encodec"], "model.target_bandwidths=[3.0]"])
    gen = build_generator(cfg).train()
    per_step = []
    for _ in range(4):
        n = len(calls)
        gen(0.1 * torch.randn(1, 1, 2400), {})
        per_step.append(len(calls) - n)
    assert per_step == [cfg.n_q, 0, cfg.n_q, 0]  # first batch (the library's own init), then step 2 only
    assert int(gen.steps) == 4 and "steps" in gen.state_dict()  # the count resumes with the checkpoint


def test_kmeans_init_keeps_the_ema_invariant_with_small_batches():
    from bench.codecs.peer_train import build_generator

    cfg = load_peer_config("encodec", "smoke", [*SHRINK["encodec"], "model.target_bandwidths=[1.5]"])
    gen = build_generator(cfg).train()
    x = 0.1 * torch.randn(1, 1, 24000)  # 75 frames for 1024 codes: most k-means clusters stay empty
    latent = gen.model.encoder(x).detach()
    for _ in range(3):
        gen(x, {})
    cb = gen.model.quantizer.vq.layers[0]._codebook
    # without the guard the library's first EMA step divides empty clusters by ~1e-5 (codes explode)
    assert cb.embed.abs().max() < 10 * latent.abs().max()
    torch.testing.assert_close(cb.embed_avg / cb.cluster_size.clamp(min=1e-5)[:, None], cb.embed, rtol=0.05, atol=1e-3)


@pytest.mark.parametrize("guarded", [True, False])
@pytest.mark.parametrize("module", ["encodec.quantization.core_vq", "speechtokenizer.quantization.core_vq"])
def test_dead_code_restart_survives_the_ema_step(module, guarded):
    """The library's restart overwrites ``embed`` only and its EMA step undoes it at once; with the guard,
    codes restarted on a batch stay on that batch's vectors and the next batch uses them. Without it, when
    the latents move (the encoder trains), every frame keeps falling into the one nearest stale code."""
    import importlib

    from bench.codecs.peer_train import _guard_dead_code_restart, _guard_kmeans_init

    torch.manual_seed(0)
    cb = importlib.import_module(module).EuclideanCodebook(dim=4, codebook_size=64, kmeans_init=True, kmeans_iters=2)
    _guard_kmeans_init(cb)
    if guarded:
        _guard_dead_code_restart(cb)
    cb.train()
    cb(torch.randn(32, 4))  # k-means init on fewer frames than codes (as in the smoke preset)
    moved = torch.randn(64, 4) + 5.0  # the latents moved away from every code
    cb(moved)  # dead codes (EMA count < 2) restart on these vectors
    _, codes = cb(moved)
    used = codes.unique().numel()
    assert used >= 16 if guarded else used <= 2
