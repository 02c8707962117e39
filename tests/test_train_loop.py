"""The shared trainer: resume after a kill is exact, checkpoints are weights_only-safe, teacher cache, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench.codecs.xcodec.config import load_config  # noqa: E402
from bench.codecs.xcodec.trainable import XCodecTrainable  # noqa: E402
from bench.config import to_dict  # noqa: E402
from bench.train import checkpoint as ck  # noqa: E402
from bench.train.loop import train  # noqa: E402
from bench.train.teacher import Teacher  # noqa: E402

torch.set_num_threads(1)
TINY = ["train.steps=6", "train.ckpt_every=3", "train.batch_size=2", "train.segment_seconds=0.2",
        "train.disc_start=2", "train.log_every=1", "enc_dim=4", "latent_dim=8", "dec_dim=16", "sem_dim=8",
        "quantizer.codebook_size=16", "disc.filters=4", "disc.n_ffts=[128,64]", "stft_windows=[128,64]",
        "mel_windows=[128]", "n_mels=16"]


def make_manifest(root: Path, n: int = 4, seconds: float = 0.5) -> Path:
    from bench.audio import write

    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        t = np.arange(int(16000 * seconds)) / 16000
        x = 0.3 * np.sin(2 * np.pi * (150 + 60 * i) * t) + 0.02 * rng.standard_normal(len(t))
        write(root / "audio" / f"c{i}.flac", x.astype(np.float32), 16000)
        rows.append({"id": f"c{i}", "path": f"audio/c{i}.flac", "duration": seconds, "sr": 16000,
                     "split": "train" if i < n - 1 else "test", "text": "a test clip"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root / "manifest.jsonl"


class FakeTeacher(Teacher):
    identity = "fake-teacher"
    dim = 6

    def __init__(self) -> None:
        self.calls = 0

    def features(self, wav, sr, n_frames):
        self.calls += 1
        frames = wav[: n_frames * 320].reshape(n_frames, 320)
        return np.stack([frames.mean(1) * (k + 1) for k in range(self.dim)])


def _trainable(semantic: bool, extra=()):
    cfg = load_config("smoke", [*TINY, *extra], semantic=semantic)
    tr = XCodecTrainable(cfg, load_teacher=False)
    if semantic:
        tr.teacher = FakeTeacher()
    return tr, to_dict(cfg)


@pytest.mark.parametrize("semantic", [False, True])
def test_resume_after_kill_gives_identical_weights(tmp_path, semantic):
    manifest = make_manifest(tmp_path / "data")
    extra = ["teacher_dim=6"] if semantic else []
    tr, cfg = _trainable(semantic, extra)
    straight = train(tr, manifest, tmp_path / "a", cfg, cache_dir=tmp_path / "cache", progress=False)
    tr, cfg = _trainable(semantic, extra)
    train(tr, manifest, tmp_path / "b", cfg, cache_dir=tmp_path / "cache", stop_after=3, progress=False)
    assert ck.load(tmp_path / "b" / "last.pt")["step"] == 3
    tr, cfg = _trainable(semantic, extra)  # a fresh process would rebuild everything
    resumed = train(tr, manifest, tmp_path / "b", cfg, cache_dir=tmp_path / "cache", progress=False)
    assert straight.step == resumed.step == 6
    a, b = ck.load(tmp_path / "a" / "last.pt"), ck.load(tmp_path / "b" / "last.pt")
    for part in ("generator", "discriminator"):
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k} differs after resume"
    assert a["opt_g"]["state"].keys() == b["opt_g"]["state"].keys()
    # the adversarial phase ran (disc_start=2) and losses were logged
    assert any("adv/d" in h for h in straight.history)
    # a finished run is a no-op
    again = train(*_trainable(semantic, extra)[:1], manifest, tmp_path / "a", cfg, progress=False)
    assert again.step == 6 and again.history == []


def test_kill_between_last_step_and_export_is_finished_by_the_rerun(tmp_path):
    """Kill point "codec last step": last.pt at the final step, no ckpt.pt. The rerun writes the export
    (the same weights a straight run exports) instead of exiting with the codec still absent."""
    manifest = make_manifest(tmp_path / "data")
    tr, cfg = _trainable(False)
    train(tr, manifest, tmp_path / "a", cfg, progress=False)
    train(*_trainable(False)[:1], manifest, tmp_path / "b", cfg, progress=False)
    (tmp_path / "b" / "ckpt.pt").unlink()  # what a kill after last.pt's write leaves
    again = train(*_trainable(False)[:1], manifest, tmp_path / "b", cfg, progress=False)
    assert again.history == []  # nothing retrained
    a, b = ck.load(tmp_path / "a" / "ckpt.pt"), ck.load(tmp_path / "b" / "ckpt.pt")
    assert a["step"] == b["step"] == 6 and a["config"] == b["config"] and a["data"] == b["data"]
    for k in a["generator"]:
        assert torch.equal(a["generator"][k], b["generator"][k]), k


def test_checkpoints_load_weights_only_and_carry_config(tmp_path):
    manifest = make_manifest(tmp_path / "data")
    tr, cfg = _trainable(False)
    train(tr, manifest, tmp_path / "run", cfg, progress=False)
    exp = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=True)
    assert exp["format"] == ck.FORMAT and exp["family"] == "xcodec" and exp["step"] == 6
    assert exp["config"] == cfg and exp["teacher"] is None
    assert exp["data"]["manifest"] == str(manifest) and len(exp["data"]["sha256"]) == 16
    torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert (tmp_path / "run" / "config.yaml").is_file()
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "run" / "tb").iterdir())


def test_teacher_features_cached_per_utterance(tmp_path):
    from bench.train.data import SegmentData

    manifest = make_manifest(tmp_path / "data")
    t = FakeTeacher()
    d1 = SegmentData(manifest, "train", 16000, 320, 0.2, t, tmp_path / "cache", show_progress=False)
    assert t.calls == 3
    SegmentData(manifest, "train", 16000, 320, 0.2, t, tmp_path / "cache", show_progress=False)
    assert t.calls == 3  # second build read the cache
    b = d1.batch(step=5, batch_size=2, seed=0)
    assert b["wav"].shape == (2, 1, 3200) and b["teacher"].shape == (2, 6, 10)
    assert torch.equal(d1.batch(5, 2, 0)["wav"], b["wav"])  # batches are a function of the step
    assert not torch.equal(d1.batch(6, 2, 0)["wav"], b["wav"])


def test_trained_checkpoint_loads_by_name(tmp_path, monkeypatch):
    from bench.codecs import get_codec
    from bench.train.run import train_codec

    manifest = make_manifest(tmp_path / "data")
    out = train_codec("xcodec-acoustic", "smoke", TINY, data_dir=tmp_path / "root", manifest=manifest,
                      progress=False)
    assert out.parent == tmp_path / "root" / "codecs" / "xcodec-acoustic"
    codec = get_codec("xcodec-acoustic", data_dir=tmp_path / "root")  # no preset: the newest trained run
    w = codec.weights()
    assert w.present and w.origin == "trained-here" and w.teacher is None and codec.preset == "smoke"
    codes = codec.encode(torch.randn(1, 1, 3200) * 0.1)
    assert codes.shape == (1, 4, 10) and codes.dtype == torch.int64 and int(codes.max()) < 16
    assert codec.decode(codes[:, :1]).shape == (1, 1, 3200)
    assert not get_codec("xcodec", preset="smoke", data_dir=tmp_path / "root").weights().present


def test_a_run_never_takes_another_config_s_codec(tmp_path):
    """A codec trained with overrides is the newest run of its preset (what a listing shows), but a task run
    of the preset must use the preset's own config: it refuses the other run, naming both."""
    from bench.codecs import WeightsUnavailable, get_codec
    from bench.tasks.codec_setup import load_codec
    from bench.train.run import train_codec

    out = train_codec("xcodec-acoustic", "smoke", TINY, data_dir=tmp_path / "root",
                      manifest=make_manifest(tmp_path / "data"), progress=False)
    codec = get_codec("xcodec-acoustic", preset="smoke", data_dir=tmp_path / "root")
    assert codec.weights().present and codec.weights().source == out.name != codec.own_run()
    with pytest.raises(WeightsUnavailable, match=f"only {out.name} is trained.*{codec.own_run()}"):
        load_codec("xcodec-acoustic", "smoke", data_dir=tmp_path / "root", train_missing=False, log=lambda m: None)


