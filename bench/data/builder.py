"""The generic build engine every recipe uses: render missing clips, then write manifest, stats and a done marker.

Resumable by construction: each clip is its own file, written atomically, and named after a hash of
what produced it, so a killed build re-renders only what is missing and a changed config never
reuses a stale clip. Finishing writes ``.done`` holding the config hash; a rebuild with the same
config is then a no-op.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import audio
from bench.atomic import write_json, write_text
from bench.data.manifest import write_manifest
from bench.data.stats import dataset_stats
from bench.machine import usable_cpus

DONE = ".done"
RAW_CHECKS = audio.Checks(max_clipped_fraction=1.0)  # sources may touch full scale; normalization fixes that


class SkipClip(Exception):
    """Raised by a render function for a source that cannot give a usable clip (recorded, not retried)."""


@dataclass(frozen=True)
class ClipSpec:
    """One clip to produce. ``key`` is everything that determines its audio (hashed into the file name)."""

    id: str
    group: str  # sub-folder under audio/ (speaker, piece, class)
    key: dict
    # returns (samples, rate) or (samples, rate, extra manifest fields known only after rendering)
    render: Callable[[], tuple] = field(compare=False, repr=False)
    meta: dict = field(default_factory=dict)
    # render is a subprocess (flite, espeak) whose audio depends on the key alone: it may run beside others.
    # An in-process model (piper) renders in order, one at a time, as it always did.
    parallel: bool = field(default=False, compare=False)

    @property
    def relpath(self) -> str:
        h = hashlib.sha256(json.dumps(self.key, sort_keys=True, default=str).encode()).hexdigest()[:10]
        return f"audio/{self.group}/{self.id}-{h}.flac"


def loudness_normalize(x: np.ndarray, target_rms_db: float | None, peak: float = 0.95) -> np.ndarray:
    """Scale to a target RMS (dBFS) with a peak ceiling, so voices and sources sit at one level."""
    x = np.asarray(x, dtype=np.float32)
    if target_rms_db is not None:
        rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
        if rms > 0:
            x = x * (10 ** (target_rms_db / 20) / rms)
    m = float(np.max(np.abs(x))) if x.size else 0.0
    if m > peak:
        x = x * (peak / m)
    return x.astype(np.float32)


def render_missing(out_dir: Path, specs: Sequence[ClipSpec], sr: int, target_rms_db: float | None,
                   desc: str) -> dict[str, str]:
    """Render every spec whose file is absent. Returns {id: reason} for skipped clips."""
    from tqdm import tqdm

    skipped: dict[str, str] = {}
    todo = []
    for s in specs:
        p = out_dir / s.relpath
        skip = p.with_suffix(".skip")
        if skip.exists():
            skipped[s.id] = skip.read_text().strip()
        elif not p.exists():
            todo.append(s)
    def one(s: ClipSpec) -> str | None:
        p = out_dir / s.relpath
        try:
            x, x_sr, *extra = s.render()
            x = audio.resample(np.asarray(x, dtype=np.float32), x_sr, sr)
            audio.validate(x, sr, p, RAW_CHECKS)  # before normalization, which would lift a silent clip
            x = loudness_normalize(x, target_rms_db)
            audio.validate(x, sr, p)
        except (SkipClip, audio.AudioError) as e:
            write_text(p.with_suffix(".skip"), str(e) + "\n")
            return str(e)
        if extra and extra[0]:
            write_json(p.with_suffix(".json"), extra[0])  # before the audio: audio present => sidecar present
        audio.write(p, x, sr)
        return None

    # subprocess engines on every CPU (2x on 2 cores), then the rest in order
    side, serial = [s for s in todo if s.parallel], [s for s in todo if not s.parallel]
    ex = ThreadPoolExecutor(usable_cpus())
    try:
        with tqdm(total=len(todo), desc=desc, unit="clip", disable=not todo, dynamic_ncols=True) as bar:
            for s, why in itertools.chain(zip(side, ex.map(one, side)), ((s, one(s)) for s in serial)):
                if why is not None:
                    skipped[s.id] = why
                bar.update(1)
    finally:  # a kill or an error stops the queued clips; the ones being written finish (atomically)
        ex.shutdown(wait=True, cancel_futures=True)
    return skipped


def prune(out_dir: Path, keep: set[str]) -> int:
    """Remove audio files no longer in the plan (a config change); returns how many."""
    n = 0
    root = out_dir / "audio"
    if not root.is_dir():
        return 0
    for p in root.rglob("*"):
        rel = p.with_suffix(".flac").relative_to(out_dir).as_posix()
        if p.is_file() and p.suffix in (".flac", ".skip", ".json") and rel not in keep:
            p.unlink()
            n += 1
    return n


def is_done(out_dir: Path, cfg_hash: str) -> bool:
    marker = out_dir / DONE
    return marker.is_file() and (out_dir / "manifest.jsonl").is_file() and \
        json.loads(marker.read_text()).get("config_hash") == cfg_hash


def build(out_dir: Path, specs: Sequence[ClipSpec], *, sr: int, cfg_hash: str, config: dict[str, Any],
          target_rms_db: float | None = -20.0, desc: str = "build",
          finalize_rows: Callable[[list[dict]], list[dict]] | None = None,
          extra_stats: dict[str, Any] | None = None, group_key: str = "speaker") -> Path:
    """Render, then write ``manifest.jsonl`` (sorted by id), ``stats.json`` and ``.done``. Returns the manifest."""
    t0 = time.time()
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [s.id for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{desc}: duplicate clip ids in the plan")
    skipped = render_missing(out_dir, specs, sr, target_rms_db, desc)
    rows = []
    for s in specs:
        if s.id in skipped:
            continue
        p = out_dir / s.relpath
        dur = audio.info_seconds(p)
        extra = json.loads(p.with_suffix(".json").read_text()) if p.with_suffix(".json").is_file() else {}
        rows.append({"id": s.id, "path": s.relpath, "duration": round(dur, 4), "sr": sr, **s.meta, **extra})
    if finalize_rows is not None:
        rows = finalize_rows(rows)
    prune(out_dir, {s.relpath for s in specs})
    manifest = write_manifest(out_dir / "manifest.jsonl", rows)
    stats = dataset_stats(rows, out_dir, group_key=group_key)
    stats.update({"config_hash": cfg_hash, "skipped": len(skipped), "skipped_ids": sorted(skipped)[:50],
                  "last_build_seconds": round(time.time() - t0, 2), "config": config, **(extra_stats or {})})
    write_json(out_dir / "stats.json", stats)
    write_json(out_dir / DONE, {"config_hash": cfg_hash})
    return manifest
