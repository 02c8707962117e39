"""Held-out validation: the negative log-likelihood of the valid split under a model being trained.

Why a pass of its own: a training loss cannot tell learning from memorising, and a codec's tokens are
"LM-ready" to the degree a fixed LM predicts them on audio it never trained on. The batches are built
once from the manifest's ``valid`` split (never train, never test) in a fixed order with a fixed seed,
so every pass of a run, every codec of a preset and every rerun score the same utterances the same way.
A pass keeps, per valid utterance, the nats and the token count per codebook level (and for the
non-code targets, EOS), and the frames whose codes it scored, so the records can give bits per second of
audio and per-level perplexity, and bootstrap them over utterances (:mod:`bench.tasks.readiness`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F

from bench.tasks.lm.vocab import IGNORE

OTHER = "eos"  # bucket of the non-code targets (EOS): part of a model's NLL, not of a codebook's perplexity


@dataclass(frozen=True)
class ValBatch:
    """One fixed validation batch: the valid utterance of each row and the frames whose codes it scores."""

    ids: list[str]
    frames: list[int]
    batch: dict[str, torch.Tensor]


class HeldOutObjective(Protocol):
    """What the trainer needs of a task to validate: fixed batches of the valid split, and the model's logits.

    ``val_batches`` yields the same batches at every call (built on demand, so a large valid split is never
    held in memory as padded tensors); ``n_examples`` is 0 when the manifest has no valid clips."""

    def n_examples(self) -> int: ...

    def val_batches(self, batch_size: int) -> Iterable[ValBatch]: ...

    def logits(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...


class TextConditioned(Protocol):
    """A held-out objective whose model reads text can give itself with every utterance's text swapped for
    another's (:func:`other_text`): the NLL it adds is what the model draws from the text, read by
    :mod:`bench.tasks.readiness` as ``text_bps`` (a model that ignores its text scores 0)."""

    def with_other_text(self) -> HeldOutObjective | None: ...


def code_levels(target: torch.Tensor, code_vocab: int) -> torch.Tensor:
    """Codebook level of each target [B, K, L]: the stream index for a code, -1 for a special (EOS).

    Right for every layout where stream k carries level k (VALL-E AR: one stream, level 0; the NAR's
    targets sit in the stream of the level it predicts; the delay pattern). Flatten overrides it.
    """
    k = torch.arange(target.shape[1], device=target.device)[None, :, None].expand_as(target)
    return torch.where(target < code_vocab, k, torch.full_like(k, -1))


@dataclass
class HeldOut:
    """One pass: per valid utterance (``ids``), nats and token counts per level key ("0", "1", ..., "eos")."""

    ids: list[str] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    nll: dict[str, list[float]] = field(default_factory=dict)
    tokens: dict[str, list[int]] = field(default_factory=dict)

    def mean_nll(self) -> float:
        """Nats per target token over the whole pass (the quantity the training loss is a batch estimate of)."""
        n = sum(sum(v) for v in self.tokens.values())
        return sum(sum(v) for v in self.nll.values()) / n if n else math.nan

    def to_json(self) -> dict:
        return {"ids": self.ids, "frames": self.frames, "nll": {k: [round(x, 6) for x in v] for k, v in
                                                                self.nll.items()}, "tokens": self.tokens}

    @classmethod
    def from_json(cls, d: dict) -> HeldOut:
        return cls(list(d["ids"]), [int(f) for f in d["frames"]], {k: list(map(float, v)) for k, v in d["nll"].items()},
                   {k: list(map(int, v)) for k, v in d["tokens"].items()})


def _level_key(level: int) -> str:
    return OTHER if level < 0 else str(level)


@torch.no_grad()
def evaluate(model: torch.nn.Module, objective: HeldOutObjective, batches: Iterable[ValBatch], code_vocab: int,
             device: torch.device, amp_dtype: torch.dtype | None = None) -> HeldOut:
    """Sum the model's NLL over ``batches`` per (utterance, level); the model is left as it was found."""
    was_training = model.training
    model.eval()
    levels_of = getattr(objective, "target_levels", None)
    per: dict[str, dict[str, list[float]]] = {}
    frames: dict[str, int] = {}
    try:
        for vb in batches:
            b = {k: v.to(device) for k, v in vb.batch.items()}
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = objective.logits(model, b)
            tgt = b["target"]
            nll = F.cross_entropy(logits.float().permute(0, 3, 1, 2), tgt, ignore_index=IGNORE, reduction="none")
            lv = levels_of(b) if levels_of is not None else code_levels(tgt, code_vocab)
            real = tgt != IGNORE
            for row, (uid, nf) in enumerate(zip(vb.ids, vb.frames, strict=True)):
                if frames.setdefault(uid, nf) != nf:
                    raise ValueError(f"held-out: utterance {uid!r} scored over {frames[uid]} and {nf} frames")
                acc = per.setdefault(uid, {})
                m = real[row]
                for level in torch.unique(lv[row][m]).tolist():
                    sel = m & (lv[row] == level)
                    a = acc.setdefault(_level_key(int(level)), [0.0, 0])
                    a[0] += float(nll[row][sel].double().sum())
                    a[1] += int(sel.sum())
    finally:
        model.train(was_training)
    ids = list(per)
    keys = sorted({k for d in per.values() for k in d}, key=lambda k: (k == OTHER, int(k) if k != OTHER else 0))
    return HeldOut(ids, [frames[i] for i in ids], {k: [per[i].get(k, [0.0, 0])[0] for i in ids] for k in keys},
                   {k: [per[i].get(k, [0.0, 0])[1] for i in ids] for k in keys})


def other_text(texts: list) -> list:
    """Each utterance's text replaced by the next one's (the last takes the first's): a derangement for two or
    more utterances, fixed, so the "other text" pass is one for every codec and rerun."""
    return texts[1:] + texts[:1] if len(texts) > 1 else list(texts)


def chunks(n: int, size: int) -> list[range]:
    """Row ranges of fixed validation batches: [0, size), [size, 2 size), ..."""
    return [range(i, min(n, i + size)) for i in range(0, n, size)]
