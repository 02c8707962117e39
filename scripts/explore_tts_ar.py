"""Train the tts AR stage alone under other training settings and probe its corpus WER (issue #16): the cheap
way to choose ``train.*``/``lm.*`` for a preset, since ``bench run`` trains both stages and scores everything.

    python scripts/explore_tts_ar.py --set "train.steps=1200" --set "train.steps=1200 train.align_sigma=0.1"

Each ``--set`` is one setting (several fields, space-separated) over the preset (``--preset``, default cpu).
Per setting: the AR stage trains into ``<data>/explore/tts-ar/<preset>/<codec>-<config hash>/`` (resumable; a
trained one is reused), then the first ``--per-voice`` test items of each voice are generated and scored as
``bench run`` scores its ``ar`` rows (scripts/sweep_tts_decoding.py's probe, bench.tasks.ar_probe). The codec
and its token cache must exist (``bench run ... --until tokenize``). Rows (WER with CI, final train and
held-out loss, text use, train wall) merge into ``<data>/explore/tts-ar/<preset>/<codec>.json`` and print.
Exploration only: a preset's records come from ``bench run``, never from here.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", dest="settings", action="append", required=True, help="one training setting")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--codec", default="xcodec")
    ap.add_argument("--per-voice", type=int, default=10, help="items per voice")
    ap.add_argument("--split", default="test", choices=["test", "valid"],
                    help="test: unseen voices (what the run scores); valid: held-out sentences of training voices")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()

    from bench import paths
    from bench.atomic import write_json
    from bench.data import ensure_built
    from bench.tasks import TASKS
    from bench.tasks.ar_probe import ar_wer, probe_items
    from bench.tasks.codec_setup import load_codec
    from bench.tasks.config import load_task_config
    from bench.tasks.lm.train import load_trained
    from bench.tasks.runner import Log, build_context, train_stage
    from bench.tasks.tokens import tokenize_manifest

    task = TASKS.get("tts")()
    base = load_task_config("tts", args.preset, [])
    manifest = ensure_built(base.data.recipe, base.data.preset, data_dir=args.data_dir)
    codec = load_codec(args.codec, base.data.codec_preset, data_dir=args.data_dir, train_missing=False)
    cache = tokenize_manifest(codec, manifest, base.data.recipe, base.data.preset, data_dir=args.data_dir)
    root = paths.sub("explore", "tts-ar", args.preset, root=args.data_dir)
    out_p = root / f"{args.codec}.json"
    rows = json.loads(out_p.read_text(encoding="utf-8"))["rows"] if out_p.is_file() else []
    for setting in args.settings:
        cfg = load_task_config("tts", args.preset, setting.split())
        if (cfg.data.recipe, cfg.data.preset, cfg.data.codec_preset) != (base.data.recipe, base.data.preset,
                                                                         base.data.codec_preset):
            raise SystemExit(f"error: --set {setting!r}: changes the data or codec; explore LM settings only")
        run_dir = root / f"{args.codec}-{cfg.hash}"
        run_dir.mkdir(parents=True, exist_ok=True)
        ctx = build_context(task, cfg, manifest, cache, run_dir, codec.codebook_size)
        t0 = time.time()
        final = train_stage(task, ctx, "ar", "cpu", 1, Log(run_dir / "log.txt"))
        summ = json.loads((run_dir / "ar.train.json").read_text(encoding="utf-8"))
        ar = load_trained(final, cfg, "cpu")
        probe = ar_wer(task, ctx, ar, codec, probe_items(task, ctx, args.per_voice, args.split),
                       desc=setting)
        other = summ.get("heldout_other_text") or {}
        own = summ.get("heldout") or {}
        row = {"setting": setting, "split": args.split, "config_hash": cfg.hash, **probe,
               "final_loss": summ.get("final_loss"), "final_val_loss": summ.get("final_val_loss"),
               "train_wall_s": summ.get("wall_s"), "heldout": own, "heldout_other_text": other,
               "this_call_s": round(time.time() - t0, 1)}
        rows = [r for r in rows if (r["setting"], r.get("split", "test")) != (setting, args.split)] + [row]
        write_json(out_p, {"preset": args.preset, "codec": args.codec, "per_voice": args.per_voice, "rows": rows})
        print(json.dumps({k: v for k, v in row.items() if k not in ("items", "heldout", "heldout_other_text")}),
              flush=True)


if __name__ == "__main__":
    main()
