"""Dataset statistics written to ``stats.json`` and printed by ``bench data info``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

HIST_EDGES = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, float("inf"))


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def dataset_stats(rows: list[dict], out_dir: Path | None = None, group_key: str = "speaker") -> dict:
    """Hours, clips, groups (speakers / pieces / classes) per split, duration histogram, disk size."""
    durs = np.array([r["duration"] for r in rows], dtype=np.float64)
    per_split: dict[str, dict] = {}
    for split in ("train", "valid", "test"):
        sel = [r for r in rows if r["split"] == split]
        groups = Counter(r.get(group_key) for r in sel if r.get(group_key) is not None)
        per_split[split] = {
            "clips": len(sel),
            "hours": round(sum(r["duration"] for r in sel) / 3600, 4),
            f"{group_key}s": len(groups),
            f"{group_key}_counts": dict(sorted(groups.items())),
        }
    counts, _ = np.histogram(durs, bins=np.array(HIST_EDGES)) if len(durs) else (np.zeros(len(HIST_EDGES) - 1), None)
    hist = {f"{lo:g}-{hi:g}s": int(c) for lo, hi, c in zip(HIST_EDGES[:-1], HIST_EDGES[1:], counts, strict=True)}
    out = {
        "clips": len(rows),
        "hours": round(float(durs.sum()) / 3600, 4),
        "minutes": round(float(durs.sum()) / 60, 2),
        "group_key": group_key,
        f"{group_key}s": len({r.get(group_key) for r in rows if r.get(group_key) is not None}),
        "duration_mean": round(float(durs.mean()), 3) if len(durs) else None,
        "duration_min": round(float(durs.min()), 3) if len(durs) else None,
        "duration_max": round(float(durs.max()), 3) if len(durs) else None,
        "duration_histogram": hist,
        "splits": per_split,
    }
    if out_dir is not None:
        out["disk_bytes"] = disk_bytes(out_dir / "audio") if (out_dir / "audio").is_dir() else 0
        out["disk_mb"] = round(out["disk_bytes"] / 1e6, 2)
    return out
