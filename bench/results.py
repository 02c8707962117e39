"""Results records (schema v1): one JSON line per (run, metric, backend), appended under a lock.

A record describes itself: what was measured (task, codec, metric, backend identity), how much
(value, n, 95% CI), under what (preset, config hash, git SHA, hardware) and when. Loading validates
every line and names file and line of any malformed one; nothing is dropped silently.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock

SCHEMA_VERSION = 1
# Versions this code reads. A newer file is refused (never half-read); docs/RESULTS_SCHEMA.md documents each.
SUPPORTED_VERSIONS = (1,)

# field -> (types, required)
_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "schema_version": ((int,), True),
    "run_id": ((str,), True),
    "kind": ((str,), True),  # "task" (LM experiment), "codec" (reconstruction), "reference"
    "task": ((str, type(None)), True),
    "codec": ((str, type(None)), True),
    "preset": ((str,), True),
    "metric": ((str,), True),
    "backend": ((dict,), True),  # {"name", "model", "version", "weights_hash"}
    "value": ((int, float, type(None)), True),
    "n": ((int,), True),
    "ci_low": ((int, float, type(None)), False),
    "ci_high": ((int, float, type(None)), False),
    "higher_is_better": ((bool, type(None)), False),
    "config_hash": ((str,), True),
    "git_sha": ((str,), True),
    "hardware": ((str,), True),
    "time": ((str,), True),
    "extra": ((dict,), False),
}


class RecordError(ValueError):
    pass


def git_sha(cwd: str | os.PathLike | None = None) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=cwd or Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        sha = out.stdout.strip()
        if not sha:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd or Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def hardware() -> str:
    desc = f"{platform.machine()} {os.cpu_count()} cpu"
    try:
        import sys

        if "torch" in sys.modules:
            import torch

            if torch.cuda.is_available():
                desc += f", {torch.cuda.get_device_name(0)}"
    except Exception:  # noqa: BLE001 - hardware description must never fail a run
        pass
    return desc


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def make_record(**fields: Any) -> dict[str, Any]:
    """Fill in the bookkeeping fields and validate."""
    rec = {
        "schema_version": SCHEMA_VERSION,
        "git_sha": git_sha(),
        "hardware": hardware(),
        "time": now(),
        "extra": {},
        **fields,
    }
    validate(rec)
    return rec


def validate(rec: Mapping[str, Any], where: str = "record") -> None:
    if not isinstance(rec, Mapping):
        raise RecordError(f"{where}: a record must be a JSON object, got {type(rec).__name__}")
    if rec.get("schema_version") not in SUPPORTED_VERSIONS:
        raise RecordError(
            f"{where}: schema_version {rec.get('schema_version')!r} (this code reads {list(SUPPORTED_VERSIONS)}; "
            "see docs/RESULTS_SCHEMA.md)"
        )
    for name, (types_, required) in _FIELDS.items():
        if name not in rec:
            if required:
                raise RecordError(f"{where}: missing field {name!r}")
            continue
        if not isinstance(rec[name], types_) or (isinstance(rec[name], bool) and bool not in types_):
            raise RecordError(f"{where}: field {name!r} has type {type(rec[name]).__name__}")
    unknown = set(rec) - set(_FIELDS)
    if unknown:
        raise RecordError(f"{where}: unknown fields {sorted(unknown)}")
    if "name" not in rec["backend"]:
        raise RecordError(f"{where}: backend has no 'name'")
    v = rec["value"]
    if isinstance(v, float) and v != v:
        raise RecordError(f"{where}: value is NaN (report None for missing)")
    if rec["n"] < 0:
        raise RecordError(f"{where}: field 'n' is negative ({rec['n']})")
    lo, hi = rec.get("ci_low"), rec.get("ci_high")
    if lo is not None and hi is not None and lo > hi:
        raise RecordError(f"{where}: ci_low {lo} > ci_high {hi}")
    _validate_per_item(rec.get("extra", {}).get("per_item"), where)


def _validate_per_item(per_item: Any, where: str) -> None:
    """``extra.per_item = {"ids": [str], "values": [number|None]}``: what paired significance tests pair on."""
    if per_item is None:
        return
    if not isinstance(per_item, Mapping) or not {"ids", "values"} <= set(per_item):
        raise RecordError(f"{where}: extra.per_item must be an object with 'ids' and 'values'")
    ids, vals = per_item["ids"], per_item["values"]
    if not isinstance(ids, list) or not isinstance(vals, list) or len(ids) != len(vals):
        raise RecordError(f"{where}: extra.per_item 'ids' and 'values' must be lists of equal length")
    if len(set(map(str, ids))) != len(ids):
        raise RecordError(f"{where}: extra.per_item has duplicate ids")
    for x in vals:
        if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float)) or x != x):
            raise RecordError(f"{where}: extra.per_item value {x!r} is not a number or null")


def append(path: str | os.PathLike, records: Iterable[Mapping[str, Any]]) -> Path:
    """Append records as JSON lines under an exclusive lock; each batch lands whole or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for r in records:
        validate(r)
        lines.append(json.dumps(r, sort_keys=True, default=str))
    if not lines:
        return path
    payload = ("\n".join(lines) + "\n").encode()
    with FileLock(str(path) + ".lock"):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            # Mend a torn last line left by a writer killed mid-write, so ours starts on its own line.
            size = os.fstat(fd).st_size
            if size:
                with open(path, "rb") as f:
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        payload = b"\n" + payload
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


def parse_line(line: str, where: str) -> dict[str, Any]:
    """One JSONL line -> a validated record; errors name ``where`` (``file:line``)."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        raise RecordError(f"{where}: not valid JSON ({e.msg})") from None
    validate(rec, where)
    return rec


def load(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read and validate every record; malformed lines raise with file and line number."""
    path = Path(path)
    with open(path) as f:
        return [parse_line(line, f"{path}:{i}") for i, line in enumerate(f, 1) if line.strip()]


def load_dir(root: str | os.PathLike, pattern: str = "**/*.jsonl") -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = []
    for p in sorted(Path(root).glob(pattern)):
        recs.extend(load(p))
    return recs


def to_frame(records: list[dict[str, Any]]):  # -> pandas.DataFrame (pandas imported lazily)
    import pandas as pd

    rows = []
    for r in records:
        row = {k: v for k, v in r.items() if k not in ("backend", "extra")}
        row["backend"] = r["backend"]["name"]
        row["backend_model"] = r["backend"].get("model")
        rows.append(row)
    return pd.DataFrame(rows)
