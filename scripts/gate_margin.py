"""How much of the gate's tolerance a machine's run uses, per cell (issue #18): the check that a baseline made on
one machine gates another machine's rerun with room to spare, before the gate is trusted in CI.

    python scripts/gate_margin.py --results <results dir of the CI-sized chain> [--out results/gate/margin.json]

``bench check`` says pass or fail; this says by how much: |current - baseline| / tolerance per cell (1.0 is
the edge), with the CPU that ran it, so a CI machine whose kernels round differently shows up as cells near 1.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def margins(frame, baseline: dict) -> list[dict]:
    from bench.report import gate

    out = []
    for f in gate.check(frame, baseline):
        used = None if f.cur is None or not f.tol else round(abs(f.cur - f.base) / f.tol, 4)
        out.append({"cell": f.label, "status": f.status, "baseline": f.base, "current": f.cur, "tol": f.tol,
                    "used": used})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", type=Path, default=ROOT / "results" / "gate" / "ci.json")
    ap.add_argument("--results", type=Path, required=True, help="results dir of the chain's run")
    ap.add_argument("--out", type=Path, help="write the table as JSON here")
    args = ap.parse_args()

    from bench.atomic import write_json
    from bench.report.load import load_results

    baseline = json.loads(args.baseline.read_text(encoding="utf-8"))
    frame = load_results(args.results, preset=baseline["preset"]).frame
    rows = margins(frame, baseline)
    for r in sorted(rows, key=lambda r: -(r["used"] or 0)):
        used = "-" if r["used"] is None else f"{r['used']:.2f}"
        print(f"{r['status']:8s} used {used:>5s}  {r['cell'][:100]}")
    worst = max((r["used"] or 0) for r in rows) if rows else 0.0
    ok = sum(r["status"] == "ok" for r in rows)
    print(f"{len(rows)} cells, {ok} ok; the largest uses {worst:.2f} of its tolerance")
    if args.out:
        write_json(args.out, {"command": "python scripts/gate_margin.py --results <chain results>",
                              "baseline": str(args.baseline.relative_to(ROOT)) if args.baseline.is_relative_to(ROOT)
                              else str(args.baseline), "cpu": cpu_model(), "max_used": worst, "cells": rows})


if __name__ == "__main__":
    main()
