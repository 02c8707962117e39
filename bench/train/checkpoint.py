"""Checkpoints as plain dicts of tensors (``torch.load(..., weights_only=True)`` safe), written atomically.

``ckpt.pt``: the export a codec plugin loads (config + generator weights + teacher identity).
``last.pt``: everything needed to resume (models, optimizers, schedulers, RNG states, step).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.atomic import atomic_path

FORMAT = "bench-codec-ckpt/1"


def save(path: str | Path, obj: dict[str, Any]) -> Path:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    return torch.load(path, map_location=map_location, weights_only=True)


def rng_state() -> dict[str, Any]:
    st = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state()
    return st


def set_rng_state(st: dict[str, Any]) -> None:
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state(st["cuda"])


def export(family: str, config: dict, generator: dict, step: int, teacher: str | None,
           data: dict | None = None) -> dict[str, Any]:
    """``data``: which manifest trained it (path, sha256): the run folder is named by config alone."""
    return {"format": FORMAT, "family": family, "config": config, "generator": generator, "step": step,
            "teacher": teacher, "data": data or {}}


def manifest_identity(manifest: str | Path) -> dict[str, str]:
    import hashlib

    return {"manifest": str(manifest), "sha256": hashlib.sha256(Path(manifest).read_bytes()).hexdigest()[:16]}
