"""A codec's identity (the token cache's key, ``codec_facts.codec_id`` in records) is its weights' content."""

from __future__ import annotations

from pathlib import Path

import torch

from bench.tasks.tokens import weights_digest
from bench.train import checkpoint as ck


def _export(path: Path, manifest: str, bias: float = 0.0) -> Path:
    gen = {"w": torch.arange(6, dtype=torch.float32).view(2, 3), "b": torch.full((3,), bias)}
    return ck.save(path, ck.export("xcodec", {"n_q": 4}, gen, 30, "whisper-tiny.en", {"manifest": manifest}))


def test_same_weights_in_two_data_dirs_get_one_identity(tmp_path):
    a = _export(tmp_path / "run1" / "ckpt.pt", "/tmp/replica1/data/manifest.jsonl")
    b = _export(tmp_path / "run2" / "ckpt.pt", "/tmp/replica2/data/manifest.jsonl")
    assert a.read_bytes() != b.read_bytes()  # torch names the zip's records after the (temp) file
    assert weights_digest(a) == weights_digest(b)


def test_other_weights_or_config_change_the_identity(tmp_path):
    base = weights_digest(_export(tmp_path / "a.pt", "m"))
    assert weights_digest(_export(tmp_path / "b.pt", "m", bias=1e-6)) != base
    ck.save(tmp_path / "c.pt", ck.export("xcodec", {"n_q": 8}, {"w": torch.arange(6, dtype=torch.float32).view(2, 3),
                                                                 "b": torch.zeros(3)}, 30, "whisper-tiny.en"))
    assert weights_digest(tmp_path / "c.pt") != base


def test_foreign_files_hash_their_bytes(tmp_path):
    p = tmp_path / "weights.pth"
    p.write_bytes(b"not a bench checkpoint")
    q = tmp_path / "other.pt"
    torch.save({"state": torch.ones(2)}, q)
    assert weights_digest(p) != weights_digest(q)
    assert len(weights_digest(q)) == 16
