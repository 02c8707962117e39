"""Results records (schema v2): one JSON line per (run, metric, backend), appended under a lock.

A record describes itself: what was measured (task, codec, metric, backend identity), how much
(value, n, 95% CI), under what (preset variant, data build, test set, training budget, scorer, git
SHA, hardware) and when. v2 gives those facts typed top-level fields (``variant``, ``codec_facts``,
``data``, ``budget``, ``scorer``, ``per_item``) that v1 kept loosely in ``extra``; a v1 line is
upgraded on load (:func:`upgrade_v1`), so every reader sees one shape. Loading validates every
line and names file and line of any malformed one; nothing is dropped silently.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import re
import subprocess
from collections import namedtuple
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock

SCHEMA_VERSION = 2
# Versions this code reads (older ones are upgraded on load). A newer file is refused (never half-read).
SUPPORTED_VERSIONS = (1, 2)

_NUM = (int, float)
_T = type(None)

# field -> (types, required), common to every version
_BASE_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "schema_version": ((int,), True),
    "run_id": ((str,), True),
    "kind": ((str,), True),  # "task" (LM experiment), "codec" (reconstruction), "reference", "score"
    "task": ((str, _T), True),
    "codec": ((str, _T), True),
    "preset": ((str,), True),  # the preset variant: "smoke", or "smoke+set-<hash>" for a --set run
    "metric": ((str,), True),
    "backend": ((dict,), True),  # {"name", "model", "version", "weights_hash"}
    "value": ((int, float, _T), True),
    "n": ((int,), True),
    "ci_low": ((int, float, _T), False),
    "ci_high": ((int, float, _T), False),
    "higher_is_better": ((bool, _T), False),
    "config_hash": ((str,), True),
    "git_sha": ((str,), True),
    "hardware": ((str,), True),
    "time": ((str,), True),
    "extra": ((dict,), False),
}

# v2 typed objects: name -> {key: types}. Every key is present on a written record (None = unknown).
TYPED: dict[str, dict[str, tuple[type, ...]]] = {
    "variant": {"decode": (str,), "n_q": (int,), "base_preset": (str,), "overrides": (list,)},
    "codec_facts": {"kbps": _NUM, "frame_rate": _NUM, "n_q": (int,), "codebook_size": (int,), "origin": (str,),
                    "teacher": (str,), "codec_id": (str,), "weights": (str,)},
    "data": {"build_hash": (str,), "test_set_hash": (str,), "items": (int,), "speakers": (int,), "subset": (str,)},
    "budget": {"hash": (str,), "steps": (int,), "steps_reached": (int,), "stop_reason": (str,), "stages": (dict,)},
    "scorer": {"aggregate": (str,), "ci": (str,), "n_boot": (int,), "seed": (int,), "items": (int,),
               "clusters": (int,), "signature": (str,)},
}
# The scorer object is the metrics area's (``scoring.summarize``): keys it adds later are kept, not refused.
_OPEN_TYPED = ("scorer",)

_V2_FIELDS = {**_BASE_FIELDS, **{k: ((dict, _T), True) for k in TYPED},
              "per_item": ((dict, _T), True), "upgraded_from": ((int,), False)}
_FIELDS_BY_VERSION = {1: _BASE_FIELDS, 2: _V2_FIELDS}

# One leaderboard cell. A second record with the same key supersedes the first (load), a baseline entry
# is matched by it (gate, within one preset), two codecs are paired on it (compare, codec left out).
Cell = namedtuple("Cell", ["preset", "kind", "task", "codec", "decode", "n_q", "metric", "backend_id"])
CELL_KEY: tuple[str, ...] = Cell._fields


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


# -- the decoding variant and the cell key ---------------------------------------------------------------
# Decoding variants that name no real alternative (a task with one output, the clean reference).
_NO_VARIANT = (None, "", "lm", "reference")


def split_metric(metric: str, decode: str | None = None) -> tuple[str, str | None]:
    """(metric name, decoding variant) of a record: ``wer@ar`` -> ("wer", "ar").

    The ``@`` suffix names the variant unless it is a codebook level (part of the metric's name),
    an ``nq<k>`` point (n_q has its own field) or ``clean`` (the reference).
    """
    base, _, suffix = metric.partition("@")
    if decode in _NO_VARIANT and suffix:
        if re.fullmatch(r"level\d+", suffix):
            base = metric
        elif not re.fullmatch(r"nq\d+|clean", suffix):
            decode = suffix
    return base, (None if decode in _NO_VARIANT else decode)


def _clean(v: Any) -> Any:
    """pandas NaN -> None, 4.0 -> 4: frames and JSON give one key for one cell."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def cell_key(row: Mapping[str, Any], ignore: Iterable[str] = ()) -> Cell:
    """The cell of a flattened record (a frame row or a baseline entry); ``ignore``d fields are None."""
    skip = set(ignore)
    return Cell(*(None if k in skip else _clean(row.get(k)) for k in CELL_KEY))


# -- writing -------------------------------------------------------------------------------------------------
def make_record(**fields: Any) -> dict[str, Any]:
    """The one record writer: fill in the bookkeeping, lift legacy ``extra`` keys into typed fields, validate.

    Typed fields may be given directly (``variant=``, ``codec_facts=``, ``data=``, ``budget=``,
    ``scorer=``, ``per_item=``); callers that still put ``per_item``, ``n_q``, ``decode`` ... in ``extra``
    get them moved by the same rule that upgrades v1 files.
    """
    rec = {"schema_version": SCHEMA_VERSION, "git_sha": git_sha(), "hardware": hardware(), "time": now(),
           "extra": {}, **fields}
    rec = _lift(rec)
    validate(rec)
    return rec


def upgrade_v1(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A v1 record as v2: known ``extra`` keys move into the typed fields, the rest stay; unknown facts None."""
    out = _lift({**rec, "schema_version": SCHEMA_VERSION})
    out["upgraded_from"] = 1
    return out


def _pop_first(d: dict, *keys: str) -> Any:
    """Remove every key of ``keys`` from ``d``; return the first non-None value."""
    found = [d.pop(k, None) for k in keys]
    return next((v for v in found if v is not None), None)


def _legacy_facts(extra: dict) -> dict[str, Any]:
    """Codec facts from v1's ``extra.codec`` object, else its top-level keys (removed from ``extra``)."""
    c = dict(extra.pop("codec")) if isinstance(extra.get("codec"), Mapping) else {}
    top = {k: extra.pop(k, None) for k in ("kbps", "bitrate", "frame_rate", "n_q", "origin", "teacher",
                                            "codebook_size", "codec_id")}
    weights = _pop_first(extra, "codec_weights", "weights")
    n_q = c.get("n_q", c.get("n_codebooks", top["n_q"]))
    kbps = c.get("kbps", top["kbps"])
    bitrate = c.get("bitrate", top["bitrate"])
    if kbps is None and bitrate is not None:
        kbps = float(bitrate) / 1000.0  # bitrate is in bits/s
    facts = {k: c.get(k, top[k]) for k in ("frame_rate", "origin", "teacher", "codebook_size", "codec_id")}
    return {**facts, "kbps": None if kbps is None else float(kbps), "n_q": None if n_q is None else int(n_q),
            "weights": c.get("weights", weights)}


def _lift(rec: Mapping[str, Any]) -> dict[str, Any]:
    """Move v1-style ``extra`` keys into the v2 typed fields; typed values given explicitly win."""
    rec = dict(rec)
    extra = dict(rec.get("extra") or {})
    decode = _pop_first(extra, "decode", "variant")
    facts = _legacy_facts(extra)
    items = _pop_first(extra, "n_items", "clips")
    lifted = {
        "codec_facts": facts,
        "variant": {"decode": decode, "n_q": facts["n_q"]},
        "data": {"items": items},
        "budget": {"hash": extra.pop("budget_hash", None)},
        "per_item": extra.pop("per_item", None),
    }
    rec["extra"] = extra
    for name, legacy in lifted.items():
        given = rec.get(name)
        if name == "per_item":
            rec[name] = given if given is not None else legacy
            continue
        merged = {**{k: v for k, v in legacy.items() if v is not None}, **(given or {})}
        rec[name] = _complete(name, merged)
    rec["scorer"] = _complete("scorer", rec.get("scorer"))
    if "metric" in rec:
        rec["variant"]["decode"] = split_metric(rec["metric"], rec["variant"]["decode"])[1]
    rec["variant"]["base_preset"] = rec["variant"]["base_preset"] or rec.get("preset")
    return rec


def _complete(name: str, obj: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Every key of the typed object, absent ones None; an object with nothing known is None itself."""
    if obj is None:
        return {k: None for k in TYPED[name]} if name == "variant" else None
    out = {**{k: None for k in TYPED[name]}, **obj}
    if name != "variant" and all(v is None for v in out.values()):
        return None
    return out


# -- validation ---------------------------------------------------------------------------------------------
def validate(rec: Mapping[str, Any], where: str = "record") -> None:
    if not isinstance(rec, Mapping):
        raise RecordError(f"{where}: a record must be a JSON object, got {type(rec).__name__}")
    version = rec.get("schema_version")
    if version not in SUPPORTED_VERSIONS:
        raise RecordError(
            f"{where}: schema_version {version!r} (this code reads {list(SUPPORTED_VERSIONS)}; "
            "see docs/RESULTS_SCHEMA.md)"
        )
    fields = _FIELDS_BY_VERSION[version]
    for name, (types_, required) in fields.items():
        if name not in rec:
            if required:
                raise RecordError(f"{where}: missing field {name!r}")
            continue
        if not isinstance(rec[name], types_) or (isinstance(rec[name], bool) and bool not in types_):
            raise RecordError(f"{where}: field {name!r} has type {type(rec[name]).__name__}")
    unknown = set(rec) - set(fields)
    if unknown:
        hint = " (put them in extra)" if version > 1 else ""
        raise RecordError(f"{where}: unknown fields {sorted(unknown)}{hint}")
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
    if version == 1:
        _validate_per_item(rec.get("extra", {}).get("per_item"), where, "extra.per_item")
        return
    for name in TYPED:
        _validate_typed(name, rec[name], where)
    _validate_per_item(rec["per_item"], where, "per_item")


def _validate_typed(name: str, obj: Mapping[str, Any] | None, where: str) -> None:
    if obj is None:
        return
    spec = TYPED[name]
    unknown = set(obj) - set(spec)
    if unknown and name not in _OPEN_TYPED:
        raise RecordError(f"{where}: {name} has unknown keys {sorted(unknown)} (put them in extra)")
    for k, types_ in spec.items():
        x = obj.get(k)
        if x is not None and (not isinstance(x, types_) or (isinstance(x, bool) and bool not in types_)):
            raise RecordError(f"{where}: {name}.{k} has type {type(x).__name__}")


def _validate_per_item(per_item: Any, where: str, label: str) -> None:
    """``{"ids": [str], "values": [number|None], <parallel lists>...}``: what paired tests pair on."""
    if per_item is None:
        return
    if not isinstance(per_item, Mapping) or not {"ids", "values"} <= set(per_item):
        raise RecordError(f"{where}: {label} must be an object with 'ids' and 'values'")
    ids, vals = per_item["ids"], per_item["values"]
    if not isinstance(ids, list) or not isinstance(vals, list) or len(ids) != len(vals):
        raise RecordError(f"{where}: {label} 'ids' and 'values' must be lists of equal length")
    if len(set(map(str, ids))) != len(ids):
        raise RecordError(f"{where}: {label} has duplicate ids")
    for x in vals:
        if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float)) or x != x):
            raise RecordError(f"{where}: {label} value {x!r} is not a number or null")
    for k, col in per_item.items():
        if k not in ("ids", "values") and (not isinstance(col, list) or len(col) != len(ids)):
            raise RecordError(f"{where}: {label} '{k}' must be a list as long as 'ids'")


# -- files ----------------------------------------------------------------------------------------------------
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
    """One JSONL line -> a validated record of the current version (older versions upgraded)."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        raise RecordError(f"{where}: not valid JSON ({e.msg})") from None
    validate(rec, where)
    if rec["schema_version"] == 1:
        rec = upgrade_v1(rec)
        validate(rec, f"{where} (upgraded from v1)")
    return rec


def load(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read and validate every record; malformed lines raise with file and line number."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return [parse_line(line, f"{path}:{i}") for i, line in enumerate(f, 1) if line.strip()]
    except UnicodeDecodeError:
        from bench.errors import not_utf8

        raise RecordError(f"{not_utf8(path)} — records are UTF-8 JSON lines; regenerate the file") from None


def load_dir(root: str | os.PathLike, pattern: str = "**/*.jsonl") -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = []
    for p in sorted(Path(root).glob(pattern)):
        recs.extend(load(p))
    return recs


def to_frame(records: list[dict[str, Any]]):  # -> pandas.DataFrame (pandas imported lazily)
    """The report's flat frame (:func:`bench.report.load.flatten`) of records already in memory."""
    import pandas as pd

    from bench.report.load import flatten

    return pd.DataFrame([flatten(r if r["schema_version"] > 1 else upgrade_v1(r)) for r in records])
