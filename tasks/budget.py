"""The equal-budget rule: every codec gets the same LM and the same training, only its tokens differ.

What is held equal (all of it derived from the task preset alone; no function here takes a codec):
- the architecture and parameter count: ``lm.*`` sizes, and fixed vocabularies. Each codebook gets
  ``lm.audio_vocab`` code slots whatever the codec's ``codebook_size`` (all compared codecs use 1024;
  a codec with more codes is refused, not silently given a bigger model), text gets ``lm.text_vocab``;
- the number of codebooks modelled, ``data.n_q`` (VALL-E: 8 = 1 AR + 7 NAR; music/sound: 4), and
  the codebook pattern; a codec with fewer codebooks is refused;
- optimizer (AdamW, betas, weight decay, clip), schedule (warmup + cosine), steps, seed;
- the batch in *sequences* (utterances/clips), the same clips in the same order at every step
  (batches are drawn from (seed, step) over the same manifest), so every codec sees the same
  seconds of audio per step.

How frame rate enters: it does not change the budget, it changes the token count. A 75 Hz codec
puts 1.5x the tokens of a 50 Hz codec into the same seconds, so its sequences are longer and its
steps cost more compute; we hold data (seconds) and optimisation steps equal, not tokens, because
"how many tokens per second of audio" is part of what is being compared. n_q enters the same way:
the number of codebooks is fixed, so bitrate differences come from frame rate and codebook size.
Records carry ``budget.hash`` (of the budget as trained: :func:`trained`) so a report can check that
the runs it compares share one budget.
"""

from __future__ import annotations

import dataclasses

from bench.config import config_hash, without_neutral
from bench.tasks.config import HASH_NEUTRAL, TaskConfig


class BudgetError(ValueError):
    """A codec that cannot be run under the preset's budget (the message says why)."""


# Train fields that change what is logged or measured, never the weights (the held-out pass runs in eval
# mode without gradients and draws no training randomness).
NOT_BUDGET = ("log_every", "ckpt_every", "val_every", "val_items")


def budget(cfg: TaskConfig, shapes: dict) -> dict:
    """The budget of a preset: everything that must be equal across codecs, parameter counts included."""
    b = {
        "task": cfg.task,
        "lm": dataclasses.asdict(cfg.lm),
        "train": {k: v for k, v in dataclasses.asdict(cfg.train).items() if k not in NOT_BUDGET},
        "n_q": cfg.data.n_q,
        "pattern": cfg.data.pattern,
        "data": [cfg.data.recipe, cfg.data.preset],
        "n_params": {stage: n_params(cfg, shape) for stage, shape in sorted(shapes.items())},
    }
    if cfg.task == "tts" and cfg.data.tts_mode != "cross":  # the training examples differ; cross as before
        b["tts_mode"] = cfg.data.tts_mode
    # Train fields added after runs existed are left out at their neutral value, as the config hash leaves
    # them out, so adding a field never makes a rerun of an older preset "measured on something else".
    return without_neutral(b, HASH_NEUTRAL)


def budget_hash(b: dict) -> str:
    return config_hash(b)


def n_params(cfg: TaskConfig, shape) -> int:
    """Parameter count of one stage's model, built on the meta device (no memory, no time)."""
    import torch

    from bench.tasks.lm.transformer import TokenLM

    with torch.device("meta"):
        return TokenLM(cfg.lm, shape).n_params()


def check_codec_fits(cfg: TaskConfig, name: str, n_codebooks: int, codebook_size: int) -> None:
    if codebook_size > cfg.lm.audio_vocab:
        raise BudgetError(f"codec {name!r} has {codebook_size} codes per codebook; the preset's LM has "
                          f"lm.audio_vocab={cfg.lm.audio_vocab} (raise it for every codec, not for one)")
    if n_codebooks < cfg.data.n_q:
        raise BudgetError(f"codec {name!r} has {n_codebooks} codebooks; the task models data.n_q={cfg.data.n_q}")


def check_equal(budgets: dict[str, dict]) -> None:
    """Raise if the runs named by the keys (codec names) do not share one budget."""
    hashes = {k: budget_hash(b) for k, b in budgets.items()}
    if len(set(hashes.values())) > 1:
        raise BudgetError(f"unequal LM budgets across codecs: {hashes}")


def steps_reached(train_meta: dict) -> int | None:
    """Optimizer steps a stage actually ran, from its ``<stage>.train.json`` (the loss curve's last step)."""
    if "steps_reached" in train_meta:
        return int(train_meta["steps_reached"])
    steps = (train_meta.get("curve") or {}).get("step") or []
    return int(steps[-1]) + 1 if steps else None


def trained(cfg: TaskConfig, shapes: dict, metas: dict[str, dict]) -> dict:
    """The budget as trained: the resolved config's budget with each stage's measured parameter count and
    steps reached (``metas``: stage -> its train.json), so runs that trained differently hash differently."""
    b = budget(cfg, shapes)
    b["n_params"] = {s: m.get("n_params", b["n_params"].get(s)) for s, m in sorted(metas.items())}
    b["steps_reached"] = {s: steps_reached(m) for s, m in sorted(metas.items())}
    return b


def record(cfg: TaskConfig, shapes: dict, metas: dict[str, dict]) -> dict:
    """The record's ``budget`` object: hash of :func:`trained`, steps configured and reached, why it stopped."""
    b = trained(cfg, shapes, metas)
    reached = [r for r in b["steps_reached"].values() if r is not None]
    low = min(reached) if len(reached) == len(metas) and reached else None
    reason = None if low is None else "steps" if low >= cfg.train.steps else "stopped-early"
    return {"hash": budget_hash(b), "steps": cfg.train.steps, "steps_reached": low, "stop_reason": reason,
            "stages": {s: {"steps_reached": b["steps_reached"][s], "n_params": b["n_params"][s]} for s in metas}}
