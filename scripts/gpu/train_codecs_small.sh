#!/usr/bin/env bash
# On a lent GPU machine (no registry): train xcodec and xcodec-acoustic `small` side by side on one GPU,
# store their generators in fp16 (the return limit is 64 MiB), tokenize the carried speech subset with
# both, and leave codecs + token caches as a split tar under $OUT (files of <= 15 MiB).
# Carried folder made here by:
#   python scripts/gpu/pack.py --recipe speech --preset small --splits train,valid,test --max-mb 38 \
#       --extra cache/whisper/tiny.en-encoder.pt --wheels .whl
# Back here: bash scripts/gpu/unpack.sh <files_at> small.tar gpu_carry/data
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
  gpu_carry/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD BENCH_DATA=$PWD/gpu_carry/data HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
M=gpu_carry/data/datasets/speech/small/manifest.jsonl
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
bench() { python3 -m bench.cli "$@"; }
bench train-codec xcodec --preset small --device cuda --manifest "$M" > "$OUT/xcodec.log" 2>&1 &
p1=$!
bench train-codec xcodec-acoustic --preset small --device cuda --manifest "$M" > "$OUT/acoustic.log" 2>&1 &
p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
for f in "$OUT/xcodec.log" "$OUT/acoustic.log"; do tr '\r' '\n' < "$f" | grep -v '^\s*$' | tail -n 3; done
[ $r1 = 0 ] && [ $r2 = 0 ] || exit 1
python3 scripts/gpu/export_fp16.py gpu_carry/data/codecs/xcodec*/small-*/ckpt.pt
for c in xcodec xcodec-acoustic; do
  bench tokenize --codec $c --recipe speech --preset small --device cuda --batch-size 32 > "$OUT/tok-$c.log" 2>&1 \
    || { tail -n 30 "$OUT/tok-$c.log"; exit 1; }
done
cd gpu_carry/data && tar -cf /tmp/small.tar --exclude='last.pt' --exclude='*.lock' codecs/xcodec/small-* \
  codecs/xcodec-acoustic/small-* tokens && cd - >/dev/null
split -b 15m -d /tmp/small.tar "$OUT/small.tar.part"
ls -la "$OUT"
