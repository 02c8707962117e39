"""Launcher options: from a YAML file (``--launcher-config``), then command-line options on top.

No scheduler library is imported here: the options are checked (with a message saying what to change) before
anything is built or submitted.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import ConfigError

LAUNCHERS = ("local", "submitit-local", "slurm", "ray")


class LauncherError(ConfigError):
    """A launcher option or file that cannot work; the message says what to change."""


@dataclass(frozen=True)
class LauncherOptions:
    """How each job of a matrix is run. ``gpus_per_node`` > 1 makes a job's LM (and a missing trained-here
    codec) train on that many processes through torchrun inside the job; ``nodes`` must stay 1 (see GUIDE)."""

    launcher: str = "local"
    partition: str | None = None  # slurm partition
    gpus_per_node: int = 0  # GPUs per job (slurm --gpus-per-node; Ray num_gpus)
    nodes: int = 1
    cpus_per_task: int | None = None  # CPUs per job (slurm --cpus-per-task; Ray num_cpus, default 1)
    mem_gb: float | None = None
    time: str | int = "24:00:00"  # time limit per job: minutes, "H:MM:SS" or "D-HH:MM:SS"
    array_parallelism: int | None = None  # jobs at once (slurm arrays; submitit-local and Ray: default 1)
    address: str | None = None  # Ray: "auto", "ray://host:10001", or none for a local instance
    setup: tuple[str, ...] = ()  # shell lines run before each slurm job (module load ..., source venv)
    slurm: dict[str, Any] = field(default_factory=dict)  # any other sbatch option, e.g. {account: abc, qos: high}
    wait: bool | None = None  # wait for the matrix to finish (default: yes, except on slurm)

    @property
    def timeout_min(self) -> int:
        return parse_time(self.time)

    @property
    def waits(self) -> bool:
        return self.wait if self.wait is not None else self.launcher != "slurm"

    @property
    def parallel(self) -> int:
        """Jobs run at once by launchers that hold their own queue (submitit-local, Ray)."""
        return self.array_parallelism or 1

    def threads(self, cpu_count: int | None = None) -> int:
        """CPU threads each job's torch and ASR use (0: the libraries' default, all cores): ``cpus_per_task``
        where given; on this machine (submitit-local, Ray without an address) the cores shared by the jobs that
        run at once, so that parallel jobs do not each take every core and slow one another down."""
        if self.cpus_per_task:
            return self.cpus_per_task
        shared = self.launcher == "submitit-local" or (self.launcher == "ray" and not self.address)
        if shared and self.parallel > 1:
            return max(1, (cpu_count or os.cpu_count() or 1) // self.parallel)
        return 0


def parse_time(value: str | int) -> int:
    """A time limit in slurm's forms -> whole minutes (seconds round up): ``90``, ``"90:30"`` (M:S),
    ``"1:30:00"`` (H:M:S), ``"2-12"`` (D-H), ``"2-12:30"`` (D-H:M), ``"2-12:30:00"`` (D-H:M:S)."""
    s = str(value).strip()
    m = re.fullmatch(r"(?:(\d+)-)?(\d+(?::\d+){0,2})", s)
    parts = [int(x) for x in m.group(2).split(":")] if m else []
    if not m:
        raise LauncherError(f"time {value!r}: not a time limit — give minutes (90), H:MM:SS (1:30:00) "
                            "or D-HH:MM:SS (2-00:00:00)")
    if m.group(1) is not None:  # D-H, D-H:M, D-H:M:S
        h, mi, sec = (parts + [0, 0])[:3]
        minutes = int(m.group(1)) * 1440 + h * 60 + mi + (sec > 0)
    elif len(parts) == 1:
        minutes = parts[0]
    elif len(parts) == 2:  # M:S
        minutes = parts[0] + (parts[1] > 0)
    else:  # H:M:S
        minutes = parts[0] * 60 + parts[1] + (parts[2] > 0)
    if minutes <= 0:
        raise LauncherError(f"time {value!r}: must be at least one minute")
    return minutes


def load_options(launcher: str = "local", config: Path | None = None, **cli: Any) -> LauncherOptions:
    """The options of ``launcher``: ``config`` (YAML, every field of :class:`LauncherOptions` but ``launcher``)
    with the command-line values that are not None on top. Errors name the file and the key."""
    from bench.config import from_dict, load_yaml

    if launcher not in LAUNCHERS:
        raise LauncherError(f"--launcher {launcher!r}: unknown — choose one of {', '.join(LAUNCHERS)}")
    data: dict[str, Any] = {}
    where = "launcher options"
    if config is not None:
        if not Path(config).is_file():
            raise LauncherError(f"{config}: no such launcher config — give a YAML file of launcher options "
                                "(docs/GUIDE.md, Running on a cluster)")
        try:
            data = load_yaml(config)
        except ConfigError as e:
            raise LauncherError(f"{e} — fix the launcher config") from None
        where = str(config)
        if "launcher" in data and data.pop("launcher") != launcher:
            raise LauncherError(f"{config}: names another launcher than --launcher {launcher} — drop its "
                                "`launcher:` key or pass the same --launcher")
    known = {f.name for f in dataclasses.fields(LauncherOptions)}
    unknown = sorted(set(data) - known)
    if unknown:
        import difflib

        hints = [f"{k} (did you mean {near[0]}?)" if (near := difflib.get_close_matches(k, known, n=1)) else k
                 for k in unknown]
        raise LauncherError(f"{where}: unknown keys {', '.join(hints)} — known: {', '.join(sorted(known))}")
    data.update({k: v for k, v in cli.items() if v is not None})
    data["launcher"] = launcher
    try:
        opts = from_dict(LauncherOptions, data, where)
    except LauncherError:
        raise
    except ConfigError as e:
        raise LauncherError(f"{e} — fix that launcher option") from None
    _check(opts, where)
    return opts


def _check(o: LauncherOptions, where: str) -> None:
    o.timeout_min  # noqa: B018 - parses (and rejects) the time limit now, not at submission
    for name in ("gpus_per_node", "cpus_per_task", "array_parallelism"):
        v = getattr(o, name)
        if v is not None and v < (0 if name == "gpus_per_node" else 1):
            least = "0 or more" if name == "gpus_per_node" else "at least 1"
            raise LauncherError(f"{where}: {name}={v} — must be {least}")
    if o.nodes != 1:
        raise LauncherError(f"{where}: nodes={o.nodes} — one node per job: a cell's DDP is torchrun --standalone "
                            "on one node; use gpus_per_node for more GPUs")
    if o.launcher == "local" and dataclasses.replace(o, time=LauncherOptions.time) != LauncherOptions():
        raise LauncherError(f"{where}: launcher options need --launcher slurm, submitit-local or ray — drop them "
                            "(--nproc sets DDP processes here)")
    if o.launcher != "slurm" and (o.partition or o.slurm or o.setup):
        raise LauncherError(f"{where}: partition/slurm/setup are slurm options — drop them or use --launcher slurm")
    if o.address and o.launcher != "ray":
        raise LauncherError(f"{where}: address is a Ray option — drop it or use --launcher ray")
