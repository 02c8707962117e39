"""The LM training loop, shared by every task and codec: same optimizer, schedule, steps and seeding.

Resumable by construction: the batch at step s and the dropout seed at step s are functions of
(seed, stage, s) alone, and a checkpoint holds model + optimizer + step, so a run killed and resumed
ends with the same weights as one that never stopped. Under ``torchrun`` (WORLD_SIZE > 1) it trains
with DDP: every rank draws the same global batch and takes its slice (gloo on CPU, NCCL on GPU).

Given a held-out objective (the valid split), rank 0 scores it every ``train.val_every`` steps and after
the last step, with fixed batches and no early stopping: the held-out curve shows memorising where the
training loss cannot, and the last pass is the run's LM-readiness measurement (``<stage>.train.json``).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from bench.atomic import atomic_path, write_json
from bench.tasks.config import TaskConfig, TrainCfg
from bench.tasks.lm import heldout as ho
from bench.tasks.lm.transformer import LMShape, TokenLM
from bench.tasks.lm.vocab import IGNORE

KILL_ENV = "BENCH_TEST_KILL_AT"  # test hook: "<stage>:<step>" raises at that step (simulates a kill)


class Objective(Protocol):
    """What a task gives the trainer: examples, how to batch them, and the loss."""

    shape: LMShape

    def n_examples(self) -> int: ...

    def batch(self, idx: np.ndarray, rng: np.random.Generator) -> dict[str, torch.Tensor]: ...

    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...


def val_due(step: int, cfg: TrainCfg) -> bool:
    """Whether the held-out pass runs after ``step``'s update: every ``val_every`` steps, and after the last."""
    return step == cfg.steps - 1 or (cfg.val_every > 0 and (step + 1) % cfg.val_every == 0)


def masked_ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over target positions != IGNORE. logits [B,K,L,V], targets [B,K,L]."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)


