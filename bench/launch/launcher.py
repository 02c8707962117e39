"""Submit a matrix's job graph to slurm (submitit), submitit's local executor or Ray.

slurm gets every job at once, the cells with an ``afterok`` dependency on their codec job (one job array
per group, at most ``array_parallelism`` running); the launcher returns and ``bench status`` follows them.
submitit-local and Ray have no job dependencies here, so the launcher holds the queue: it submits the codec
jobs, submits a codec's cells once its job is done (or marks them failed if it failed), runs at most
``array_parallelism`` jobs at once and waits for the last one.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import paths
from bench.launch import graph as graph_mod
from bench.launch import state
from bench.launch.job import Job
from bench.launch.options import LauncherError, LauncherOptions


def launch(tasks: list[str], codecs: list[str], preset: str, overrides: tuple[str, ...] | list[str] = (), *,
           options: LauncherOptions, device: str = "cpu", nproc: int = 1, force: bool = False,
           data_dir: str | os.PathLike | None = None, results_dir: str | os.PathLike | None = None,
           echo: Callable[[str], None] = print, setup: tuple[Callable[[Job], Any], ...] = (),
           poll_s: float = 1.0) -> dict[str, str]:
    """Submit what is left of the matrix; return ``{job key: state}`` (``pending`` for jobs left to slurm).
    ``setup`` callables run in each worker first (plugins registered in code, see :class:`Job`)."""
    if options.launcher == "local":
        raise LauncherError("launch: the local launcher is `bench run` itself (bench.commands.run.run_cells) — "
                            "use it directly")
    if options.gpus_per_node and not device.startswith("cuda"):
        raise LauncherError(f"gpus_per_node={options.gpus_per_node} with --device {device} — pass --device cuda")
    g = graph_mod.build(list(tasks), list(codecs), preset, tuple(overrides), force, data_dir)
    data = paths.data_root(data_dir)
    results = paths.results_root(results_dir)
    folder = paths.launch_dir(g.variant, data)
    sf = folder / state.STATE_FILE
    folder.mkdir(parents=True, exist_ok=True)
    with state.editing(sf) as st:
        st["preset"], st["base_preset"], st["overrides"] = g.variant, preset, list(overrides)
        st["launcher"] = {"name": options.launcher, "started": time.time(), "argv": sys.argv, **state.here()}
        for cell in g.skipped:
            old = st["jobs"].get(cell.key, {})
            if old.get("state") != "done":
                st["jobs"][cell.key] = {"kind": "cell", "task": cell.task, "codec": cell.codec,
                                        "run_dir": str(cell.run_dir), "state": "skipped", "job_id": None,
                                        "note": "finished before this launch"}
    if g.skipped:
        echo(f"launch: {len(g.skipped)} cell(s) finished already: {', '.join(c.key for c in g.skipped)}")
    out = {c.key: "skipped" for c in g.skipped}
    if not g.todo:
        echo("launch: nothing to submit")
        return out
    gpus = options.gpus_per_node or (1 if device.startswith("cuda") else 0)
    job_nproc = gpus if gpus > 1 else nproc

    def make(key: str, kind: str, tasks_: list[str], codec: str) -> Job:
        return Job(key=key, kind=kind, tasks=tuple(tasks_), codec=codec, preset=preset, overrides=tuple(overrides),
                   device=device, nproc=job_nproc, force=force and kind == "cell", data_dir=str(data),
                   results_dir=str(results), state_file=str(sf), log=str(folder / "logs" / _file_name(key)),
                   setup=tuple(setup), threads=options.threads())

    codec_jobs = {c: make(graph_mod.codec_key(c), "codec", ts, c) for c, ts in g.codec_jobs.items()}
    cell_jobs = {cell.key: make(cell.key, "cell", [cell.task], cell.codec) for cell in g.todo}
    deps = {cell.key: g.depends_on(cell) for cell in g.todo}
    backend = _backend(options, folder / "submitit", gpus)  # a missing library fails before any entry is written
    with state.editing(sf) as st:
        for job in [*codec_jobs.values(), *cell_jobs.values()]:
            e = {"kind": job.kind, "codec": job.codec, "tasks": list(job.tasks), "launcher": options.launcher,
                 "state": "pending", "job_id": None, "submitted": None, "started": None, "ended": None,
                 "attempts": 0, "error": None, "log": job.log, "depends_on": deps.get(job.key),
                 "threads": job.threads or None}
            if job.kind == "cell":
                e.update(task=job.tasks[0], run_dir=str(next(c.run_dir for c in g.todo if c.key == job.key)))
            st["jobs"][job.key] = e
    echo(f"launch: {len(codec_jobs)} codec job(s), {len(cell_jobs)} cell job(s) on {options.launcher}; "
         f"`bench status --preset {g.variant}` shows them")
    try:
        if options.launcher == "slurm":
            running = _submit_all(backend, codec_jobs, cell_jobs, deps, sf, echo)
            if not options.waits:
                return out | {k: "pending" for k in running}
            return out | _wait(backend, deque(), {}, running, sf, poll_s, 1 << 30, echo)
        ready = deque([*codec_jobs.values(), *(cell_jobs[k] for k, d in deps.items() if d is None)])
        blocked: dict[str, list[Job]] = {}
        for k, d in deps.items():
            if d is not None:
                blocked.setdefault(d, []).append(cell_jobs[k])
        return out | _wait(backend, ready, blocked, {}, sf, poll_s, options.parallel, echo)
    finally:
        backend.close()


def _file_name(key: str) -> str:
    return key.replace(":", "-").replace("/", "__") + ".log"


def _submitted(sf: Path, job: Job, backend: _Backend, h: Any) -> None:
    state.update(sf, job.key, job_id=backend.job_id(h), submitted=time.time(), scheduler_log=backend.log_of(h))


def _submit_all(backend: _Backend, codec_jobs: dict[str, Job], cell_jobs: dict[str, Job],
                deps: dict[str, str | None], sf: Path, echo: Callable[[str], None]) -> dict[str, tuple[Job, Any]]:
    """slurm: the codec jobs as one array, then each codec's cells as an array that runs after it (afterok)."""
    running: dict[str, tuple[Job, Any]] = {}
    groups: dict[str | None, list[Job]] = {}
    for k, d in deps.items():
        groups.setdefault(d, []).append(cell_jobs[k])
    todo: list[tuple[str | None, list[Job]]] = [(None, list(codec_jobs.values()))] + list(groups.items())
    for dep, jobs in todo:
        if not jobs:
            continue
        after = None if dep is None else backend.job_id(running[dep][1])
        for job, h in zip(jobs, backend.submit_many(jobs, after), strict=True):
            running[job.key] = (job, h)
            _submitted(sf, job, backend, h)
            echo(f"launch: {job.key}: job {backend.job_id(h)}" + (f" (after {dep}, job {after})" if after else ""))
    return running


