"""Manifest I/O: one JSON object per clip, validated line by line so a bad corpus fails early and says where."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.atomic import write_text

SPLITS = ("train", "valid", "test")
REQUIRED: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "path": (str,),
    "duration": (int, float),
    "sr": (int,),
    "split": (str,),
}
OPTIONAL_STR = ("text", "phonemes", "speaker", "caption", "label", "piece", "source", "licence", "prompt_id")


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file and (where known) the line."""


def validate_row(row: Any, where: str) -> dict:
    """Check one manifest object; raise ManifestError naming ``where`` (``file:line``)."""
    if not isinstance(row, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key, types in REQUIRED.items():
        if key not in row:
            raise ManifestError(f"{where}: missing required field {key!r}")
        v = row[key]
        if isinstance(v, bool) or not isinstance(v, types):
            raise ManifestError(f"{where}: field {key!r} has type {type(v).__name__}, expected {types[0].__name__}")
    if not row["id"]:
        raise ManifestError(f"{where}: empty id")
    if row["duration"] <= 0:
        raise ManifestError(f"{where}: duration must be > 0, got {row['duration']}")
    if row["sr"] <= 0:
        raise ManifestError(f"{where}: sr must be > 0, got {row['sr']}")
    if row["split"] not in SPLITS:
        raise ManifestError(f"{where}: split {row['split']!r} is not one of {SPLITS}")
    if os.path.isabs(row["path"]) or ".." in Path(row["path"]).parts:
        raise ManifestError(f"{where}: path {row['path']!r} must be relative to the manifest's folder")
    for key in OPTIONAL_STR:
        if key in row and row[key] is not None and not isinstance(row[key], str):
            raise ManifestError(f"{where}: field {key!r} must be a string, got {type(row[key]).__name__}")
    return row


def parse_json_line(line: str, where: str) -> Any:
    """Decode one JSONL line; a decode error names ``where`` (``file:line``) and the column."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        raise ManifestError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from None


def parse_lines(lines: Iterable[str], name: str) -> list[dict]:
    """Parse and validate JSONL text; ids must be unique and every ``prompt_id`` must exist."""
    rows: list[dict] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        row = parse_json_line(line, where)
        validate_row(row, where)
        if row["id"] in seen:
            raise ManifestError(f"{where}: duplicate id {row['id']!r} (first on line {seen[row['id']]})")
        seen[row["id"]] = lineno
        row["_line"] = lineno
        rows.append(row)
    for row in rows:
        pid = row.get("prompt_id")
        if pid is not None and pid not in seen:
            raise ManifestError(f"{name}:{row['_line']}: prompt_id {pid!r} names no clip in this manifest")
    for row in rows:
        del row["_line"]
    return rows


def read_manifest(path: str | os.PathLike, check_files: bool = False) -> list[dict]:
    """Read and validate ``manifest.jsonl``; ``check_files`` also checks every audio path exists."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such manifest")
    try:
        with open(path, encoding="utf-8") as f:
            rows = parse_lines(f, str(path))
    except UnicodeDecodeError:
        from bench.errors import not_utf8

        raise ManifestError(f"{not_utf8(path)} — a manifest is UTF-8 JSON lines; re-save it as UTF-8") from None
    if check_files:
        for i, row in enumerate(rows):
            if not (path.parent / row["path"]).is_file():
                raise ManifestError(f"{path}: clip {row['id']!r} (row {i + 1}): audio {row['path']!r} does not exist")
    return rows


def audio_path(manifest: str | os.PathLike, row: dict) -> Path:
    """Absolute path of a row's audio (paths in a manifest are relative to its folder)."""
    return Path(manifest).parent / row["path"]


def dumps(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)


def write_manifest(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Validate and write atomically, sorted by id so two builds of one config give identical bytes."""
    rows = sorted(rows, key=lambda r: r["id"])
    parse_lines(dumps(rows).splitlines(), str(path))
    return write_text(path, dumps(rows))
