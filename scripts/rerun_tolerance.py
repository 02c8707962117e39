"""Per-metric gate tolerances for a preset's committed baseline, from two runs of that preset (issue #18).

A committed baseline (results/baselines/<preset>.json) gates records that a user regenerates on their own
machine. Its CI-based tolerance covers sampling noise of the test set, not the drift of a retrained codec
and LM on another CPU (another summation order: other weights). This script measures that drift between
two results folders holding records of the same preset and command, and sets each metric's absolute floor
to ``margin`` x the largest difference seen for it over the cells both runs have:

    python scripts/rerun_tolerance.py --old <results of run A> --new <results of run B> --preset cpu \\
        --baseline results/baselines/cpu.json --margin 1.5 --why "..."

The baseline file states where its floors came from (``tolerance.derived_from``); ``bench check --update``
keeps them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def worst_diffs(old_dir: Path, new_dir: Path, preset: str) -> tuple[dict[str, float], dict[str, float]]:
    """Per metric, the largest |new - old| and the largest |new - old| / |old| over the cells both runs have."""
    from bench.report.gate import _entries
    from bench.report.load import load_results

    a = _entries(load_results(old_dir, preset=preset).frame, preset)
    b = _entries(load_results(new_dir, preset=preset).frame, preset)
    worst: dict[str, float] = {}
    worst_rel: dict[str, float] = {}
    for k in sorted(set(a) & set(b)):
        if a[k]["value"] is None or b[k]["value"] is None:
            continue
        m, old = a[k]["metric"], float(a[k]["value"])
        d = abs(float(b[k]["value"]) - old)
        worst[m] = max(worst.get(m, 0.0), d)
        if old != 0:
            worst_rel[m] = max(worst_rel.get(m, 0.0), d / abs(old))
    return worst, worst_rel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", type=Path, required=True, help="results folder of the first run")
    ap.add_argument("--new", type=Path, required=True, help="results folder of the second run")
    ap.add_argument("--preset", required=True)
    ap.add_argument("--baseline", type=Path, required=True, help="the baseline file whose tolerance to set")
    ap.add_argument("--margin", type=float, default=1.5, help="floor = margin x the largest difference seen")
    ap.add_argument("--why", default="", help="what the two runs were (machines, commits): stated in the file")
    ap.add_argument("--relative", default="",
                    help="comma list of metrics whose drift grows with their value (wer: an unintelligible codec's "
                         "1.3 moves more than a good one's 0.2): a rel_floor of margin x the largest relative "
                         "difference instead of an abs_floor from this pair")
    ap.add_argument("--add", action="store_true",
                    help="another pair of runs: each floor becomes the larger of the file's and this pair's, and "
                         "derived_from names both (without it the file's floors are replaced)")
    args = ap.parse_args()
    rel_metrics = {m for m in args.relative.split(",") if m}
    diffs, rel_diffs = worst_diffs(args.old, args.new, args.preset)
    worst = {m: d for m, d in diffs.items() if m not in rel_metrics}
    worst_rel = {m: d for m, d in rel_diffs.items() if m in rel_metrics}
    doc = json.loads(args.baseline.read_text())
    tol = doc.setdefault("tolerance", {})
    floor = float(tol.get("abs_floor", 1e-3))
    new = {m: round(max(floor, args.margin * d), 6) for m, d in worst.items()}
    old = {m: float(v["abs_floor"]) for m, v in tol.get("per_metric", {}).items()} if args.add else {}
    old_rel = {m: float(v["rel_floor"]) for m, v in tol.get("per_metric", {}).items()
               if args.add and "rel_floor" in v}
    per: dict[str, dict[str, float]] = {m: {"abs_floor": max(new.get(m, 0.0), old.get(m, 0.0))}
                                        for m in sorted({*new, *old})}
    for m, d in worst_rel.items():
        per.setdefault(m, {})["rel_floor"] = max(round(args.margin * d, 6), old_rel.get(m, 0.0))
    tol["per_metric"] = per
    what = (f"scripts/rerun_tolerance.py --margin {args.margin}: per metric, {args.margin} x the largest "
            f"|difference| between two runs of preset {args.preset}. {args.why}").strip()
    tol["derived_from"] = f"{tol['derived_from']} Then, with --add (each floor the larger): {what}" \
        if args.add and tol.get("derived_from") else what
    from bench.atomic import write_json

    write_json(args.baseline, doc)
    for m, d in sorted(worst_rel.items()):
        print(f"{m:24s} max |diff| / |old| {d:.4g} -> rel_floor {per[m]['rel_floor']:.4g}")
    for m, d in sorted(worst.items()):
        print(f"{m:24s} max |diff| {d:.4g} -> abs_floor {tol['per_metric'][m]['abs_floor']:.4g}"
              + (f" (was {old[m]:.4g})" if m in old else ""))


if __name__ == "__main__":
    main()
