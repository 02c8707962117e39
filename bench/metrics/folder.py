"""Score any folder of audio against a manifest (``bench score``): hypothesis files match manifest ids by stem.

Records use kind ``"score"`` (a folder scored outside the task pipeline); the clean reference audio
scored by the same backend is written beside it with codec ``"reference"`` so a codec's WER or MOS is
always read next to the reference's on the same utterances.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from bench.audio import load

from .base import Item
from .scoring import fad, get_backend, per_item_fields, resolve_name, score_items_detailed, summarize

AUDIO_SUFFIXES = (".wav", ".flac")
NO_REF_METRICS = ("wer", "cer", "mos")  # metrics whose reference-audio score is informative


class ScoreError(ValueError):
    pass


def match_files(rows: list[dict], hyp_dir: Path) -> tuple[list[tuple[dict, Path]], list[str]]:
    """(manifest row, hypothesis file) pairs by id == file stem (searched recursively), and unmatched ids."""
    files: dict[str, Path] = {}
    for p in sorted(hyp_dir.rglob("*")):
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file():
            if p.stem in files:
                raise ScoreError(f"two hypothesis files share the id {p.stem!r}: {files[p.stem]} and {p}")
            files[p.stem] = p
    pairs, missing = [], []
    for r in rows:
        (pairs.append((r, files[r["id"]])) if r["id"] in files else missing.append(r["id"]))
    return pairs, missing


def _items(pairs: list[tuple[dict, Path]], manifest: Path, with_ref: bool) -> tuple[list[Item], list[Item]]:
    from bench.data.manifest import audio_path

    hyp, ref = [], []
    for row, f in pairs:
        x, sr = load(f, checks=None)
        r = None
        if with_ref:
            r, _ = load(audio_path(manifest, row), sr=sr, checks=None)
        hyp.append(Item(row["id"], x, sr, ref_audio=r, ref_text=row.get("text"), meta={"row": row}))
        if r is not None:
            ref.append(Item(row["id"], r, sr, ref_audio=r, ref_text=row.get("text"), meta={"row": row}))
    return hyp, ref


def _hash_inputs(manifest: Path, files: list[Path]) -> str:
    h = hashlib.sha256(manifest.read_bytes())
    for f in files:
        st = f.stat()
        h.update(f"{f.name}|{st.st_size}|{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def score_folder(metric: str, manifest: str | os.PathLike, hyp_dir: str | os.PathLike, *, split: str | None = None,
                 codec: str | None = None, preset: str = "custom", with_reference: bool | None = None,
                 run_id: str | None = None) -> list[dict[str, Any]]:
    """Score ``hyp_dir`` with one backend; returns validated records (hypothesis, then reference if scored)."""
    from bench.data.manifest import read_manifest
    from bench.results import make_record

    name = resolve_name(metric)
    b = get_backend(name)
    manifest, hyp_dir = Path(manifest), Path(hyp_dir)
    if not hyp_dir.is_dir():
        raise ScoreError(f"{hyp_dir}: not a folder")
    rows = [r for r in read_manifest(manifest) if split is None or r.get("split") == split]
    pairs, missing = match_files(rows, hyp_dir)
    if not pairs:
        raise ScoreError(f"no file in {hyp_dir} matches an id of {manifest}" + (f" (split {split})" if split else ""))
    if "ref_text" in b.needs and any(r.get("text") is None for r, _ in pairs):
        raise ScoreError(f"{name} needs transcripts but {manifest} has rows without 'text'")
    if with_reference is None:
        with_reference = b.metric in NO_REF_METRICS
    need_ref_audio = b.level == "set" or with_reference or bool({"ref_audio", "prompt_audio"} & set(b.needs))
    hyp, ref = _items(pairs, manifest, need_ref_audio)
    codec = codec or hyp_dir.name
    run_id = run_id or f"score-{codec}-{_hash_inputs(manifest, [f for _, f in pairs])}"
    common = {"kind": "score", "task": None, "preset": preset,
              "config_hash": _hash_inputs(manifest, [f for _, f in pairs])}
    extra = {"manifest": str(manifest), "hyp_dir": str(hyp_dir), "split": split, "n_unmatched": len(missing)}

    if b.level == "set":
        s = fad(name, hyp, ref)
        return [make_record(**s, **common, run_id=run_id, codec=codec, extra=extra)]

    out = []
    for label, items in ((codec, hyp), ("reference", ref if with_reference else [])):
        if not items:
            continue
        res = score_items_detailed(name, items)
        vals, details = [v for v, _ in res], [d for _, d in res]
        groups = speakers([it.meta["row"] for it in items])
        per_item: dict[str, Any] = {"ids": [it.id for it in items], "values": vals,
                                    **({"groups": groups} if groups else {}), **per_item_fields(details)}
        out.append(make_record(**summarize(name, vals, details=details, groups=groups), **common, run_id=run_id,
                               codec=label, extra={**extra, "per_item": per_item}))
    return out


def speakers(rows: list[dict]) -> list[str] | None:
    """Speaker per manifest row (the CI's clusters), or None unless every row names one."""
    if not rows or any(r.get("speaker") in (None, "") for r in rows):
        return None
    return [str(r["speaker"]) for r in rows]


def write_records(path: str | os.PathLike, records: list[dict[str, Any]]) -> Path:
    """Replace ``path`` atomically with these records (one run's output is one file)."""
    from bench.atomic import write_text
    from bench.results import validate

    for r in records:
        validate(r)
    return write_text(path, "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records))

