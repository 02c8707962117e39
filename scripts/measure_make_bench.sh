#!/usr/bin/env bash
# Time the README's first command (`make bench`) on a fresh clone (fresh data dir, warm venv cache): the wall
# time of each command it runs and the disk it leaves under data/. Writes results/make_bench.json here; the
# run's records, leaderboard and plots stay in the clone unless KEEP_RESULTS=1 copies them back.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
d=${MEASURE_DIR:-$(mktemp -d)}
if [ -e "$d/clone" ]; then echo "measure_make_bench: $d/clone exists (an earlier measurement?); choose another MEASURE_DIR" >&2; exit 2; fi
git clone -q "$repo" "$d/clone"
cd "$d/clone"
commit=$(git rev-parse --short HEAD)
t0=$(date +%s.%N)
# every output line gets the seconds since start (tqdm's carriage-return updates stay on their line)
make bench 2>&1 | while IFS= read -r line; do printf '%.1f %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$line"; done \
  > "$d/make_bench.log"
rc=${PIPESTATUS[0]}
t1=$(date +%s.%N)
[ "$rc" = 0 ] || { tail -40 "$d/make_bench.log"; exit 1; }
data_mb=$(du -sm data | cut -f1)
if [ "${KEEP_RESULTS:-0}" = 1 ]; then
  mkdir -p "$repo/results/records"
  cp -r results/records/cpu "$repo/results/records/"
  cp results/LEADERBOARD.md "$repo/results/LEADERBOARD.md"
  cp -r results/plots/. "$repo/results/plots/"
fi
cd "$repo"
python3 - "$t0" "$t1" "$data_mb" "$d/make_bench.log" "$commit" "$d/clone/data/runs" <<'PY'
import glob, json, os, platform, re, sys
t0, t1, mb, log, commit = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
# make echoes each recipe line before running it: its timestamp is when that command started
starts = [(float(m.group(1)), m.group(2)) for m in
          (re.match(r"^([0-9.]+) (\.venv/bin/bench .*|bash scripts/setup\.sh)$", x) for x in open(log)) if m]
steps = [{"command": c, "wall_s": round((starts[i + 1][0] if i + 1 < len(starts) else t1 - t0) - s, 1)}
         for i, (s, c) in enumerate(starts)]
out = {"command": "bash scripts/measure_make_bench.sh", "what": "make bench on a fresh clone, warm venv cache",
       "machine": f"{platform.machine()} {os.cpu_count()} cpu", "wall_s": round(t1 - t0, 1), "data_dir_mb": mb,
       "commit": commit, "steps": steps,
       # each run cell's own stage walls (the runner's done.json): where the time of `bench run` went
       "cells": {os.path.relpath(os.path.dirname(p), sys.argv[6]): json.load(open(p))["wall_s"]
                 for p in sorted(glob.glob(os.path.join(sys.argv[6], "*", "*", "*", "done.json")))}}
os.makedirs("results", exist_ok=True)
json.dump(out, open("results/make_bench.json", "w"), indent=2)
print(json.dumps(out, indent=2))
PY
[ -n "${MEASURE_DIR:-}" ] || rm -rf "$d"
