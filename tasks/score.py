"""Scoring glue: call the metrics area's helpers and shape their output into record fields.

An unavailable backend gives a record with ``value: None`` and the reason in ``extra`` (never a
substitute model, never 0.0), so the leaderboard shows the gap instead of hiding it. Item-level
scores keep their per-item values, cluster labels (speaker) and details (ASR hypothesis, error
counts) in ``per_item``, so committed records can be re-aggregated, paired and audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.metrics import BackendUnavailable, Item


def metric_of(backend_name: str) -> str:
    return backend_name.split("/", 1)[0]


def unavailable(name: str, why: str, n: int) -> dict:
    """Record fields of a metric that could not score these ``n`` items: value None, n 0, the reason."""
    return {"metric": metric_of(name), "backend": {"name": name}, "value": None, "n": 0, "ci_low": None,
            "ci_high": None, "higher_is_better": None, "extra": {"unavailable": why, "n_items": n}}


def per_item(ids: Sequence[str], values: Sequence[float | None], groups: Sequence[str] | None = None,
             fields: dict[str, list] | None = None) -> dict[str, list]:
    """The record's ``per_item``: parallel lists keyed by item id (docs/RESULTS_SCHEMA.md)."""
    out: dict[str, list] = {"ids": [str(i) for i in ids], "values": list(values)}
    if groups is not None:
        out["groups"] = [str(g) for g in groups]
    return {**out, **(fields or {})}


def summarize_items(name: str, ids: Sequence[str], scored: Sequence[tuple[float | None, dict[str, Any]]],
                    groups: Sequence[str] | None = None) -> dict:
    """Record fields of one item-level score: value, n, CI and ``scorer`` from the metrics area, plus ``per_item``.

    ``groups`` (speaker per item) makes the CI a cluster bootstrap: items of one voice are not independent.
    """
    from bench.metrics import scoring

    values = [v for v, _ in scored]
    details = [d for _, d in scored]
    summ = dict(scoring.summarize(name, values, details=details, groups=groups))
    summ["per_item"] = per_item(ids, values, groups, scoring.per_item_fields(details))
    return summ


def score_items(name: str, items: list[Item], log=print,
                groups: Sequence[str] | None = None) -> tuple[list[float | None], dict]:
    """Per-item values and the record fields of their summary (see :func:`summarize_items`)."""
    import time

    from bench.metrics import scoring

    t0 = time.perf_counter()
    try:
        scored = scoring.score_items_detailed(name, items)
    except BackendUnavailable as e:
        log(f"score: {name} unavailable: {e}")
        return [None] * len(items), unavailable(name, str(e), len(items))
    log(f"score: {name}: {len(items)} items in {time.perf_counter() - t0:.1f} s")  # where a stage's time goes
    return [v for v, _ in scored], summarize_items(name, [it.id for it in items], scored, groups)


def groups_of(rows: Sequence[dict], key: str | None) -> list[str] | None:
    """Cluster label per item (``key``: speaker, piece, label), or None unless every item has one."""
    if not key or not rows or any(r.get(key) in (None, "") for r in rows):
        return None
    return [str(r[key]) for r in rows]


def score_set(name: str, hyp: list[Item], ref: list[Item], log=print) -> dict:
    """A set-level metric (FAD) of generated vs reference clips."""
    from bench.metrics import scoring

    try:
        out = dict(scoring.fad(name, hyp, ref))
    except BackendUnavailable as e:
        log(f"score: {name} unavailable: {e}")
        return unavailable(name, str(e), len(hyp))
    out.pop("metric", None)
    return out


def is_set_level(name: str) -> bool:
    from bench.metrics import scoring

    try:
        return scoring.get_backend(name).level == "set"
    except BackendUnavailable:
        return metric_of(name) == "fad"
