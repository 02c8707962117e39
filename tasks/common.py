"""The run context every task hook receives (config, manifest rows, token cache, vocabulary, run folder).

The hooks themselves are the protocol in :mod:`bench.tasks.base`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.tasks.base import Task
from bench.tasks.config import TaskConfig
from bench.tasks.lm.text import Vocab
from bench.tasks.tokens import TokenCache


@dataclass
class Context:
    cfg: TaskConfig
    rows: list[dict]  # the manifest
    manifest: Path
    cache: TokenCache
    run_dir: Path
    codebook_size: int
    vocab: Vocab | None = None
    text_field: str | None = None  # the manifest field ``vocab`` was built from (LMTask.text_spec)
    by_id: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {r["id"]: r for r in self.rows}

    @property
    def frame_rate(self) -> float:
        return self.cache.frame_rate

    def frames(self, seconds: float) -> int:
        return max(1, round(seconds * self.frame_rate))

    def split(self, name: str) -> list[dict]:
        return [r for r in self.rows if r["split"] == name]

    def load_audio(self, row: dict, sr: int = 16000) -> np.ndarray:
        from bench.audio import load
        from bench.data.manifest import audio_path

        return load(audio_path(self.manifest, row), sr=sr, checks=None)[0]


# The task protocol lives in bench.tasks.base (abstract hooks + defaults); the old name stays for imports.
LMTask = Task
