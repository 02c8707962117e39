#!/usr/bin/env bash
# Reassemble a split tar the GPU run left under its $OUT (files_at) into the data dir.
#   bash scripts/gpu/unpack.sh /work/.device/<files_at> codecs.tar [data]
set -euo pipefail
src=$1; name=$2; dst=${3:-data}
mkdir -p "$dst"
cat "$src/$name".part* | tar -x -C "$dst"
echo "unpacked $name into $dst"
