"""Measure CLI start-up time of the listing verbs (target: < 3 s each, offline).

Usage: .venv/bin/python scripts/bench_startup.py [--out results/startup.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="results/startup.json")
    args = ap.parse_args()
    bench = str(Path(sys.executable).parent / "bench")
    rows = {}
    for verb in ("--help", "codecs", "tasks", "metrics"):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            subprocess.run([bench, verb], capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        rows[verb] = round(statistics.median(times), 3)
        print(f"bench {verb:8s} {rows[verb]:.2f} s (median of {args.repeats})")
    out = {"command": "python scripts/bench_startup.py", "machine": f"{platform.machine()} cpu",
           "median_seconds": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
