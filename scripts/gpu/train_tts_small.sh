#!/usr/bin/env bash
# On a lent GPU machine: train the `small` VALL-E LMs (AR + NAR) over xcodec and xcodec-acoustic tokens side by
# side, generate the test set (tokens), and return the run folders without LM weights (their hashes are in
# *.train.json). Carried folder gpu_lm/ = wheels + speech/small manifest + token caches + codec checkpoints
# (no audio: the LM reads only tokens). Back here: unpack into the same data root and run
#   BENCH_DATA=gpu_carry/data bench run --codec xcodec,xcodec-acoustic --task tts --preset small
# which finds the generated tokens, decodes and scores them.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
  gpu_lm/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD BENCH_DATA=$PWD/gpu_lm/data HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name --format=csv,noheader
for c in xcodec xcodec-acoustic; do
  python3 -m bench.cli run --codec $c --task tts --preset small --device cuda --until generate > "$OUT/lm-$c.log" 2>&1 &
done
wait
for c in xcodec xcodec-acoustic; do tr '\r' '\n' < "$OUT/lm-$c.log" | grep -v '^\s*$' | tail -n 6; done
cd gpu_lm/data && tar -cf /tmp/runs.tar --exclude='*.pt' runs && cd - >/dev/null
split -b 15m -d /tmp/runs.tar "$OUT/runs.tar.part"
ls -la "$OUT"
