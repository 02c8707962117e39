"""Text-to-sound: caption words -> ``gen_seconds`` of sound tokens, one pattern LM for every codec.

The caption tokenizer is a word vocabulary built from the training captions (the same for every
codec); the LM's text prefix is its encoder. FAD compares generated clips with the test clips.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bench.tasks.common import Context
from bench.tasks.pattern_task import PatternTask


class SoundTask(PatternTask):
    name: ClassVar[str] = "sound"
    recipe: ClassVar[str] = "sound"
    conditioning: ClassVar[str] = "caption (word tokens)"
    metrics: ClassVar[tuple[str, ...]] = ("fad",)
    text_field = "caption"
    text_unit = "word"
    group_field = "label"  # the sound class

    def train_frames(self, ctx: Context) -> int:
        return ctx.frames(ctx.cfg.data.max_train_seconds)

    def test_candidates(self, ctx: Context) -> list[dict]:
        return [r for r in ctx.split("test") if r.get("caption")]

    def prompt_and_length(self, item: dict, ctx: Context) -> tuple[np.ndarray, int]:
        return np.zeros((ctx.cfg.data.n_q, 0), dtype=np.int64), ctx.frames(ctx.cfg.data.gen_seconds)

    def reference_audio(self, item: dict, ctx: Context, sr: int) -> np.ndarray:
        return ctx.load_audio(item, sr)[: int(ctx.cfg.data.gen_seconds * sr)]
