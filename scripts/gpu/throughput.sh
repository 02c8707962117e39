#!/usr/bin/env bash
# On a lent GPU machine: LM training throughput + MFU (tts small) and codec training steps/s (xcodec and
# xcodec-acoustic small, on the carried speech smoke clips). Carry gpu_tp/ = wheels + speech/smoke + encoder.
# Outputs JSON under $OUT; copy them to results/throughput/ here.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
  gpu_tp/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD BENCH_DATA=$PWD/gpu_tp/data HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
M=gpu_tp/data/datasets/speech/smoke/manifest.jsonl
python3 scripts/bench_lm_throughput.py --task tts --preset small --device cuda --steps 30 > "$OUT/lm_tts_small_gpu.json"
cat "$OUT/lm_tts_small_gpu.json"
for c in xcodec xcodec-acoustic; do
  python3 scripts/bench_codec_train.py --codec $c --preset small --device cuda --manifest "$M" --steps 30 \
    --out "$OUT/codec_train_${c}_small_gpu.json" > "$OUT/codec_train_$c.log" 2>&1 || tail -20 "$OUT/codec_train_$c.log"
  cat "$OUT/codec_train_${c}_small_gpu.json"
done
