"""Codec training throughput: steps/s, samples/s, audio seconds/s, peak memory, data-loading share.

Runs the shared trainer for a few steps on a preset (default: xcodec smoke on the speech smoke data)
in a temporary run folder, timing the warm-up-free steps. Examples:

    .venv/bin/python scripts/bench_codec_train.py --codec xcodec --preset smoke --steps 20
    .venv/bin/python scripts/bench_codec_train.py --codec xcodec --preset small --device cuda --steps 50 \
        --manifest data/datasets/speech/small/manifest.jsonl

Prints one JSON object (and appends it to --out when given). Adversarial steps are timed by
setting ``train.disc_start=0``; ``--no-disc`` times the reconstruction warm-up phase instead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--codec", default="xcodec")
    p.add_argument("--preset", default="smoke")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--manifest", default=None)
    p.add_argument("--set", dest="sets", action="append", default=[])
    p.add_argument("--no-disc", action="store_true")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)

    import torch

    from bench.train.loop import train
    from bench.train.run import resolve

    torch.set_num_threads(a.threads)
    total = a.steps + a.warmup
    sets = [*a.sets, f"train.steps={total}", f"train.log_every={a.steps}", f"train.ckpt_every={10**9}",
            f"train.disc_start={10**9 if a.no_disc else 0}"]
    trainable, cfg = resolve(a.codec, a.preset, sets, device=a.device)
    manifest = a.manifest
    if manifest is None:
        from bench.data import ensure_built

        manifest = ensure_built("speech", a.preset)
    if a.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        # the warm-up steps (k-means init, lazy allocations) run first and are not timed
        train(trainable, manifest, Path(tmp), cfg, device=a.device, stop_after=a.warmup, progress=False)
        t0 = time.perf_counter()
        state = train(trainable, manifest, Path(tmp), cfg, device=a.device, progress=False)
        wall = time.perf_counter() - t0
    last = state.history[-1]
    tc = trainable.train_cfg
    res = {
        "codec": a.codec, "preset": a.preset, "device": a.device, "threads": a.threads,
        "adversarial": not a.no_disc, "steps": a.steps, "batch_size": tc.batch_size,
        "segment_seconds": tc.segment_seconds,
        "steps_per_s": last["time/steps_per_s"],
        "samples_per_s": last["time/steps_per_s"] * tc.batch_size,
        "audio_seconds_per_s": last["time/steps_per_s"] * tc.batch_size * tc.segment_seconds,
        "data_share": last["time/data_share"],
        "wall_s_incl_setup": round(wall, 2),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if a.device.startswith("cuda") else None,
        "hardware": f"{os.cpu_count()} cpu" + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available()
                                              else ""),
    }
    print(json.dumps(res))
    if a.out:
        with open(a.out, "a") as f:
            f.write(json.dumps(res) + "\n")
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
