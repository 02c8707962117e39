"""Scoring glue: call the metrics area's helpers and shape their output into record fields.

An unavailable backend gives a record with ``value: None`` and the reason in ``extra`` (never a
substitute model, never 0.0), so the leaderboard shows the gap instead of hiding it.
"""

from __future__ import annotations

from bench.metrics import BackendUnavailable, Item


def metric_of(backend_name: str) -> str:
    return backend_name.split("/", 1)[0]


def _unavailable(name: str, why: str, n: int) -> dict:
    return {"backend": {"name": name}, "value": None, "n": 0, "ci_low": None, "ci_high": None,
            "higher_is_better": None, "extra": {"unavailable": why, "n_items": n}}


def score_items(name: str, items: list[Item], log=print) -> tuple[list[float | None], dict]:
    """Per-item values and a summary (value, n, CI, higher_is_better, backend identity)."""
    from bench.metrics import scoring

    try:
        vals = scoring.score_items(name, items)
    except BackendUnavailable as e:
        log(f"score: {name} unavailable: {e}")
        return [None] * len(items), _unavailable(name, str(e), len(items))
    summ = dict(scoring.summarize(name, vals))
    # per-item values ride on the record so paired significance tests work from committed results alone
    summ["extra"] = {"per_item": {"ids": [it.id for it in items], "values": vals}}
    return vals, summ


def score_set(name: str, hyp: list[Item], ref: list[Item], log=print) -> dict:
    """A set-level metric (FAD) of generated vs reference clips."""
    from bench.metrics import scoring

    try:
        out = dict(scoring.fad(name, hyp, ref))
    except BackendUnavailable as e:
        log(f"score: {name} unavailable: {e}")
        return _unavailable(name, str(e), len(hyp))
    out.pop("metric", None)
    return out


def is_set_level(name: str) -> bool:
    from bench.metrics import scoring

    try:
        return scoring.get_backend(name).level == "set"
    except BackendUnavailable:
        return metric_of(name) == "fad"
