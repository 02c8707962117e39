"""The task protocol: an LM experiment over one codec's tokens, identical across codecs.

These are the hooks ``bench.tasks.runner`` calls; everything else (data, codec, tokens, training, decoding,
records) is the runner's. A task says which models it trains (``shapes``), how a training batch looks
(``objective``), which test items it generates and how (``test_candidates``, ``generate``), and how outputs
are scored (``score``). ``bench.tasks.pattern_task.PatternTask`` implements most of them for one causal LM
over a codebook pattern (music, sound); docs/GUIDE.md "Adding a task" shows a whole task in that shape.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # the runtime import would pull torch into `bench tasks`
    import numpy as np

    from bench.tasks.common import Context
    from bench.tasks.config import TaskConfig

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


class Task(ABC):
    name: ClassVar[str] = ""
    recipe: ClassVar[str] = ""  # data recipe it trains and tests on
    conditioning: ClassVar[str] = ""  # what the LM is conditioned on
    metrics: ClassVar[tuple[str, ...]] = ()  # metric names it reports
    config_dir: ClassVar[Path] = CONFIG_DIR  # where its presets <name>.<preset>.yaml live (a plugin ships its own)
    text_field: ClassVar[str | None] = None  # manifest field the LM is conditioned on
    text_unit: ClassVar[str] = "char"
    variants: ClassVar[tuple[str, ...]] = ("lm",)  # decoded outputs scored separately
    # manifest field that clusters test items (speaker, piece, label): limited test sets take an equal share
    # of each group, and CIs resample groups before items
    group_field: ClassVar[str | None] = None

    @classmethod
    def presets(cls) -> list[str]:
        return sorted(p.stem.split(".", 1)[1] for p in cls.config_dir.glob(f"{cls.name}.*.yaml"))

    @classmethod
    def preset_path(cls, preset: str) -> Path:
        p = cls.config_dir / f"{cls.name}.{preset}.yaml"
        if not p.is_file():
            raise FileNotFoundError(f"task {cls.name!r} has no preset {preset!r}; presets: {cls.presets()}")
        return p

    # -- what every task must say ----------------------------------------------------------------------
    @abstractmethod
    def shapes(self, cfg: TaskConfig) -> dict:
        """stage name -> the model shape the runner builds and trains for it (e.g. {"ar": ..., "nar": ...})."""

    @abstractmethod
    def objective(self, stage: str, ctx: Context):
        """The training batches of ``stage`` (an objective object of :mod:`bench.tasks.lm`)."""

    @abstractmethod
    def test_candidates(self, ctx: Context) -> list[dict]:
        """Every test item the task could score, in manifest order."""

    @abstractmethod
    def generate(self, models: dict, item: dict, ctx: Context) -> dict[str, np.ndarray]:
        """item -> {variant: codes [n_q', T]} (n_q' <= n_q: the AR-only variant decodes one codebook)."""

    @abstractmethod
    def score(self, ctx: Context, items: list[dict], audio: dict[str, dict[str, np.ndarray]], sr: int,
              log=print) -> dict:
        """-> {"records": [record fields], "items": [per-item score rows], "reference": [record fields]}"""

    # -- defaults a task may override ------------------------------------------------------------------
    def text_spec(self, cfg: TaskConfig) -> tuple[str | None, str]:
        """(manifest field the LM reads, token unit) under ``cfg``; the class's own unless a task lets the
        config choose (tts: ``data.tts_text``)."""
        return self.text_field, self.text_unit

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

    def test_items(self, ctx: Context) -> list[dict]:
        """The scored items: all candidates, or ``data.max_test_items`` of them stratified over ``group_field``."""
        from bench.data.subset import stratified

        return stratified(self.test_candidates(ctx), ctx.cfg.data.max_test_items, self.group_field)

    def run(self, codec: str, preset: str, **options: Any) -> list[dict[str, Any]]:
        """Train (or resume), generate, decode and score; return the records written (``bench run``)."""
        from bench.tasks.runner import run

        return run(self.name, codec, preset, **options)
