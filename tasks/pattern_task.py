"""Shared body of the music and sound tasks: one causal pattern LM, scored by FAD against real clips."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np

from bench.lazy import lazy
from bench.metrics import Item
from bench.tasks.common import Context, LMTask
from bench.tasks.lm.vocab import T_BOS, T_EOS
from bench.tasks.score import groups_of, is_set_level, metric_of, score_items, score_set

# the LM modules (torch) load on first use, so listing tasks stays fast
_gen = lazy("bench.tasks.lm.generate")
_plm = lazy("bench.tasks.lm.pattern_lm")


class PatternTask(LMTask):
    variants: ClassVar[tuple[str, ...]] = ("lm",)

    def shapes(self, cfg) -> dict:
        return {"lm": _plm.pattern_shape(cfg.data.pattern, cfg.data.n_q, cfg.lm.audio_vocab)}

    def text_ids(self, row: dict, ctx: Context) -> list[int]:
        return ctx.vocab.encode(row[self.text_field]) if self.text_field else [T_BOS, T_EOS]

    @abstractmethod
    def train_frames(self, ctx: Context) -> int:
        """Frames of each training crop."""

    def _objective(self, rows: list[dict], ctx: Context):
        d = ctx.cfg.data
        texts = [self.text_ids(r, ctx) for r in rows]
        codes = [ctx.cache.codes(r["id"], d.n_q) for r in rows]
        return _plm.PatternObjective(texts, codes, d.pattern, d.n_q, ctx.cfg.lm.audio_vocab, self.train_frames(ctx),
                                     ids=[r["id"] for r in rows])

    def objective(self, stage: str, ctx: Context):
        return self._objective(ctx.split("train"), ctx)

    def heldout(self, stage: str, ctx: Context):
        """The valid clips, cropped to the training length from their start."""
        return self._objective(self.valid_rows(ctx), ctx)

    @abstractmethod
    def prompt_and_length(self, item: dict, ctx: Context) -> tuple[np.ndarray, int]:
        """(prompt codes [n_q, P], total frames to reach)."""

    def generate(self, models: dict, item: dict, ctx: Context) -> dict[str, np.ndarray]:
        cfg = ctx.cfg
        prompt, total = self.prompt_and_length(item, ctx)
        codes = _plm.pattern_generate(models["lm"], self.text_ids(item, ctx), prompt, total, cfg.data.pattern,
                                 cfg.lm.audio_vocab, ctx.codebook_size, cfg.generate.temperature, cfg.generate.top_k,
                                 _gen.item_generator(cfg.generate.seed, item["id"]))
        return {"lm": codes[:, prompt.shape[1] :]}

    @abstractmethod
    def reference_audio(self, item: dict, ctx: Context, sr: int) -> np.ndarray:
        """The real clip the generated one is compared with (FAD's reference set)."""

    def score(self, ctx: Context, items: list[dict], audio: dict[str, dict[str, np.ndarray]], sr: int, log=print):
        refs = [Item(id=it["id"], audio=self.reference_audio(it, ctx, sr), sr=sr) for it in items]
        records, per_item = [], {it["id"]: {"id": it["id"]} for it in items}
        groups = groups_of(items, self.group_field)
        for name in ctx.cfg.metrics:
            for variant in self.variants:
                hyp = [Item(id=it["id"], audio=audio[variant][it["id"]], sr=sr, ref_audio=r.audio,
                            ref_text=it.get("caption")) for it, r in zip(items, refs, strict=True)]
                if is_set_level(name):
                    summ = score_set(name, hyp, refs, log)
                else:
                    vals, summ = score_items(name, hyp, log, groups)
                    for it, v in zip(items, vals, strict=True):
                        per_item[it["id"]][f"{name}@{variant}"] = v
                records.append({**summ, "metric": metric_of(name), "variant": variant})
        return {"records": records, "reference": [], "items": list(per_item.values())}
