"""X-Codec model: shapes, frame rate, codes, decoding with 1..n_q, the semantic path and its absence."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from bench.codecs.xcodec.config import load_config  # noqa: E402
from bench.codecs.xcodec.model import XCodecModel  # noqa: E402

torch.set_num_threads(1)


def _model(preset: str, semantic: bool = True, **over):
    cfg = load_config(preset, [f"{k}={v}" for k, v in over.items()], semantic=semantic)
    torch.manual_seed(0)
    return cfg, XCodecModel(cfg)


def _teacher(cfg, b: int, frames: int):
    return torch.randn(b, cfg.teacher_dim, frames)


@pytest.mark.parametrize("preset", ["smoke", "small"])
def test_shapes_and_frame_rate(preset):
    cfg, m = _model(preset)
    assert cfg.sample_rate == 16000 and cfg.hop_length == 320 and cfg.frame_rate == 50.0
    wav = torch.randn(2, 1, 16000) * 0.1
    m.train()
    out = m(wav, {"teacher": _teacher(cfg, 2, 50)}, n_q=cfg.quantizer.n_q)
    assert out["audio"].shape == (2, 1, 16000)
    assert out["codes"].shape == (2, cfg.quantizer.n_q, 50)
    assert {"vq/commitment", "sem/mse"} <= set(out)


def test_paper_preset_published_sizes():
    cfg = load_config("paper")
    assert (cfg.sample_rate, cfg.hop_length, cfg.frame_rate) == (16000, 320, 50.0)
    assert (cfg.quantizer.n_q, cfg.quantizer.codebook_size) == (8, 1024)
    assert (cfg.latent_dim, cfg.sem_dim, cfg.fused_dim, cfg.dec_dim) == (256, 768, 1024, 1024)
    assert cfg.dropout_n_q == (1, 2, 3, 4, 8)
    m = XCodecModel(cfg)
    assert m.quantizer.layers[0].embed.shape == (1024, 1024)
    m.eval()
    codes = m.encode(torch.randn(1, 1, 640) * 0.1, _teacher(cfg, 1, 2), 8)
    assert codes.shape == (1, 8, 2)


def test_codes_range_and_decode_every_prefix():
    cfg, m = _model("smoke")
    wav, teacher = torch.randn(1, 1, 8000) * 0.1, _teacher(cfg, 1, 25)
    m.train()
    m(wav, {"teacher": teacher})  # k-means init of the codebooks
    m.eval()
    n_q = cfg.quantizer.n_q
    codes = m.encode(wav, teacher, n_q)
    assert codes.dtype == torch.int64 and codes.shape == (1, n_q, 25)
    assert int(codes.min()) >= 0 and int(codes.max()) < 1024
    prev = None
    for k in range(1, n_q + 1):
        y = m.decode(codes[:, :k])
        assert y.shape == (1, 1, 8000) and torch.isfinite(y).all()
        if prev is not None:
            assert not torch.equal(y, prev)  # each extra codebook changes the output
        prev = y
    # a prefix of the full codes equals encoding with fewer codebooks (residual structure)
    assert torch.equal(m.encode(wav, teacher, 2), codes[:, :2])


def test_semantic_gradients_and_twin_has_no_semantic_params():
    cfg, m = _model("smoke")
    wav = torch.randn(2, 1, 6400) * 0.1
    m.train()
    out = m(wav, {"teacher": _teacher(cfg, 2, 20)})
    (out["audio"].pow(2).mean() + out["sem/mse"]).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.sem_encoder.parameters())
    _, twin = _model("smoke", semantic=False)
    names = [n for n, _ in twin.named_parameters()] + [n for n, _ in twin.named_buffers()]
    assert not any("sem" in n for n in names)
    assert twin.quantizer.layers[0].embed.shape[1] == cfg.latent_dim
    out = twin(wav)
    assert "sem/mse" not in out
    assert sum(p.numel() for p in twin.parameters()) < sum(p.numel() for p in m.parameters())


def test_semantic_path_requires_teacher():
    _, m = _model("smoke")
    with pytest.raises(ValueError, match="teacher"):
        m(torch.randn(1, 1, 3200))


def test_tiny_overfit_reconstruction_and_semantic_losses_fall():
    from bench.codecs.xcodec.trainable import XCodecTrainable

    cfg = load_config("smoke", ["quantizer.dropout_n_q=[4]"])
    tr = XCodecTrainable(cfg, load_teacher=False)
    torch.manual_seed(0)
    m = tr.build_generator().train()
    t = torch.linspace(0, 0.4, 6400)
    wav = (0.3 * torch.sin(2 * torch.pi * 220 * t) * torch.sin(2 * torch.pi * 3 * t))[None, None]
    teacher = torch.randn(1, cfg.teacher_dim, 20).cumsum(-1) / 5  # smooth, learnable targets
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    first = last = None
    for _ in range(40):
        out = m(wav, {"teacher": teacher})
        losses = {**out, **tr.generator_losses(wav, out, None, adversarial=False)}
        total = sum(tr.loss_weights[k] * v for k, v in losses.items() if k in tr.loss_weights)
        opt.zero_grad()
        total.backward()
        opt.step()
        vals = (float(losses["rec/stft"]), float(losses["sem/mse"]))
        first = first or vals
        last = vals
    assert last[0] < 0.8 * first[0], (first, last)
    assert last[1] < 0.5 * first[1], (first, last)