def _wait(backend: _Backend, ready: deque[Job], blocked: dict[str, list[Job]], running: dict[str, tuple[Job, Any]],
          sf: Path, poll_s: float, parallel: int, echo: Callable[[str], None]) -> dict[str, str]:
    """Run ``ready`` (at most ``parallel`` at once), release a codec's cells when its job is done, and wait."""
    out: dict[str, str] = {}
    while ready or running:
        while ready and len(running) < parallel:
            job = ready.popleft()
            h = backend.submit_many([job], None)[0]
            running[job.key] = (job, h)
            _submitted(sf, job, backend, h)
            echo(f"launch: {job.key}: job {backend.job_id(h)}")
        for key, (job, h) in list(running.items()):
            if not backend.done(h):
                continue
            del running[key]
            out[key] = _outcome(sf, key, backend.describe(h))
            echo(f"launch: {key}: {out[key]}")
            if job.kind == "codec":
                for cell in blocked.pop(key, []):
                    if out[key] == "done":
                        ready.append(cell)
                    else:
                        out[cell.key] = "failed"
                        state.update(sf, cell.key, state="failed", error=f"its codec job {key} failed")
        if ready or running:
            time.sleep(poll_s)
    return out


def _outcome(sf: Path, key: str, scheduler_says: str) -> str:
    """What the job reported; a job that ended without a word (killed, lost) is marked failed."""
    e = state.read(sf)["jobs"].get(key, {})
    if e.get("state") in ("done", "failed"):
        return e["state"]
    state.update(sf, key, state="failed", ended=time.time(),
                 error=f"the job ended without reporting (killed?); scheduler: {scheduler_says}")
    return "failed"


