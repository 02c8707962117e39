"""The matrix state file ``<data>/launch/<preset>/matrix.json`` and what ``bench status`` shows from it.

The launcher writes an entry per job when it submits it (or skips a finished cell); the job itself marks
it running, done or failed, under a file lock with an atomic write, so every scheduler (slurm, submitit's
local executor, Ray) reports the same way and ``bench status`` needs no scheduler. A job killed without
a word (SIGKILL, a lost node) is caught at display time: a dead pid on this host, or slurm's own state.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import paths

STATE_FILE = "matrix.json"
FINAL = ("done", "failed", "skipped")
_STAGE = re.compile(r"\[(\d)/6\] (.+)$")


def state_path(preset: str, data_dir: str | os.PathLike | None = None) -> Path:
    return paths.launch_dir(preset, data_dir) / STATE_FILE


def read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {"jobs": {}}


@contextmanager
def editing(path: Path) -> Iterator[dict[str, Any]]:
    """Read-modify-write of the state file by one process at a time (jobs of one matrix finish together)."""
    from bench.atomic import write_json
    from bench.locks import exclusive

    path = Path(path)
    with exclusive(path.with_name(path.name + ".lock"), "launch state", log=lambda m: None):
        st = read(path)
        yield st
        write_json(path, st)


def update(path: Path, key: str, **fields: Any) -> None:
    """Merge ``fields`` into job ``key``'s entry."""
    with editing(path) as st:
        st["jobs"].setdefault(key, {}).update(fields)


def here() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


# -- bench status ------------------------------------------------------------------------------------
def stage_of(entry: dict[str, Any]) -> str:
    """The furthest runner stage a job reached: ``done`` for a finished cell, else the last ``[i/6] name``
    line of the cell's run log (a codec job: of its own log), else ``-``."""
    run_dir = entry.get("run_dir")
    if run_dir and (Path(run_dir) / "done.json").is_file():
        return "done"
    log = Path(run_dir) / "log.txt" if run_dir else Path(entry.get("log") or "")
    last = "-"
    if log.is_file():
        for line in log.read_text(errors="replace").splitlines():
            m = _STAGE.search(line)
            if m:
                last = f"{m.group(2)} ({m.group(1)}/6)"
    return last


def tail(path: str | os.PathLike | None, n: int) -> list[str]:
    if not path or not Path(path).is_file():
        return []
    return Path(path).read_text(errors="replace").splitlines()[-n:]


def short(path: str | None, folder: Path) -> str | None:
    """A log path relative to the matrix folder (the table's title names it), else as it is."""
    try:
        return str(Path(path).relative_to(folder)) if path else path
    except ValueError:
        return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


SLURM_FAILED = ("FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE")


def slurm_states(job_ids: list[str]) -> dict[str, str]:
    """slurm's own state of each job (``sacct``); empty where sacct is not installed or fails."""
    if not job_ids or shutil.which("sacct") is None:
        return {}
    try:
        out = subprocess.run(["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(job_ids)],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {jid: st.split()[0] for jid, _, st in (ln.partition("|") for ln in out.splitlines()) if st}


def live_state(entry: dict[str, Any], launcher: dict[str, Any], slurm: dict[str, str]) -> str:
    """The entry's state, corrected for a job that died without reporting."""
    st = entry.get("state", "?")
    if st in FINAL:
        return st
    if entry.get("launcher") == "slurm":
        s = slurm.get(str(entry.get("job_id")), "")
        return s.lower() if s.startswith(SLURM_FAILED) else st
    me = socket.gethostname()
    if st == "running" and entry.get("host") == me and entry.get("pid") and not _alive(int(entry["pid"])):
        return "killed"
    if st in ("pending", "requeued") and launcher.get("host") == me and launcher.get("pid") \
            and not _alive(int(launcher["pid"])):
        return "lost"  # its launcher (which holds the queue of submitit-local and Ray) is gone
    return st


def _wall(entry: dict[str, Any], state: str) -> float | None:
    t0 = entry.get("started")
    if t0 is None:
        return None
    t1 = entry.get("ended") or (time.time() if state == "running" else None)
    return None if t1 is None else round(t1 - t0, 1)


def fmt_wall(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def rows(path: Path, lines: int = 10) -> list[dict[str, Any]]:
    """One row per job of the matrix at ``path``: codec jobs first, then cells. A failed (or killed, lost)
    job carries the last ``lines`` lines of its log in ``log_tail``."""
    st = read(path)
    jobs = st.get("jobs", {})
    slurm = slurm_states([str(e["job_id"]) for e in jobs.values()
                          if e.get("launcher") == "slurm" and e.get("job_id") and e.get("state") not in FINAL])
    out = []
    for key in sorted(jobs, key=lambda k: (not k.startswith("codec:"), k)):
        e = jobs[key]
        state = live_state(e, st.get("launcher", {}), slurm)
        row = {"cell": key, "kind": e.get("kind"), "stage": stage_of(e), "job": e.get("job_id") or "-",
               "launcher": e.get("launcher"), "state": state, "wall_s": _wall(e, state),
               "attempts": e.get("attempts", 0), "log": e.get("log"), "error": e.get("error")}
        if state not in ("done", "skipped", "running", "pending"):
            row["log_tail"] = tail(e.get("log"), lines)
        out.append(row)
    return out


def presets(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Every preset (variant) with a launched matrix under the data root."""
    root = paths.data_root(data_dir) / "launch"
    return sorted(p.parent.name for p in root.glob(f"*/{STATE_FILE}")) if root.is_dir() else []
