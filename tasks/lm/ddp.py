"""DDP entry point: ``torchrun --nproc_per_node N -m bench.tasks.lm.ddp --run-dir D --stage ar``.

Rebuilds the run's context from ``state.json`` (no codec needed: the LM reads the token cache only)
and trains one stage; ``bench run --nproc N`` launches it. Gloo on CPU, NCCL on GPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--stage", required=True)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    import torch

    from bench.tasks.lm.train import train
    from bench.tasks.runner import context_from_run_dir

    torch.set_num_threads(1)
    task_obj, ctx = context_from_run_dir(Path(a.run_dir))
    train(task_obj.objective(a.stage, ctx), ctx.cfg, ctx.run_dir, a.stage, device=a.device,
          heldout=task_obj.heldout(a.stage, ctx))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
