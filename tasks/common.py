"""What the three LM tasks share: the run context and the hooks the runner calls.

A task says which models it trains (``shapes``), how a training batch looks (``objective``), which
test items it generates and how (``test_items``, ``generate``), and how outputs are scored
(``score``). Everything else (data, codec, tokens, training, decoding, records) is the runner's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

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


class LMTask(Task):
    text_field: ClassVar[str | None] = None  # manifest field the LM is conditioned on
    text_unit: ClassVar[str] = "char"
    variants: ClassVar[tuple[str, ...]] = ("lm",)  # decoded outputs scored separately
    # manifest field that clusters test items (speaker, piece, label): limited test sets take an equal share
    # of each group, and CIs resample groups before items
    group_field: ClassVar[str | None] = None

    def text_spec(self, cfg: TaskConfig) -> tuple[str | None, str]:
        """(manifest field the LM reads, token unit) under ``cfg``; the class's own unless a task lets the
        config choose (tts: ``data.tts_text``)."""
        return self.text_field, self.text_unit

    def shapes(self, cfg: TaskConfig) -> dict:
        raise NotImplementedError

    def objective(self, stage: str, ctx: Context):
        raise NotImplementedError

    def heldout(self, stage: str, ctx: Context):
        """The valid-split objective the trainer scores for ``stage`` (:mod:`bench.tasks.lm.heldout`); None: none."""
        return None

    def valid_candidates(self, ctx: Context) -> list[dict]:
        """Clips a held-out pass may score: the ``valid`` split, never train or test."""
        return ctx.split("valid")

    def valid_rows(self, ctx: Context) -> list[dict]:
        """The clips a held-out pass scores: ``train.val_items`` of the candidates (0 = all), stratified over
        ``group_field`` with a fixed seed, in manifest order; the same set for every codec."""
        from bench.data.subset import stratified

        return stratified(self.valid_candidates(ctx), ctx.cfg.train.val_items, self.group_field)

    def record_extra(self, ctx: Context) -> dict:
        """Facts every record of the run carries in ``extra`` (tts: the protocol that ran)."""
        return {}

    def test_candidates(self, ctx: Context) -> list[dict]:
        """Every test item the task could score, in manifest order."""
        raise NotImplementedError

    def test_items(self, ctx: Context) -> list[dict]:
        """The scored items: all candidates, or ``data.max_test_items`` of them stratified over ``group_field``."""
        from bench.data.subset import stratified

        return stratified(self.test_candidates(ctx), ctx.cfg.data.max_test_items, self.group_field)

    def generate(self, models: dict, item: dict, ctx: Context) -> dict[str, np.ndarray]:
        """item -> {variant: codes [n_q', T]} (n_q' <= n_q: the AR-only variant decodes one codebook)."""
        raise NotImplementedError

    def score(self, ctx: Context, items: list[dict], audio: dict[str, dict[str, np.ndarray]], sr: int) -> dict:
        """-> {"records": [record fields], "items": [per-item score rows], "reference": [record fields]}"""
        raise NotImplementedError

    def run(self, codec: str, preset: str, **options: Any) -> list[dict[str, Any]]:
        from bench.tasks.runner import run

        return run(self.name, codec, preset, **options)
