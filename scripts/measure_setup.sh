#!/usr/bin/env bash
# Measure cold and warm set-up time and venv size; writes results/setup.json.
# Cold = empty venv cache (a temp BENCH_CACHE) with pip's download cache as the machine has it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
# BENCH_NO_LINK: measure without repointing ./.venv (other processes may be using it)
t0=$(date +%s.%N); BENCH_NO_LINK=1 BENCH_CACHE="$tmp" bash scripts/setup.sh >/dev/null; t1=$(date +%s.%N)
BENCH_NO_LINK=1 BENCH_CACHE="$tmp" bash scripts/setup.sh >/dev/null; t2=$(date +%s.%N)
size=$(du -sb "$tmp/venvs" | cut -f1)
rm -rf "$tmp"
bash scripts/setup.sh >/dev/null  # re-register the editable install with the default venv
python3 - "$t0" "$t1" "$t2" "$size" <<'PY'
import json, sys, platform, os
t0, t1, t2, size = map(float, sys.argv[1:])
out = {"command": "bash scripts/measure_setup.sh", "machine": f"{platform.machine()} {os.cpu_count()} cpu",
       "cold_setup_s": round(t1 - t0, 1), "warm_setup_s": round(t2 - t1, 1), "venv_gib": round(size / 2**30, 2)}
os.makedirs("results", exist_ok=True)
json.dump(out, open("results/setup.json", "w"), indent=2)
print(out)
PY
