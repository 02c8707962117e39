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


def worst_diffs(old_dir: Path, new_dir: Path, preset: str) -> dict[str, float]:
    from bench.report.gate import _entries
    from bench.report.load import load_results

    a = _entries(load_results(old_dir, preset=preset).frame, preset)
    b = _entries(load_results(new_dir, preset=preset).frame, preset)
    worst: dict[str, float] = {}
    for k in sorted(set(a) & set(b)):
        if a[k]["value"] is None or b[k]["value"] is None:
            continue
        m = a[k]["metric"]
        worst[m] = max(worst.get(m, 0.0), abs(float(b[k]["value"]) - float(a[k]["value"])))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", type=Path, required=True, help="results folder of the first run")
    ap.add_argument("--new", type=Path, required=True, help="results folder of the second run")
    ap.add_argument("--preset", required=True)
    ap.add_argument("--baseline", type=Path, required=True, help="the baseline file whose tolerance to set")
    ap.add_argument("--margin", type=float, default=1.5, help="floor = margin x the largest difference seen")
    ap.add_argument("--why", default="", help="what the two runs were (machines, commits): stated in the file")
    args = ap.parse_args()
    worst = worst_diffs(args.old, args.new, args.preset)
    doc = json.loads(args.baseline.read_text())
    tol = doc.setdefault("tolerance", {})
    floor = float(tol.get("abs_floor", 1e-3))
    tol["per_metric"] = {m: {"abs_floor": round(max(floor, args.margin * d), 6)} for m, d in sorted(worst.items())}
    tol["derived_from"] = (f"scripts/rerun_tolerance.py --margin {args.margin}: per metric, {args.margin} x the "
                           f"largest |difference| between two runs of preset {args.preset}. {args.why}").strip()
    from bench.atomic import write_json

    write_json(args.baseline, doc)
    for m, d in sorted(worst.items()):
        print(f"{m:24s} max |diff| {d:.4g} -> abs_floor {tol['per_metric'][m]['abs_floor']:.4g}")


if __name__ == "__main__":
    main()
