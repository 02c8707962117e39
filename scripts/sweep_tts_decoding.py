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
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--set", dest="settings", action="append", required=True, help="one decoding setting")
    ap.add_argument("--per-voice", type=int, default=10, help="test items per voice")
    args = ap.parse_args()

    from bench.atomic import write_json
    from bench.tasks.ar_probe import ar_wer, probe_items, wer_backend
    from bench.tasks.codec_setup import load_codec
    from bench.tasks.config import load_task_config
    from bench.tasks.lm.train import final_path, load_trained
    from bench.tasks.runner import context_from_run_dir
    from bench.tasks.score import groups_of

    task, ctx = context_from_run_dir(args.run_dir)
    try:
        wer = wer_backend(ctx.cfg)
    except ValueError as e:
        raise SystemExit(f"error: {args.run_dir}: {e}") from None
    items = probe_items(task, ctx, args.per_voice)
    st = json.loads((args.run_dir / "state.json").read_text(encoding="utf-8"))
    codec = load_codec(st["codec"], ctx.cfg.data.codec_preset, train_missing=False)
    ar = load_trained(final_path(ctx.run_dir, "ar"), ctx.cfg, "cpu")
    rows = []
    for setting in args.settings:
        # the run's preset and overrides, then this setting's; the same loading and checks as a preset's
        ctx.cfg = load_task_config(st["task"], st["preset"], [*st["overrides"], *setting.split(), f"metrics=[{wer}]"])
        rows.append({"setting": setting, **ar_wer(task, ctx, ar, codec, items, desc=setting)})
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
