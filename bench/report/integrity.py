"""Which records may share a table: the same data build, the same scored items and the same budget.

A leaderboard row beside another claims "same data, same test items, same training budget"; when
records disagree on any of these, ``partition`` splits them into separate tables and says why, and
``check_comparable`` refuses a pairwise comparison with a named error. The scorer (backend identity,
aggregation, CI method) is kept apart by the table's columns (``tables.column_key``).
"""

from __future__ import annotations

import math
from typing import Any

REFERENCE = "reference"
# (frame column, words used when a split names it)
FIELDS = (("data_hash", "data build"), ("test_set", "test set"), ("budget_hash", "training budget"))


class IncomparableRecords(ValueError):
    """Two records differ in data build, scored items or budget: a difference between them means nothing."""


def _none(x: Any) -> Any:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def test_set_of(rec: dict) -> str | None:
    """The test set's identity: its ``test_set_hash``, else the same hash of its data build and per-item ids."""
    h = _none(rec.get("test_set_hash"))
    if h:
        return str(h)
    per_item = _none(rec.get("per_item"))
    if isinstance(per_item, dict) and per_item.get("ids"):
        from bench.data.subset import test_set_hash

        return test_set_hash(_none(rec.get("data_hash")), per_item["ids"])  # what a v2 writer would have stored
    return None


def identity(rec: dict, kind: str) -> tuple:
    """(data build, test set, budget) of one record; budget only for LM task tables."""
    budget = _none(rec.get("budget_hash")) if kind in ("task", "readiness") else None
    return (_none(rec.get("data_hash")), test_set_of(rec), budget)


def _describe(key: tuple, others: list[tuple]) -> str:
    parts = []
    for i, (_, words) in enumerate(FIELDS):
        if any(o[i] != key[i] for o in others):
            v = key[i]
            parts.append(f"{words} {'unknown' if v is None else f'`{str(v)[:16]}`'}")
    return ", ".join(parts)


def _fill_from_siblings(recs: list[dict], keys: list[tuple]) -> list[tuple]:
    """A record that cannot tell a field (a set-level metric has no per-item ids) takes it from the other
    records of its run, which scored the same items; a field no record of the run knows stays unknown."""
    known: dict[str, list[Any]] = {}
    for r, k in zip(recs, keys, strict=True):
        slot = known.setdefault(str(r.get("run_id")), [None] * len(k))
        for i, v in enumerate(k):
            if v is not None and slot[i] is None:
                slot[i] = v
    return [tuple(v if v is not None else known[str(r.get("run_id"))][i] for i, v in enumerate(k))
            for r, k in zip(recs, keys, strict=True)]


def partition(df, kind: str) -> list[tuple[str | None, Any]]:
    """Split one table's records into groups that may be compared; [(why or None, sub-frame)].

    Clean-reference records carry no budget: they join every group with their data build and test set.
    """
    if df.empty:
        return [(None, df)]
    recs = df.to_dict("records")
    keys = _fill_from_siblings(recs, [identity(r, kind) for r in recs])
    is_ref = [r.get("codec") == REFERENCE for r in recs]
    groups = sorted({k for k, ref in zip(keys, is_ref, strict=True) if not ref}, key=str)
    if not groups:
        groups = sorted(set(keys), key=str)
    if len(groups) == 1:
        return [(None, df)]
    out = []
    for g in groups:
        take = [k == g or (ref and k[:2] == g[:2]) for k, ref in zip(keys, is_ref, strict=True)]
        out.append((_describe(g, [o for o in groups if o != g]), df[take]))
    return out


def check_comparable(a: dict, b: dict, kind: str, what: str) -> None:
    """Raise IncomparableRecords naming the field where two records differ."""
    ka, kb = identity(a, kind), identity(b, kind)
    for i, (_, words) in enumerate(FIELDS):
        if ka[i] != kb[i]:
            raise IncomparableRecords(f"{what}: the two records differ in {words} ({ka[i]} vs {kb[i]}); "
                                      "a difference between them would not measure the codecs")
