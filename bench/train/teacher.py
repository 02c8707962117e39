"""Frozen frame-level teachers (semantic distillation targets) and their per-utterance cache.

A teacher maps one mono utterance at its codec's sample rate to features [D, F] with F = the
codec's frames for that utterance. Features are computed once per utterance and cached on disk by
(teacher identity, audio content hash), so training never runs the teacher twice on the same clip.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np


class TeacherUnavailable(RuntimeError):
    """The teacher's weights are not present here; the message says how to get them."""


class Teacher(ABC):
    identity: str = ""  # names the cache folder and is stamped on checkpoints
    dim: int = 0

    @abstractmethod
    def features(self, wav: np.ndarray, sr: int, n_frames: int) -> np.ndarray:
        """wav [T] float32 -> float32 [dim, n_frames] (frozen, no gradient)."""


def audio_hash(wav: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(wav, dtype=np.float32).tobytes()).hexdigest()[:20]


def cached_features(teacher: Teacher, wav: np.ndarray, sr: int, n_frames: int, cache_dir: Path) -> np.ndarray:
    """Features for one utterance, from ``cache_dir/<identity>/<hash>-<frames>.npy`` when present."""
    from bench.atomic import atomic_path

    path = Path(cache_dir) / teacher.identity.replace("/", "_") / f"{audio_hash(wav)}-{n_frames}.npy"
    if path.is_file():
        return np.load(path)
    feats = np.asarray(teacher.features(wav, sr, n_frames), dtype=np.float16)
    if feats.shape[1] != n_frames:
        raise ValueError(f"teacher {teacher.identity} returned {feats.shape[1]} frames, expected {n_frames}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, feats)
    return feats
