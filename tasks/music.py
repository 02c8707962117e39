"""Music continuation: a prompt's codes -> the next ``gen_seconds``, one pattern LM for every codec.

Test pairs: a test row with ``prompt_id`` is the real continuation of that prompt clip; a test row
without one is split at ``prompt_seconds`` (first part prompt, next ``gen_seconds`` the real
continuation). FAD compares decoded continuations with the real ones.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bench.tasks.common import Context
from bench.tasks.pattern_task import PatternTask


class MusicTask(PatternTask):
    name: ClassVar[str] = "music"
    recipe: ClassVar[str] = "music"
    conditioning: ClassVar[str] = "audio prompt (continuation)"
    metrics: ClassVar[tuple[str, ...]] = ("fad",)
    text_field = None
    group_field = "piece"  # continuations of one piece are not independent

    def train_frames(self, ctx: Context) -> int:
        return ctx.frames(ctx.cfg.data.prompt_seconds + ctx.cfg.data.gen_seconds)

    def test_candidates(self, ctx: Context) -> list[dict]:
        prompts = {r["prompt_id"] for r in ctx.split("test") if r.get("prompt_id")}
        return [r for r in ctx.split("test") if r["id"] not in prompts]

    def prompt_and_length(self, item: dict, ctx: Context) -> tuple[np.ndarray, int]:
        d = ctx.cfg.data
        p = ctx.frames(d.prompt_seconds)
        src = item["prompt_id"] if item.get("prompt_id") else item["id"]
        codes = ctx.cache.codes(src, d.n_q)
        prompt = codes[:, -p:] if item.get("prompt_id") else codes[:, :p]
        return prompt, prompt.shape[1] + ctx.frames(d.gen_seconds)

    def reference_audio(self, item: dict, ctx: Context, sr: int) -> np.ndarray:
        d = ctx.cfg.data
        x = ctx.load_audio(item, sr)
        if not item.get("prompt_id"):
            x = x[int(d.prompt_seconds * sr) :]
        return x[: int(d.gen_seconds * sr)]