def lr_at(step: int, cfg: TrainCfg) -> float:
    """Linear warmup then cosine decay to ``lr * min_lr_ratio`` at the last step."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    p = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def step_rng(seed: int, stage: str, step: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(stage.encode()), step])


def setup_precision(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype (None = fp32). On CUDA ``auto`` means bf16 autocast with TF32 matmuls."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    return torch.bfloat16


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def build_model(cfg: TaskConfig, shape: LMShape, seed: int) -> TokenLM:
    torch.manual_seed(seed)
    return TokenLM(cfg.lm, shape)


def _dist() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


def _save(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def final_path(out_dir: Path, stage: str) -> Path:
    return Path(out_dir) / f"{stage}.final.pt"


def train(
    objective: Objective, cfg: TaskConfig, out_dir: Path, stage: str, device: str = "cpu", log=print,
    heldout: ho.HeldOutObjective | None = None,
) -> Path:
    """Train one model (``stage`` names it: "ar", "nar", "lm") to ``cfg.train.steps``; return the final checkpoint.

    ``heldout`` (the valid split, :mod:`bench.tasks.lm.heldout`) is scored by rank 0 when :func:`val_due`;
    it never touches the weights, the optimizer or the training randomness.
    """
    out_dir = Path(out_dir)
    final = final_path(out_dir, stage)
    if final.is_file():
        summary_path = out_dir / f"{stage}.train.json"
        if not summary_path.is_file():  # killed between the weights and their summary: the summary is in them
            saved = torch.load(final, map_location="cpu", weights_only=True).get("summary")
            if saved is None:
                raise RuntimeError(f"{final}: no {summary_path.name} and no summary inside (written by an older "
                                   f"version): delete {final} and rerun to retrain this stage")
            write_json(summary_path, saved)
        log(f"[{stage}] trained already: {final}")
        return final
    tc = cfg.train
    world, rank, local_rank = _dist()
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    dev = torch.device(f"cuda:{local_rank}" if device.startswith("cuda") and world > 1 else device)
    amp = setup_precision(dev, tc.precision)
    model = build_model(cfg, objective.shape, tc.seed).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, betas=tuple(tc.betas), weight_decay=tc.weight_decay)
    last = out_dir / f"{stage}.last.pt"
    start, history, val_curve = 0, [], []
    if last.is_file():
        ck = torch.load(last, map_location=dev, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optim"])
        start, history, val_curve = ck["step"], ck["history"], ck.get("val", [])
        log(f"[{stage}] resuming from step {start}/{tc.steps}")
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if dev.type == "cuda" else None)
    if tc.compile:
        net = torch.compile(net, dynamic=True)
    writer = _tb(out_dir / "tb" / stage) if rank == 0 else None
    kill = os.environ.get(KILL_ENV, "")
    n = objective.n_examples()
    validate = heldout is not None and rank == 0 and heldout.n_examples() > 0
    if rank == 0 and heldout is not None and not validate:
        log(f"[{stage}] no valid-split utterances: no held-out loss")
    last_val: ho.HeldOut | None = None
    from tqdm import tqdm

    bar = tqdm(range(start, tc.steps), desc=f"train {stage}", initial=start, total=tc.steps, disable=rank != 0)
    t0, toks = time.time(), 0
    for step in bar:
        if kill == f"{stage}:{step}":
            raise KeyboardInterrupt(f"{KILL_ENV}: simulated kill at {stage} step {step}")
        model.train()
        rng = step_rng(tc.seed, stage, step)
        idx = rng.choice(n, size=tc.batch_size, replace=n < tc.batch_size)[rank::world]
        batch = {k: v.to(dev) for k, v in objective.batch(idx, rng).items()}
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tc)
        torch.manual_seed(tc.seed * 1_000_003 + step)  # dropout depends on the step only
        with autocast(dev, amp):
            loss = objective.loss(net, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        toks += int(batch["n_tokens"].sum()) if "n_tokens" in batch else 0
        lv = float(loss.detach())
        history.append(lv)
        if step % tc.log_every == 0 or step == tc.steps - 1:
            bar.set_postfix(loss=f"{lv:.3f}", lr=f"{lr_at(step, tc):.1e}")
            if writer is not None:
                writer.add_scalar("loss", lv, step)
                writer.add_scalar("lr", lr_at(step, tc), step)
                writer.add_scalar("grad_norm", float(gnorm), step)
        if validate and val_due(step, tc):
            last_val = ho.evaluate(model, heldout, heldout.val_batches(tc.batch_size), objective.shape.code_vocab,
                                   dev, amp)
            val_curve.append([step, round(last_val.mean_nll(), 5)])
            bar.set_postfix(loss=f"{lv:.3f}", val=f"{val_curve[-1][1]:.3f}")
            if writer is not None:
                writer.add_scalar("val_loss", val_curve[-1][1], step)
        if rank == 0 and ((step + 1) % tc.ckpt_every == 0) and step + 1 < tc.steps:
            _save(last, {"model": model.state_dict(), "optim": opt.state_dict(), "step": step + 1, "history": history,
                         "val": val_curve})
    wall = time.time() - t0
    if rank == 0:
        meta = {"stage": stage, "steps": tc.steps, "n_params": model.n_params(), "final_loss": history[-1] if history
                else None, "history": history, "wall_s": wall, "tokens": toks, "world_size": world}
        summary = {k: v for k, v in meta.items() if k != "history"}
        summary["weights_sha"] = weights_sha(model.state_dict())
        summary["curve"] = {**downsample_curve(history), "val_step": [int(v[0]) for v in val_curve],
                            "val_loss": [v[1] for v in val_curve]}
        summary["final_val_loss"] = val_curve[-1][1] if val_curve else None
        if last_val is not None:
            summary["heldout"] = {"split": "valid", "step": int(val_curve[-1][0]), **last_val.to_json()}
            other = getattr(heldout, "with_other_text", None)
            o = other() if other is not None else None
            if o is not None:  # the same pass with each utterance's text swapped for another's
                summary["heldout_other_text"] = ho.evaluate(model, o, o.val_batches(tc.batch_size),
                                                            objective.shape.code_vocab, dev, amp).to_json()
        # weights first (with their summary), the summary file last: it marks the stage done
        _save(final, {"model": model.state_dict(), "meta": meta, "shape": objective.shape.__dict__,
                      "summary": summary})
        write_json(out_dir / f"{stage}.train.json", summary)
        last.unlink(missing_ok=True)
        val = f", held-out {summary['final_val_loss']:.3f}" if val_curve else ""
        log(f"[{stage}] done: {tc.steps} steps, loss {meta['final_loss']:.3f}{val}, {wall:.0f} s")
    if writer is not None:
        writer.close()
    if world > 1:
        torch.distributed.barrier()
    return final


def downsample_curve(history: list[float], points: int = 200) -> dict[str, list]:
    """Loss per step, averaged into at most ``points`` buckets (what reports plot as the training curve)."""
    if not history:
        return {"step": [], "loss": []}
    size = max(1, -(-len(history) // points))
    steps, losses = [], []
    for i in range(0, len(history), size):
        chunk = history[i : i + size]
        steps.append(i + len(chunk) - 1)
        losses.append(round(sum(chunk) / len(chunk), 5))
    return {"step": steps, "loss": losses}


def weights_sha(state: dict) -> str:
    """Hash of a model's weights (not of a checkpoint file, whose metadata holds wall times)."""
    import hashlib

    h = hashlib.sha256()
    for k, v in sorted(state.items()):
        h.update(k.encode())
        h.update(v.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def load_trained(path: Path, cfg: TaskConfig, device: str = "cpu") -> TokenLM:
    ck = torch.load(path, map_location=device, weights_only=True)
    model = TokenLM(cfg.lm, LMShape(**ck["shape"])).to(device)
    model.load_state_dict(ck["model"])
    return model.eval()


def _tb(path: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # noqa: BLE001 - TensorBoard is a convenience, never a reason to stop training
        return None
    return SummaryWriter(str(path))
