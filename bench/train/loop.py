"""The GAN training loop shared by every trainable codec.

One call trains (or resumes) a run folder: ``ckpt.pt`` (export), ``last.pt`` (resume state),
``config.yaml``, ``tb/``. A rerun of a finished folder is a no-op; a killed run resumes at its last
checkpoint step with models, optimizers, schedulers and RNG restored and the batch sequence unchanged.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from bench.train import checkpoint as ck
from bench.train.interface import TrainableCodec


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


@dataclass
class State:
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)  # the logged scalars (also in TensorBoard)


def _barrier(d: Dist) -> None:
    if d.world > 1:
        torch.distributed.barrier()


def _autocast(device: torch.device, precision: str):
    if device.type == "cuda" and precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def check_loss_weights(weights: dict[str, float], losses: dict[str, torch.Tensor], adversarial: bool) -> None:
    """A weight whose key names no loss the generator produced would silently weigh nothing (a misspelt
    ``rec/mell``): refuse it. Adversarial losses (``adv/...``) exist only from ``disc_start`` on."""
    unknown = sorted(k for k, w in weights.items()
                     if w and k not in losses and (adversarial or not k.startswith("adv/")))
    if unknown:
        raise ValueError(f"loss weights name no loss the model produces: {', '.join(unknown)}; "
                         f"its losses: {', '.join(sorted(losses))}")


def _weighted(losses: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    terms = [weights[k] * v.float() for k, v in losses.items() if weights.get(k)]
    return torch.stack(terms).sum()


def train(trainable: TrainableCodec, manifest: str | Path, out_dir: str | Path, config_dict: dict[str, Any],
          device: str = "cpu", cache_dir: str | Path | None = None, dist: Dist | None = None,
          stop_after: int | None = None, progress: bool = True) -> State:
    """Train ``trainable`` on ``manifest`` into ``out_dir``; ``stop_after`` ends early (kill simulation).

    One trainer per run folder: a second ``train`` on the same folder waits for the first (then finds
    it finished, or resumes it), so a task that trains a missing codec never races the codec's own run.
    """
    from filelock import FileLock

    d = dist or Dist()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(Path(out_dir) / ".train.lock")) if d.main else contextlib.nullcontext()
    with lock:
        return _train(trainable, manifest, out_dir, config_dict, device, cache_dir, d, stop_after, progress)


def _train(trainable: TrainableCodec, manifest, out_dir, config_dict, device, cache_dir, d: Dist, stop_after,
           progress) -> State:
    from bench.atomic import write_text

    tc = trainable.train_cfg
    out_dir = Path(out_dir)
    dev = torch.device(device)
    if dev.type == "cuda":
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(dev)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True  # fixed segment shapes: pick the fastest conv kernels once
    torch.manual_seed(tc.seed)

    gen = trainable.build_generator().to(dev)
    disc = trainable.build_discriminator()
    disc = disc.to(dev) if disc is not None else None
    opt_g = torch.optim.AdamW(gen.parameters(), tc.lr, betas=tuple(tc.betas), weight_decay=tc.weight_decay)
    sch_g = torch.optim.lr_scheduler.ExponentialLR(opt_g, tc.lr_gamma)
    opt_d = sch_d = None
    if disc is not None:
        opt_d = torch.optim.AdamW(disc.parameters(), tc.lr, betas=tuple(tc.betas), weight_decay=tc.weight_decay)
        sch_d = torch.optim.lr_scheduler.ExponentialLR(opt_d, tc.lr_gamma)

    parts = Trainees(gen, opt_g, sch_g, disc, opt_d, sch_d)
    state = State()
    last = out_dir / "last.pt"
    if last.is_file():
        st = ck.load(last)
        parts.load_state_dict(st)
        ck.set_rng_state(st["rng"])
        state.step = int(st["step"])
    if state.step >= tc.steps:
        if d.main and not (out_dir / "ckpt.pt").is_file():  # killed between last.pt and the export: finish it
            ck.save(out_dir / "ckpt.pt", ck.export(trainable.family, config_dict, gen.state_dict(), state.step,
                                                   trainable.teacher_id(), ck.manifest_identity(manifest)))
        return state

    if d.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        import yaml

        write_text(out_dir / "config.yaml", yaml.safe_dump(config_dict, sort_keys=True))
    # Teacher features are cached per utterance on disk: rank 0 computes, the others read.
    if d.main:
        data = _data(trainable, manifest, cache_dir, progress)
    _barrier(d)
    if not d.main:
        data = _data(trainable, manifest, cache_dir, False)

    data_id = ck.manifest_identity(manifest)
    g_model, d_model = gen, disc
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [dev.index] if dev.type == "cuda" else None
        g_model = DDP(gen, device_ids=ids)
        if disc is not None:
            d_model = DDP(disc, device_ids=ids)

    writer = None
    if d.main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out_dir / "tb"), purge_step=state.step)
    weights = trainable.loss_weights
    gen.train()
    if disc is not None:
        disc.train()
    bar = tqdm(total=tc.steps, initial=state.step, desc=f"train {out_dir.parent.name}/{out_dir.name}",
               disable=not (progress and d.main))
    t_data = t_step = 0.0
    n_timed = 0
    end = tc.steps if stop_after is None else min(tc.steps, stop_after)
    deadline = time.monotonic() + tc.max_minutes * 60 if tc.max_minutes > 0 else None
    stopped = False
    checked = False  # loss-weight keys checked against the first step's losses
    while state.step < end:
        if deadline is not None and _out_of_time(deadline, dev, d):
            stopped = True  # checkpointed below; a rerun resumes from here
            break
        t0 = time.perf_counter()
        cpu_batch = data.batch(state.step, tc.batch_size, tc.seed, d.rank)
        batch = {k: v.to(dev, non_blocking=True) for k, v in cpu_batch.items()}
        wav = batch.pop("wav")
        t1 = time.perf_counter()
        adversarial = disc is not None and state.step >= tc.disc_start
        with _autocast(dev, tc.precision):
            out = g_model(wav, batch)
        logs: dict[str, torch.Tensor] = {}
        if adversarial:
            with _autocast(dev, tc.precision):
                d_losses = trainable.discriminator_losses(wav, out["audio"].detach(), d_model)
            opt_d.zero_grad(set_to_none=True)
            _weighted(d_losses, {k: 1.0 for k in d_losses}).backward()
            logs["grad/d"] = torch.nn.utils.clip_grad_norm_(disc.parameters(), tc.grad_clip)
            opt_d.step()
            logs.update(d_losses)
        with _autocast(dev, tc.precision):
            g_losses = trainable.generator_losses(wav, out, d_model, adversarial)
        losses = {k: v for k, v in {**out, **g_losses}.items() if "/" in k}
        if not checked:
            check_loss_weights(weights, losses, adversarial)
            checked = True
        total = _weighted(losses, weights)
        opt_g.zero_grad(set_to_none=True)
        total.backward()
        logs["grad/g"] = torch.nn.utils.clip_grad_norm_(gen.parameters(), tc.grad_clip)
        opt_g.step()
        sch_g.step()
        if adversarial:
            sch_d.step()
        state.step += 1
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t2 = time.perf_counter()
        t_data += t1 - t0
        t_step += t2 - t0
        n_timed += 1
        logs.update(losses)
        logs["loss/total"] = total
        if d.main and (state.step % tc.log_every == 0 or state.step == end):
            scalars = {k: float(v.detach()) for k, v in logs.items()}
            scalars["lr"] = sch_g.get_last_lr()[0]
            scalars["time/data_share"] = t_data / max(t_step, 1e-9)
            scalars["time/steps_per_s"] = n_timed / max(t_step, 1e-9)
            for k, v in scalars.items():
                writer.add_scalar(k, v, state.step)
            state.history.append({"step": state.step, **scalars})
            bar.set_postfix({k: f"{scalars[k]:.3g}" for k in ("loss/total", "rec/stft", "sem/mse") if k in scalars})
            t_data = t_step = 0.0
            n_timed = 0
        bar.update(1)
        if state.step % tc.ckpt_every == 0 or state.step == end:
            if d.main:
                _save(trainable, out_dir, config_dict, state.step, parts,
                      export=state.step == tc.steps, data=data_id)
            _barrier(d)
    if stopped and d.main:
        _save(trainable, out_dir, config_dict, state.step, parts, export=True,
              data=data_id)
    bar.close()
    if writer is not None:
        writer.close()
    return state


def _out_of_time(deadline: float, dev: torch.device, d: Dist) -> bool:
    if d.world == 1:
        return time.monotonic() > deadline
    # every process must stop at the same step under DDP: rank 0 decides
    flag = torch.tensor([float(time.monotonic() > deadline)], device=dev if dev.type == "cuda" else "cpu")
    torch.distributed.broadcast(flag, 0)
    return bool(flag.item())


def _data(trainable: TrainableCodec, manifest, cache_dir, progress):
    from bench.paths import sub
    from bench.train.data import SegmentData

    tc = trainable.train_cfg
    cache = Path(cache_dir) if cache_dir else sub("cache", "teacher")
    return SegmentData(manifest, tc.split, trainable.sample_rate, trainable.hop_length, tc.segment_seconds,
                       trainable.teacher, cache, progress)


@dataclass
class Trainees:
    """What a codec run trains and resumes: generator, discriminator (or None), their optimizers and schedules.

    One ``state_dict`` for ``last.pt`` (the keys checkpoints have always had), one ``load_state_dict``."""

    gen: torch.nn.Module
    opt_g: torch.optim.Optimizer
    sch_g: Any
    disc: torch.nn.Module | None = None
    opt_d: torch.optim.Optimizer | None = None
    sch_d: Any = None

    def state_dict(self) -> dict[str, Any]:
        out = {"generator": self.gen.state_dict(), "opt_g": self.opt_g.state_dict(), "sch_g": self.sch_g.state_dict()}
        if self.disc is not None:
            out.update(discriminator=self.disc.state_dict(), opt_d=self.opt_d.state_dict(),
                       sch_d=self.sch_d.state_dict())
        return out

    def load_state_dict(self, st: dict[str, Any]) -> None:
        self.gen.load_state_dict(st["generator"])
        self.opt_g.load_state_dict(st["opt_g"])
        self.sch_g.load_state_dict(st["sch_g"])
        if self.disc is not None:
            self.disc.load_state_dict(st["discriminator"])
            self.opt_d.load_state_dict(st["opt_d"])
            self.sch_d.load_state_dict(st["sch_d"])


def _save(trainable, out_dir: Path, config_dict: dict, step: int, parts: Trainees, export: bool = False,
          data: dict | None = None) -> None:
    full = {"step": step, **parts.state_dict(), "rng": ck.rng_state(), "config": config_dict}
    ck.save(out_dir / "last.pt", full)
    if export:  # ckpt.pt appears only for a finished (or budget-stopped) run: plugins never load a half-trained one
        ck.save(out_dir / "ckpt.pt", ck.export(trainable.family, config_dict, full["generator"], step,
                                               trainable.teacher_id(), data))


def run_dir(name: str, preset: str, cfg_hash: str, data_dir=None) -> Path:
    from bench.paths import codec_run_dir

    return codec_run_dir(name, preset, cfg_hash, data_dir)


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
