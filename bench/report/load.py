"""Read every record under ``results/records/`` into one flat pandas DataFrame.

Each line is validated (errors name file and line; nothing is dropped silently) and v1 lines are
upgraded to v2 (``bench.results.upgrade_v1``). When one cell (``bench.results.CELL_KEY``: preset
variant, kind, task, codec, decode, n_q, metric and backend identity) was recorded more than once,
the newest record wins and the older ones are counted as superseded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.paths import records_dir
from bench.results import CELL_KEY, RecordError, cell_key, parse_line, split_metric

__all__ = ["CELL_KEY", "Loaded", "flatten", "load_results"]


@dataclass
class Loaded:
    frame: Any  # pandas.DataFrame, one row per kept record
    files: list[Path] = field(default_factory=list)
    n_records: int = 0
    superseded: int = 0
    skipped: list[str] = field(default_factory=list)  # "file:line: why" for --skip-invalid


def backend_id(backend: dict) -> str:
    """Full identity of a metric backend: numbers from two identities are never one column."""
    parts = [backend.get("name", "?")]
    for k in ("model", "version", "weights_hash"):
        if backend.get(k) not in (None, ""):
            parts.append(f"{k}={backend[k]}")
    return " ".join(parts)


def codec_info(rec: dict) -> dict[str, Any]:
    """Codec columns from ``codec_facts``; ``n_q`` is the row's own (``variant.n_q``: a codec-eval point or the
    codebooks an LM models), absent for diagnostics of a whole codec."""
    c = rec.get("codec_facts") or {}
    return {"kbps": c.get("kbps"), "frame_rate": c.get("frame_rate"), "n_q": (rec.get("variant") or {}).get("n_q"),
            "origin": c.get("origin"), "teacher": c.get("teacher"), "codebook_size": c.get("codebook_size"),
            "codec_id": c.get("codec_id"), "codec_weights": c.get("weights")}


_TYPED = ("backend", "extra", "variant", "codec_facts", "data", "budget", "scorer", "per_item")


def _typed_columns(rec: dict) -> dict[str, Any]:
    """The v2 typed facts as frame columns (docs/RESULTS_SCHEMA.md, "Frame columns"); None when unknown."""
    data, budget, scorer = rec.get("data") or {}, rec.get("budget") or {}, rec.get("scorer") or {}
    variant = rec.get("variant") or {}
    return {"data_hash": data.get("build_hash"), "test_set_hash": data.get("test_set_hash"),
            "n_items": data.get("items"), "n_speakers": data.get("speakers"), "subset": data.get("subset"),
            "budget_hash": budget.get("hash"), "steps": budget.get("steps"),
            "steps_reached": budget.get("steps_reached"), "stop_reason": budget.get("stop_reason"),
            "scorer_sig": scorer.get("signature"), "aggregate": scorer.get("aggregate"),
            "ci_method": scorer.get("ci"), "n_boot": scorer.get("n_boot"), "boot_seed": scorer.get("seed"),
            "n_clusters": scorer.get("clusters"), "variant_preset": rec["preset"],
            "base_preset": variant.get("base_preset") or rec["preset"], "upgraded_from": rec.get("upgraded_from")}


def flatten(rec: dict[str, Any], source: str = "") -> dict[str, Any]:
    """One (v2) record -> one frame row: the cell key columns, value and CI, and every typed fact."""
    extra = rec.get("extra") or {}
    row = {k: v for k, v in rec.items() if k not in _TYPED}
    row["backend"] = rec["backend"]["name"]
    row["backend_id"] = backend_id(rec["backend"])
    row["backend_info"] = dict(rec["backend"])
    row.update(codec_info(rec))
    row["metric"], row["decode"] = split_metric(rec["metric"], (rec.get("variant") or {}).get("decode"))
    row["per_item"] = rec.get("per_item")
    row["train_curve"] = extra.get("train_curve")
    row["unavailable"] = extra.get("unavailable")  # why a value is None (a backend or a decoder missing here)
    row["run_dir"] = extra.get("run_dir")
    row.update(_typed_columns(rec))
    row["source"] = source
    for k in ("ci_low", "ci_high", "higher_is_better"):
        row.setdefault(k, None)
    return row


def _read_file(path: Path, skip_invalid: bool, skipped: list[str], errors: list[str]) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = parse_line(line, f"{path}:{i}")
            except RecordError as e:
                (skipped if skip_invalid else errors).append(str(e))
                continue
            out.append(flatten(rec, f"{path.name}:{i}"))
    return out


def _side_per_item(frame, data_root: Path) -> None:
    """Per-item values a task run kept only in ``<run dir>/scores.jsonl`` (keys ``<backend>@<variant>``).

    Records should carry ``extra.per_item`` (run dirs are not committed); this reads the side file
    where a record has none and its run dir (``extra.run_dir`` or ``runs/<run_id>``) is present here.
    """
    cache: dict[Path, list[dict] | None] = {}
    for i, r in frame.iterrows():
        if isinstance(r["per_item"], dict) or r["kind"] not in ("task", "reference"):
            continue
        run = Path(r["run_dir"]) if isinstance(r["run_dir"], str) else Path("runs") / str(r["run_id"])
        scores = (run if run.is_absolute() else data_root / run) / "scores.jsonl"
        if r["codec"] == "reference" and not scores.is_file():
            # Reference rows come from every codec run of the same config; any one of them holds its values.
            found = sorted((data_root / "runs" / str(r["task"]) / str(r["preset"])).glob(
                f"*-{r['config_hash']}/scores.jsonl"))
            scores = found[0] if found else scores
        if scores not in cache:
            cache[scores] = [json.loads(x) for x in scores.read_text().splitlines() if x.strip()] \
                if scores.is_file() else None
        rows = cache[scores]
        if not rows:
            continue
        variant = "reference" if r["codec"] == "reference" else (r["decode"] or "lm")
        key = f"{r['backend']}@{variant}"
        if all(key in x for x in rows):
            frame.at[i, "per_item"] = {"ids": [str(x["id"]) for x in rows], "values": [x[key] for x in rows]}


def load_results(results_dir: str | Path, preset: str | None = None, skip_invalid: bool = False,
                 data_root: Path | None = None) -> Loaded:
    """Load ``<results_dir>/records/**/*.jsonl``; raise one RecordError listing every bad line."""
    import pandas as pd

    root = records_dir(root=results_dir)
    files = sorted(root.glob("**/*.jsonl")) if root.is_dir() else []
    rows: list[dict] = []
    errors: list[str] = []
    skipped: list[str] = []
    for p in files:
        rows.extend(_read_file(p, skip_invalid, skipped, errors))
    if errors:
        shown = "\n  ".join(errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise RecordError(
            f"{len(errors)} malformed record(s):\n  {shown}{more}\n(--skip-invalid reports and skips them)"
        )
    n_records = len(rows)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return Loaded(frame, files, 0, 0, skipped)
    if preset is not None:
        frame = frame[frame["preset"] == preset]
    # Newest record per cell wins (stable on file order for equal times).
    frame = frame.reset_index(drop=True)
    frame["_order"] = range(len(frame))
    frame["_key"] = [cell_key(r) for r in frame.to_dict("records")]
    frame = frame.sort_values(["time", "_order"], kind="stable")
    kept = frame.drop_duplicates("_key", keep="last").sort_values("_order").drop(columns=["_key", "_order"])
    superseded = len(frame) - len(kept)
    kept = kept.reset_index(drop=True)
    if data_root is not None:
        _side_per_item(kept, Path(data_root))
    return Loaded(kept, files, n_records, superseded, skipped)
