"""Seeded test subsets stratified over a grouping field (speaker, piece, label).

Wherever a limit applies (a task's ``data.max_test_items``, ``bench eval-codec --limit``), the subset
takes an equal share of every held-out group, so a smoke run scores every voice instead of the
first voice's utterances; it is deterministic for a seed and keeps the manifest's order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SUBSET_SEED = 0  # the seed every limited test set uses (records state it in data.subset)


def group_of(row: dict, key: str | None) -> str:
    """A row's group; rows without the field are groups of their own (plain seeded sampling)."""
    value = row.get(key) if key else None
    return str(value) if value not in (None, "") else f"\0{row['id']}"


def stratified(rows: Sequence[dict], limit: int | None, key: str | None = "speaker",
               seed: int = SUBSET_SEED) -> list[dict]:
    """``limit`` rows with an equal share (±1) per group, seeded; all rows when there is no limit.

    Groups are visited in a seeded order, and each group's rows in a seeded order, one row per group
    per round, so with ``limit >= groups`` every group is in; the result keeps the input order.
    """
    rows = list(rows)
    if not limit or limit >= len(rows):
        return rows
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(group_of(r, key), []).append(i)
    names = sorted(groups)
    order = [names[j] for j in rng.permutation(len(names))]
    queues = {g: [groups[g][j] for j in rng.permutation(len(groups[g]))] for g in order}
    picked: list[int] = []
    while len(picked) < limit:
        for g in order:
            if queues[g] and len(picked) < limit:
                picked.append(queues[g].pop(0))
    return [rows[i] for i in sorted(picked)]


def describe(n_total: int, limit: int | None, seed: int = SUBSET_SEED) -> str:
    """``"all"`` or ``"stratified:seed=S,limit=L"``: how the scored items were chosen (``data.subset``)."""
    return "all" if not limit or limit >= n_total else f"stratified:seed={seed},limit={limit}"


def test_set_hash(build_hash: str | None, ids: Sequence[str]) -> str:
    """Identity of a scored test set: the data build plus the sorted item ids (``data.test_set_hash``)."""
    from bench.config import config_hash

    return config_hash({"data": build_hash, "ids": sorted(map(str, ids))})
