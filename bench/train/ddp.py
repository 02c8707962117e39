"""DDP entry point: ``torchrun --nproc-per-node N -m bench.train.ddp NAME --preset P [--set k=v] [--device cuda]``.

gloo on CPU, NCCL on GPU. Each process draws its own batches (seeded by rank); rank 0 writes.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as tdist

from bench.train.loop import Dist
from bench.train.run import train_codec


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="bench.train.ddp")
    p.add_argument("name")
    p.add_argument("--preset", default="smoke")
    p.add_argument("--set", dest="sets", action="append", default=[])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--manifest", default=None)
    p.add_argument("--device", default="cpu")
    a = p.parse_args(argv)
    rank, world, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    cuda = a.device.startswith("cuda")
    tdist.init_process_group("nccl" if cuda else "gloo")
    try:
        if not cuda:
            torch.set_num_threads(1)
        device = f"cuda:{local}" if cuda else "cpu"
        out = train_codec(a.name, a.preset, a.sets, a.data_dir, device, a.manifest, dist=Dist(rank, world, local))
        if rank == 0:
            print(out)
    finally:
        tdist.destroy_process_group()


if __name__ == "__main__":
    main()
