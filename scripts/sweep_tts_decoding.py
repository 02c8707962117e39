"""Corpus WER of a trained tts run's AR samples under other decoding settings (issue #16): the cheap way to
choose ``generate.*`` for a preset, since a preset's run trains its LMs again when any of its fields change.

    python scripts/sweep_tts_decoding.py data/runs/tts/cpu+set-XXXX/xcodec-HASH \\
        --set generate.cfg_scale=0 --set generate.cfg_scale=1 --set generate.cfg_scale=2 --per-voice 10

Each ``--set`` is one setting (several fields: ``--set "generate.cfg_scale=2 generate.temperature=0.5"``).
It generates the first ``--per-voice`` test items of each voice with the run's trained models (in memory:
the run's own gen/ and records are untouched), decodes the AR codes, and scores WER with the run's WER
backend exactly as the run does (continuation: after the prompt). Writes ``<run dir>/sweep/sweep.json``
(merged with an earlier sweep of the run) and prints one row per setting. Exploration only: a preset's
records come from `bench run`, never from here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--set", dest="settings", action="append", required=True, help="one decoding setting")
    ap.add_argument("--per-voice", type=int, default=10, help="test items per voice")
    args = ap.parse_args()

    import numpy as np
    import torch
    from tqdm import tqdm

    from bench.atomic import write_json
    from bench.audio import resample
    from bench.tasks.codec_setup import load_codec
    from bench.tasks.config import load_task_config
    from bench.tasks.lm.train import final_path, load_trained
    from bench.tasks.runner import SCORE_SR, context_from_run_dir
    from bench.tasks.score import groups_of, metric_of

    task, ctx = context_from_run_dir(args.run_dir)
    wer = [m for m in ctx.cfg.metrics if metric_of(m) == "wer"]
    if not wer:
        raise SystemExit(f"error: {args.run_dir}: the run scores no WER")
    items, per = [], {}
    for it in task.test_items(ctx):
        v = str(it.get(task.group_field) or "")
        if per.get(v, 0) < args.per_voice:
            per[v] = per.get(v, 0) + 1
            items.append(it)
    st = json.loads((args.run_dir / "state.json").read_text(encoding="utf-8"))
    codec = load_codec(st["codec"], ctx.cfg.data.codec_preset, train_missing=False)
    models = {s: load_trained(final_path(ctx.run_dir, s), ctx.cfg, "cpu") for s in task.shapes(ctx.cfg)}
    rows = []
    for setting in args.settings:
        # the run's preset and overrides, then this setting's, and only the run's WER backend; the same loading
        # and checks as a preset's
        over = [*st["overrides"], *setting.split(), f"metrics=[{wer[0]}]"]
        ctx.cfg = load_task_config(st["task"], st["preset"], over)
        t0 = time.time()
        audio = {}
        for it in tqdm(items, desc=setting, unit="item"):
            codes = task.generate(models, it, ctx)["ar"]
            with torch.no_grad():
                y = codec.decode(torch.from_numpy(codes)[None]).float().numpy()[0, 0]
            audio[it["id"]] = resample(y, codec.sample_rate, SCORE_SR)
        gen_s = time.time() - t0
        # the task's own scoring, on the AR variant only (what it scores, against which words, after the prompt)
        task.variants = ("ar",)
        out = task.score(ctx, items, {"ar": audio}, SCORE_SR, log=lambda *_: None)
        r = out["records"][0]
        pi = r.get("per_item") or {}
        rows.append({"setting": setting, "wer_ar": r["value"], "ci": [r.get("ci_low"), r.get("ci_high")],
                     "n": r["n"], "gen_s": round(gen_s, 1),
                     "items": [{"id": i, "ref": rf, "hyp": h} for i, rf, h in
                               zip(pi.get("ids", []), pi.get("ref", []), pi.get("hyp", []), strict=False)],
                     "mean_seconds": float(np.mean([len(a) for a in audio.values()])) / SCORE_SR})
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "items"}), flush=True)
    out_p = args.run_dir / "sweep" / "sweep.json"
    if out_p.is_file():  # a later sweep of the same run adds its settings (and replaces those it reran)
        old = json.loads(out_p.read_text(encoding="utf-8"))
        if old.get("items") == len(items):
            done = {r["setting"] for r in rows}
            rows = [r for r in old.get("rows", []) if r["setting"] not in done] + rows
    write_json(out_p, {"run_dir": str(args.run_dir), "items": len(items),
                       "groups": groups_of(items, task.group_field) is not None, "rows": rows})


if __name__ == "__main__":
    main()
