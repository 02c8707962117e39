"""Store a codec checkpoint's generator tensors in float16 (the device tool returns at most 64 MiB).

The loader copies them into float32 parameters, so every later use (tokenizing, evaluation, decoding)
runs the same fp16-rounded model; run this BEFORE tokenizing so tokens match the returned weights.

    python scripts/gpu/export_fp16.py data/codecs/xcodec/small-*/ckpt.pt
"""

from __future__ import annotations

import sys

import torch


def main() -> None:
    for path in sys.argv[1:]:
        ck = torch.load(path, map_location="cpu", weights_only=True)
        gen = ck["generator"]
        ck["generator"] = {k: v.half() if v.is_floating_point() else v for k, v in gen.items()}
        ck["exported"] = "generator tensors stored as float16"
        torch.save(ck, path)
        print(f"{path}: generator -> float16")


if __name__ == "__main__":
    main()
