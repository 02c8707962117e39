"""Score any folder of audio against a manifest (``bench score``): hypothesis files match manifest ids by stem.

Records use kind ``"score"`` (a folder scored outside the task pipeline); the clean reference audio
scored by the same backend is written beside it with codec ``"reference"`` so a codec's WER or MOS is
always read next to the reference's on the same utterances. Every hypothesis is checked before it is scored
(:func:`check_hypotheses`); the ones dropped are named with their reason in the records' ``extra``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.audio import AudioError, Checks, load

from .base import Item
from .scoring import fad, get_backend, per_item_fields, resolve_name, score_items_detailed, summarize

AUDIO_SUFFIXES = (".wav", ".flac")
NO_REF_METRICS = ("wer", "cer", "mos")  # metrics whose reference-audio score is informative


class ScoreError(ValueError):
    pass


def _hyp_files(hyp_dir: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for p in sorted(hyp_dir.rglob("*")):
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file():
            if p.stem in files:
                raise ScoreError(f"two hypothesis files share the id {p.stem!r}: {files[p.stem]} and {p}")
            files[p.stem] = p
    return files


# -- hypothesis checks ----------------------------------------------------------------------------------------
# Every hypothesis passes the loader's validation (bench.audio.validate) before it is scored; one that fails is
# dropped, named with its reason, and not counted in n. Thresholds:
#   unreadable   not decodable, 0 bytes, or a truncated WAV (the loader's errors)
#   non_finite   any NaN or Inf sample
#   too_short    under 0.05 s (the loader's minimum), or shorter than the reference beyond the length tolerance
#   silent       RMS below 1e-4 (-80 dBFS; the loader's default 1e-5 lets 16-bit +-1 LSB hiss through)
#   sample_rate  file rate != the manifest rate; the reference is never resampled to a hypothesis's rate
#   too_long     longer than the reference beyond the length tolerance
#   missing      a manifest id (of the split) with no file; extra: a file whose stem is no manifest id
# Clipping is not a drop reason: a clipped output is the codec's fault, and the metric should charge it.
HYP_CHECKS = Checks(min_seconds=0.05, silence_rms=1e-4, max_clipped_fraction=1.0)
# The length check applies to metrics that compare hypothesis and reference sample by sample (bench.metrics
# .signal cuts both to the shorter length, so a 10 ms clip or a 10-minute one would be scored on a sliver).
# WER/CER/dWER, MOS, speaker similarity and FAD are left out: generated speech (TTS, continuation) may
# legitimately differ in length from the ground-truth recording, WER already charges a truncated output
# (deletions) or a runaway one (insertions), and MOS and speaker similarity are properties of the clip itself.
ALIGNED_METRICS = ("pesq", "stoi", "sisdr", "mel")
LENGTH_TOL_S, LENGTH_TOL_FRAC = 0.1, 0.10  # dropped when |len_hyp - len_ref| > max(0.1 s, 10% of the reference)
_PROBLEMS = (("contains NaN or Inf", "non_finite"), ("too short", "too_short"), ("empty (0 samples)", "too_short"),
             ("all silent", "silent"))


@dataclass
class Kept:
    row: dict
    path: Path
    audio: np.ndarray  # at the manifest rate (files at another rate are dropped, never resampled)
    ref: np.ndarray | None


def check_hypotheses(rows: list[dict], hyp_dir: Path, manifest: Path, *, with_ref: bool, check_length: bool,
                     all_ids: set[str] | None = None) -> tuple[list[Kept], dict[str, dict[str, str]]]:
    """Load and check every hypothesis of ``rows``: (kept items, {reason: {id: detail}}) in manifest order.

    ``all_ids`` are the ids of the whole manifest: a file named after one of them that is outside ``rows`` (another
    split) is ignored; a file named after none is ``extra``.
    """
    from bench.data.manifest import audio_path

    files = _hyp_files(hyp_dir)
    known = all_ids if all_ids is not None else {r["id"] for r in rows}
    dropped: dict[str, dict[str, str]] = {}

    def drop(reason: str, id_: str, detail: str) -> None:
        dropped.setdefault(reason, {})[id_] = detail

    kept = []
    for r in rows:
        f = files.get(r["id"])
        if f is None:
            drop("missing", r["id"], f"no {r['id']}{{{','.join(AUDIO_SUFFIXES)}}} in {hyp_dir}")
            continue
        try:
            x, sr = load(f, checks=HYP_CHECKS)
        except AudioError as e:
            drop(next((k for p, k in _PROBLEMS if e.problem.startswith(p)), "unreadable"), r["id"], e.problem)
            continue
        if sr != r["sr"]:
            drop("sample_rate", r["id"], f"{sr} Hz, manifest rate {r['sr']} Hz")
            continue
        ref = load(audio_path(manifest, r), sr=r["sr"], checks=None)[0] if with_ref or check_length else None
        if ref is not None and check_length:
            diff = len(x) - len(ref)
            if abs(diff) > max(LENGTH_TOL_S * sr, LENGTH_TOL_FRAC * len(ref)):
                drop("too_long" if diff > 0 else "too_short", r["id"],
                     f"{len(x) / sr:.3f} s vs reference {len(ref) / sr:.3f} s (tolerance max({LENGTH_TOL_S} s, "
                     f"{LENGTH_TOL_FRAC:.0%}))")
                continue
        kept.append(Kept(r, f, x, ref))
    for stem, f in files.items():
        if stem not in known:
            drop("extra", stem, f"{f.name} matches no manifest id")
    return kept, dropped


def _items(kept: list[Kept], with_ref: bool) -> tuple[list[Item], list[Item]]:
    hyp, ref = [], []
    for k in kept:
        row, r, sr = k.row, (k.ref if with_ref else None), k.row["sr"]
        hyp.append(Item(row["id"], k.audio, sr, ref_audio=r, ref_text=row.get("text"), meta={"row": row}))
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
    all_rows = read_manifest(manifest)
    rows = [r for r in all_rows if split is None or r.get("split") == split]
    if with_reference is None:
        with_reference = b.metric in NO_REF_METRICS
    need_ref_audio = b.level == "set" or with_reference or bool({"ref_audio", "prompt_audio"} & set(b.needs))
    kept, dropped = check_hypotheses(rows, hyp_dir, manifest, with_ref=need_ref_audio,
                                     check_length=b.metric in ALIGNED_METRICS, all_ids={r["id"] for r in all_rows})
    if not kept:
        raise ScoreError(f"nothing left to score in {hyp_dir} for {manifest}" + (f" (split {split})" if split else "")
                         + ": " + drop_summary(dropped))
    if "ref_text" in b.needs and any(k.row.get("text") is None for k in kept):
        raise ScoreError(f"{name} needs transcripts but {manifest} has rows without 'text'")
    hyp, ref = _items(kept, need_ref_audio)
    files = [k.path for k in kept]
    codec = codec or hyp_dir.name
    run_id = run_id or f"score-{codec}-{_hash_inputs(manifest, files)}"
    common = {"kind": "score", "task": None, "preset": preset, "config_hash": _hash_inputs(manifest, files)}
    # dropped: {reason: [ids]}, n_dropped: {reason: count}, dropped_why: {id: detail}; n counts scored items only
    extra = {"manifest": str(manifest), "hyp_dir": str(hyp_dir), "split": split,
             "n_unmatched": len(dropped.get("missing", {})),
             "dropped": {k: sorted(v) for k, v in dropped.items()},
             "n_dropped": {k: len(v) for k, v in dropped.items()},
             "dropped_why": {i: d for v in dropped.values() for i, d in v.items()}}

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


def drop_summary(dropped: dict[str, dict[str, str]], show: int = 5) -> str:
    """One line per reason: count and the first ids (for an error message)."""
    if not dropped:
        return "no manifest id in the selection"
    parts = []
    for reason, ids in dropped.items():
        names = ", ".join(list(ids)[:show]) + (", ..." if len(ids) > show else "")
        parts.append(f"{reason} {len(ids)} ({names})")
    return "; ".join(parts)


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

