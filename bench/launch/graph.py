"""The job graph of a codec x task matrix: one codec job per codec (data, codec training, tokens: the
runner's stages up to tokenize), then one job per cell that depends on it. Built from what is on disk, so a
relaunch submits only what is left: a finished cell (the runner's ``done.json``) gets no job, and a codec
whose cells all have their tokens (``state.json``) gets no codec job."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Cell:
    task: str
    codec: str
    run_dir: Path
    done: bool  # finished for the codec's current weights: not submitted
    tokenized: bool  # its tokens are ready: needs no codec job

    @property
    def key(self) -> str:
        return f"{self.task}/{self.codec}"


def codec_key(codec: str) -> str:
    return f"codec:{codec}"


@dataclass
class Graph:
    preset: str  # the base preset
    variant: str  # where the runs and the state file go (smoke+set-<hash> with overrides)
    cells: list[Cell]
    codec_jobs: dict[str, list[str]] = field(default_factory=dict)  # codec -> tasks its job prepares

    @property
    def todo(self) -> list[Cell]:
        return [c for c in self.cells if not c.done]

    @property
    def skipped(self) -> list[Cell]:
        return [c for c in self.cells if c.done]

    def depends_on(self, cell: Cell) -> str | None:
        """The codec job a cell waits for (None: its tokens are ready, or it is done)."""
        needs = not cell.done and not cell.tokenized and cell.codec in self.codec_jobs
        return codec_key(cell.codec) if needs else None


def build(tasks: list[str], codecs: list[str], preset: str, overrides: tuple[str, ...] | list[str] = (),
          force: bool = False, data_dir: str | os.PathLike | None = None) -> Graph:
    """Every name is checked (did-you-mean) before anything is made; nothing is written."""
    from bench.config import preset_variant
    from bench.tasks.runner import _checked_cell, finished, run_dir_of

    variant = preset_variant(preset, overrides)
    cells = []
    for t in tasks:
        for c in codecs:
            cfg = _checked_cell(t, c, preset, overrides)
            run_dir = run_dir_of(t, c, variant, cfg, data_dir)
            done = not force and finished(t, c, preset, overrides, data_dir)
            cells.append(Cell(t, c, run_dir, done, (run_dir / "state.json").is_file()))
    g = Graph(preset, variant, cells)
    for cell in g.todo:
        if not cell.tokenized:
            tasks_of = g.codec_jobs.setdefault(cell.codec, [])
            tasks_of += [] if cell.task in tasks_of else [cell.task]
    return g
