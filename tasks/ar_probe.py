"""The cheap probe of a tts AR model: corpus WER of its samples on a few test items per voice.

Why: a preset's records come from ``bench run``, which trains both stages and scores every metric on every
test item (~25 CPU-minutes per codec at the ``cpu`` preset). Choosing a decoding setting
(``scripts/sweep_tts_decoding.py``) or a training setting (``scripts/explore_tts_ar.py``) needs only the AR
stage's WER on a stratified few items, scored exactly as the run scores it (continuation after the prompt,
the run's WER backend). Exploration only: nothing here writes records.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np


def probe_items(task, ctx, per_voice: int, split: str = "test") -> list[dict]:
    """The first ``per_voice`` items of each voice, in the split's order (the same items for every setting):
    ``test`` (the run's test items, voices unseen in training) or ``valid`` (held-out sentences of the training
    voices: WER there and on test separates reading from carrying an unseen voice)."""
    if split not in ("test", "valid"):
        raise ValueError(f"split={split!r}: test or valid")
    items, per = [], {}
    for it in task.test_items(ctx) if split == "test" else ctx.split("valid"):
        v = str(it.get(task.group_field) or "")
        if per.get(v, 0) < per_voice:
            per[v] = per.get(v, 0) + 1
            items.append(it)
    return items


def wer_backend(cfg) -> str:
    """The config's WER backend (the one the run's records use)."""
    from bench.tasks.score import metric_of

    wer = [m for m in cfg.metrics if metric_of(m) == "wer"]
    if not wer:
        raise ValueError("the tts config scores no WER (metrics has no wer/... backend)")
    return wer[0]


def ar_wer(task, ctx, ar_model, codec, items: list[dict], desc: str = "generate") -> dict:
    """Sample the AR model on ``items`` (``ctx.cfg.generate``), decode codebook 0 alone as the run's ``ar``
    variant, and score WER only, as the run does. -> {wer_ar, ci, n, gen_s, mean_seconds, items}."""
    from tqdm import tqdm

    from bench.tasks.runner import SCORE_SR, decode_codes

    cfg = ctx.cfg
    ctx.cfg = dataclasses.replace(cfg, metrics=(wer_backend(cfg),))
    t0 = time.time()
    audio = {}
    try:
        for it in tqdm(items, desc=desc, unit="item"):
            audio[it["id"]] = decode_codes(codec, task.generate({"ar": ar_model}, it, ctx)["ar"])
        gen_s = time.time() - t0
        task.variants = ("ar",)  # this instance scores the AR variant alone
        out = task.score(ctx, items, {"ar": audio}, SCORE_SR, log=lambda *_: None)
    finally:
        ctx.cfg = cfg
    r = out["records"][0]
    pi = r.get("per_item") or {}
    return {"wer_ar": r["value"], "ci": [r.get("ci_low"), r.get("ci_high")], "n": r["n"], "gen_s": round(gen_s, 1),
            "mean_seconds": float(np.mean([len(a) for a in audio.values()])) / SCORE_SR,
            "items": [{"id": i, "value": pi["values"][j], **{k: pi[k][j] for k in ("ref", "hyp") if k in pi}}
                      for j, i in enumerate(pi.get("ids", []))]}
