"""Write the CI gate's baseline (issue #18): the values of the CI-sized chain, with per-metric tolerances set
from the spread scripts/repro.py measured between two runs of that chain.

It lives in results/gate/, not results/baselines/: every file there gates the committed records, while this
one gates records the chain computes where the gate runs (none are committed).

    python scripts/repro.py --preset smoke --set train.steps=30 --threads2 1 --keep --out results/repro/ci.json
    python scripts/ci_baseline.py --repro results/repro/ci.json --results <replica1>/results

Why a tolerance per metric from a measurement: one machine reruns the chain bit for bit, but another
machine's kernels sum floats in another order, training drifts, and an unintelligible smoke LM's WER moves
a lot while its held-out NLL barely does. A single CI-derived rule cannot know that; the second replica
(another thread count: another summation order) shows it. Each metric's absolute floor becomes
``margin`` x the largest difference seen for it (never below the gate's default floor); the CI-based term
of the gate stays. The baseline states where its tolerances came from (``tolerance.derived_from``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def per_metric_floors(repro: dict, margin: float, floor: float) -> dict[str, dict]:
    """gate metric name -> {"abs_floor": margin x max |diff| over its cells (codecs, reference, decode
    variants)}, from repro.py's ``records`` row (keys ``task|codec|metric|preset``)."""
    rows = [r for r in repro["stages"] if r["stage"] == "records"]
    if not rows:
        raise SystemExit("error: the repro file has no records stage — rerun scripts/repro.py")
    from bench.results import split_metric  # the cell's metric, as the gate's per_metric names it

    worst: dict[str, float] = {}
    for key, d in rows[0].get("abs_diff", {}).items():
        metric = split_metric(key.split("|")[2])[0]
        worst[metric] = max(worst.get(metric, 0.0), float(d))
    return {m: {"abs_floor": round(max(floor, margin * d), 6)} for m, d in sorted(worst.items()) if d > 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repro", type=Path, default=ROOT / "results" / "repro" / "ci.json")
    ap.add_argument("--results", type=Path, required=True, help="results dir of the replica to take values from")
    ap.add_argument("--preset", default="smoke", help="base preset of the chain (its --set makes the variant)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "gate" / "ci.json")
    ap.add_argument("--margin", type=float, default=3.0)
    args = ap.parse_args()

    from bench.config import preset_variant
    from bench.report.gate import DEFAULT_TOLERANCE, make_baseline, write_baseline
    from bench.report.load import load_results

    repro = json.loads(args.repro.read_text(encoding="utf-8"))
    variant = preset_variant(args.preset, _sets(repro["command"]))
    frame = load_results(args.results, preset=variant).frame
    if frame is None or frame.empty:
        raise SystemExit(f"error: {args.results}: no records of preset {variant}")
    doc = make_baseline(frame, variant)
    floors = per_metric_floors(repro, args.margin, DEFAULT_TOLERANCE["abs_floor"])
    doc["tolerance"] = {**DEFAULT_TOLERANCE, "per_metric": floors,
                        "derived_from": {"command": repro["command"], "machine": repro["machine"],
                                         "replica2_threads": repro.get("replica2_threads"), "margin": args.margin,
                                         "rule": "abs_floor = margin x the largest |difference| between the two "
                                                 "replicas for that metric (the default floor where none)"}}
    write_baseline(args.out, doc)
    print(f"wrote {args.out}: {len(doc['entries'])} cells of {variant}; per-metric floors for {len(floors)} metrics")


def _sets(command: str) -> list[str]:
    """The ``--set`` values of a repro.py command line."""
    parts = command.split()
    return [parts[i + 1] for i, p in enumerate(parts[:-1]) if p == "--set"]


if __name__ == "__main__":
    main()