def test_plugin_import_is_cheap():
    code = ("import sys; import bench.codecs.xcodec.plugin as p; c = p.XCodec(preset='smoke'); "
            "c.summary(); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # several seconds (issue #14: the default suite stays fast); CI runs it
def test_ddp_two_cpu_processes(tmp_path):
    """torchrun with 2 gloo processes (~10 s here): both train in lockstep and rank 0 writes the run."""
    manifest = make_manifest(tmp_path / "data")
    args = [a for s in ["train.steps=2", "train.ckpt_every=2", *TINY[2:]] for a in ("--set", s)]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
           "-m", "bench.train.ddp", "xcodec-acoustic", "--preset", "smoke", "--manifest", str(manifest),
           "--data-dir", str(tmp_path / "root"), *args]
    subprocess.run(cmd, check=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    runs = list((tmp_path / "root" / "codecs" / "xcodec-acoustic").glob("smoke-*/ckpt.pt"))
    assert len(runs) == 1 and ck.load(runs[0])["step"] == 2


def test_time_budget_stops_with_a_checkpoint_and_resumes(tmp_path):
    manifest = make_manifest(tmp_path / "data")
    tr, cfg = _trainable(False, ["train.max_minutes=1e-9"])
    st = train(tr, manifest, tmp_path / "run", cfg, progress=False)
    assert st.step == 0 and ck.load(tmp_path / "run" / "last.pt")["step"] == 0
    tr, cfg = _trainable(False)
    assert train(tr, manifest, tmp_path / "run", cfg, progress=False).step == 6


def test_a_misspelt_loss_weight_is_refused():
    import torch

    from bench.train.loop import check_loss_weights

    losses = {"rec/mel": torch.tensor(1.0), "vq/commitment": torch.tensor(0.1)}
    check_loss_weights({"rec/mel": 1.0, "vq/commitment": 1.0, "adv/g": 1.0, "rec/l1": 0.0}, losses, False)
    with pytest.raises(ValueError, match="rec/mell"):
        check_loss_weights({"rec/mell": 1.0}, losses, False)
    with pytest.raises(ValueError, match="adv/g"):  # once the discriminator is on, its losses must exist
        check_loss_weights({"adv/g": 1.0}, losses, True)
