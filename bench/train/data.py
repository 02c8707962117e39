"""Training segments from a manifest: utterances held in memory, batches a pure function of the step.

Batch ``s`` on rank ``r`` is drawn from a generator seeded by ``(seed, s, r)``, so the data-iterator
position *is* the step count: resuming at step ``s`` continues exactly where a killed run stopped.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from bench.train.teacher import Teacher, cached_features


class SegmentData:
    def __init__(self, manifest: str | Path, split: str, sample_rate: int, hop: int, segment_seconds: float,
                 teacher: Teacher | None = None, cache_dir: Path | None = None, show_progress: bool = True) -> None:
        from bench.audio import load
        from bench.data.manifest import read_manifest

        manifest = Path(manifest)
        rows = [r for r in read_manifest(manifest) if r.get("split", "train") == split]
        if not rows:
            raise ValueError(f"{manifest}: no clips in split {split!r}")
        self.hop = hop
        self.seg_frames = max(1, int(round(segment_seconds * sample_rate / hop)))
        self.seg = self.seg_frames * hop
        self.wavs: list[np.ndarray] = []
        self.feats: list[np.ndarray] | None = [] if teacher is not None else None
        desc = f"loading {split} audio" + (f" + {teacher.identity} features" if teacher else "")
        for r in tqdm(rows, desc=desc, disable=not show_progress, leave=False):
            x, _ = load(manifest.parent / r["path"], sr=sample_rate, checks=None)
            n_frames = math.ceil(len(x) / hop)
            x = np.pad(x, (0, n_frames * hop - len(x)))
            self.wavs.append(x)
            if teacher is not None:
                self.feats.append(cached_features(teacher, x, sample_rate, n_frames, cache_dir))
        self.ids = [r["id"] for r in rows]

    def __len__(self) -> int:
        return len(self.wavs)

    def batch(self, step: int, batch_size: int, seed: int, rank: int = 0) -> dict[str, torch.Tensor]:
        g = np.random.default_rng([seed, step, rank])
        wavs, feats = [], []
        for i in g.integers(0, len(self.wavs), batch_size):
            x = self.wavs[i]
            n_frames = len(x) // self.hop
            start = int(g.integers(0, max(n_frames - self.seg_frames, 0) + 1))
            w = x[start * self.hop : start * self.hop + self.seg]
            wavs.append(np.pad(w, (0, self.seg - len(w))))
            if self.feats is not None:
                f = self.feats[i][:, start : start + self.seg_frames].astype(np.float32)
                feats.append(np.pad(f, ((0, 0), (0, self.seg_frames - f.shape[1]))))
        out = {"wav": torch.from_numpy(np.stack(wavs))[:, None]}
        if feats:
            out["teacher"] = torch.from_numpy(np.stack(feats))
        return out
