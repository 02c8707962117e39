#!/usr/bin/env bash
# Time the README's first command on a fresh clone (fresh data dir, warm venv cache) and the disk it
# leaves under data/; writes results/make_bench.json here.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
d=$(mktemp -d)
git clone -q "$repo" "$d/clone"
cd "$d/clone"
t0=$(date +%s.%N)
make bench > "$d/make_bench.log" 2>&1 || { tail -40 "$d/make_bench.log"; exit 1; }
t1=$(date +%s.%N)
data_mb=$(du -sm data | cut -f1)
cd "$repo"
python3 - "$t0" "$t1" "$data_mb" <<'PY'
import json, os, platform, sys
t0, t1, mb = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
out = {"command": "bash scripts/measure_make_bench.sh", "what": "make bench on a fresh clone, warm venv cache",
       "machine": f"{platform.machine()} {os.cpu_count()} cpu", "wall_s": round(t1 - t0, 1), "data_dir_mb": mb}
json.dump(out, open("results/make_bench.json", "w"), indent=2)
print(out)
PY
# the clone's setup re-pointed the shared venv's editable install at the clone: point it back here
bash scripts/setup.sh > /dev/null
rm -rf "$d"