# -- backends -----------------------------------------------------------------------------------------
class _Backend:
    def submit_many(self, jobs: list[Job], after: str | None) -> list[Any]:
        raise NotImplementedError

    def done(self, h: Any) -> bool:
        raise NotImplementedError

    def job_id(self, h: Any) -> str:
        raise NotImplementedError

    def log_of(self, h: Any) -> str | None:
        return None

    def describe(self, h: Any) -> str:
        return "?"

    def close(self) -> None:
        pass


def submitit_parameters(o: LauncherOptions, cluster: str, gpus: int) -> dict[str, Any]:
    """AutoExecutor parameters: one task per job (a job's DDP is torchrun inside it), logs in one stream."""
    p: dict[str, Any] = {"timeout_min": o.timeout_min, "nodes": 1, "tasks_per_node": 1, "gpus_per_node": gpus,
                         "stderr_to_stdout": True}
    if o.cpus_per_task:
        p["cpus_per_task"] = o.cpus_per_task
    if o.mem_gb:
        p["mem_gb"] = o.mem_gb
    if cluster == "slurm":  # a cell whose codec job failed is cancelled by slurm, not left pending forever
        extra = {"kill_on_invalid_dep": "yes", **{k.replace("-", "_"): v for k, v in o.slurm.items()}}
        p.update({k: v for k, v in {"slurm_partition": o.partition, "slurm_array_parallelism": o.array_parallelism,
                                    "slurm_setup": list(o.setup) or None,
                                    "slurm_additional_parameters": extra}.items() if v is not None})
    return p


class _Submitit(_Backend):
    def __init__(self, o: LauncherOptions, folder: Path, gpus: int) -> None:
        self.cluster = "slurm" if o.launcher == "slurm" else "local"
        self.params = submitit_parameters(o, self.cluster, gpus)
        self.folder = folder

    def executor(self, name: str, after: str | None) -> Any:
        import submitit

        ex = submitit.AutoExecutor(folder=self.folder, cluster=self.cluster)
        ex.update_parameters(name=name, **self.params, **({"slurm_dependency": f"afterok:{after}"} if after else {}))
        return ex

    def submit_many(self, jobs: list[Job], after: str | None) -> list[Any]:
        ex = self.executor(f"bench-{jobs[0].key}" if len(jobs) == 1 else f"bench-{jobs[0].kind}s", after)
        if len(jobs) == 1:
            return [ex.submit(jobs[0])]
        with ex.batch():
            hs = [ex.submit(j) for j in jobs]
        return hs

    def done(self, h: Any) -> bool:
        return bool(h.done())

    def job_id(self, h: Any) -> str:
        return str(h.job_id)

    def log_of(self, h: Any) -> str | None:
        return str(h.paths.stdout)

    def describe(self, h: Any) -> str:
        return str(h.state)


def _ray_run(job: Job) -> int:
    return job()


class _Ray(_Backend):
    def __init__(self, o: LauncherOptions, gpus: int) -> None:
        import ray

        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            cpus = max(o.parallel * (o.cpus_per_task or 1), os.cpu_count() or 1)  # a local instance
            ray.init(address=o.address, include_dashboard=False, **({} if o.address else {"num_cpus": cpus}))
        self.remote = ray.remote(_ray_run).options(num_cpus=o.cpus_per_task or 1, num_gpus=gpus)

    def submit_many(self, jobs: list[Job], after: str | None) -> list[Any]:
        return [self.remote.remote(j) for j in jobs]

    def done(self, h: Any) -> bool:
        ready, _ = self.ray.wait([h], timeout=0)
        return bool(ready)

    def job_id(self, h: Any) -> str:
        return h.task_id().hex()[:16]

    def describe(self, h: Any) -> str:
        try:
            self.ray.get(h, timeout=0)
            return "finished"
        except Exception as e:  # noqa: BLE001 - only described
            return f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def _backend(o: LauncherOptions, folder: Path, gpus: int) -> _Backend:
    if o.launcher == "ray":
        try:
            return _Ray(o, gpus)
        except ModuleNotFoundError as e:
            raise LauncherError(f"--launcher ray: {e} — `pip install -r requirements.lock` (ray is pinned "
                                "there)") from None
    try:
        import submitit  # noqa: F401
    except ModuleNotFoundError as e:
        raise LauncherError(f"--launcher {o.launcher}: {e} — `pip install -r requirements.lock` "
                            "(submitit is pinned there)") from None
    return _Submitit(o, folder, gpus)
