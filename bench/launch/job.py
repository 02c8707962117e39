"""What runs inside a launched job: the same :func:`bench.tasks.runner.run` as ``--launcher local``, so the
records are the same, with the job's state and log kept in the matrix state file.

A :class:`Job` is pickled to the worker (submitit, Ray), so it carries only plain values and absolute roots.
Its ``checkpoint`` is submitit's pre-emption hook: on slurm's (or the local executor's) warning signal the same
job is requeued, and the runner resumes from the stages it finished (never with ``force`` again).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.launch import state


@dataclass(frozen=True)
class Job:
    key: str  # "codec:<codec>" or "<task>/<codec>"
    kind: str  # "codec" (stages up to tokenize, for each of ``tasks``) or "cell" (the whole run of tasks[0])
    tasks: tuple[str, ...]
    codec: str
    preset: str
    overrides: tuple[str, ...]
    device: str
    nproc: int  # LM (and missing trained-here codec) training processes, through torchrun inside the job
    force: bool
    data_dir: str
    results_dir: str
    state_file: str
    log: str
    # called with the job in the worker before it runs: plugins a Python caller registered in code
    # (the CLI's plugins come through entry points and need none)
    setup: tuple[Callable[[Job], Any], ...] = ()
    threads: int = 0  # CPU threads of this job (LauncherOptions.threads); 0 = the libraries' default

    def __call__(self) -> int:
        """Run the job; return the number of records written (0 for a codec job)."""
        from bench import paths

        use_threads(self.threads)

        paths.use_root(paths.ENV_DATA, self.data_dir)
        paths.use_root(paths.ENV_RESULTS, self.results_dir)
        for f in self.setup:
            f(self)
        sf = Path(self.state_file)
        with state.editing(sf) as st:
            e = st["jobs"].setdefault(self.key, {})
            e.update(state="running", started=time.time(), ended=None, error=None, attempts=e.get("attempts", 0) + 1,
                     **state.here())
        Path(self.log).parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a", buffering=1) as logf:
            def echo(msg: str) -> None:
                print(msg, flush=True)
                logf.write(time.strftime("%H:%M:%S ") + msg + "\n")

            threads = f", {self.threads} thread(s)" if self.threads else ""
            echo(f"launch: {self.key} ({self.kind} job, attempt {e['attempts']}{threads}) on {state.here()['host']}")
            try:
                n = self._work(echo)
            except SystemExit:  # submitit's pre-emption handler: checkpointed and requeued
                echo(f"launch: {self.key} pre-empted; requeued (finished stages are kept)")
                state.update(sf, self.key, state="requeued", ended=time.time())
                raise
            except BaseException as err:  # a kill (KeyboardInterrupt) too: the status shows it failed
                logf.write(traceback.format_exc())
                state.update(sf, self.key, state="failed", ended=time.time(),
                             error=f"{type(err).__name__}: {err}".splitlines()[0][:300])
                raise
            echo(f"launch: {self.key} done")
        state.update(sf, self.key, state="done", ended=time.time())
        return n

    def _work(self, echo: Callable[[str], None]) -> int:
        from bench.tasks.runner import run

        kw: dict[str, Any] = dict(overrides=list(self.overrides), device=self.device, data_dir=self.data_dir,
                                  results_dir=self.results_dir, nproc=self.nproc, echo=echo)
        if self.kind == "codec":
            for t in self.tasks:
                if self.nproc > 1:
                    train_codec_ddp(t, self.codec, self.preset, self.overrides, self.nproc, self.device,
                                    self.data_dir, echo)
                run(t, self.codec, self.preset, until="tokenize", **kw)
            return 0
        return len(run(self.tasks[0], self.codec, self.preset, force=self.force, **kw))

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """submitit's pre-emption hook: requeue this job as it is (it resumes from the finished stages)."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(dataclasses.replace(self, force=False))


def use_threads(n: int) -> None:
    """Cap this process's CPU threads at ``n`` (0: leave the defaults): torch's intra-op pool, and
    OMP_NUM_THREADS for what reads it later (faster-whisper's CTranslate2 threads, torchrun's workers)."""
    if n <= 0:
        return
    os.environ["OMP_NUM_THREADS"] = str(n)
    import torch

    torch.set_num_threads(n)


def train_codec_ddp(task: str, codec: str, preset: str, overrides: tuple[str, ...], nproc: int, device: str,
                    data_dir: str, echo: Callable[[str], None]) -> None:
    """A trained-here codec without weights is trained on ``nproc`` processes (torchrun, ``bench.train.ddp``)
    before the runner would train it on one; a codec with weights, or a published one, is left alone."""
    from bench.codecs import get_codec
    from bench.tasks.config import load_task_config

    codec_preset = load_task_config(task, preset, list(overrides)).data.codec_preset
    w = get_codec(codec, preset=codec_preset, data_dir=data_dir).weights()
    if w.present or w.origin != "trained-here":
        return
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "bench.train.ddp", codec, "--preset", codec_preset, "--data-dir", str(data_dir), "--device", device]
    echo(f"codec: {codec} ({codec_preset}) on {nproc} processes: {' '.join(cmd)}")
    rc = subprocess.run(cmd, env={**os.environ}).returncode
    if rc != 0:
        raise RuntimeError(f"DDP training of codec {codec} failed (exit {rc}); relaunch to resume from its checkpoint")
