"""Planned contrasts: the comparisons a table tests, chosen before looking at the numbers.

Per table (``contrasts.yaml``): the study's reference pairs (X-Codec against its acoustic-only twin)
at equal variant, and every other codec against the best row of each ranked metric at the best row's
variant. Rows of one codec are never contrasted here. Each contrast is a paired bootstrap on the
items both rows scored (by speaker, then item, when speakers are known); the p-values of one table
are Holm-adjusted together, so "significant" keeps its 5% family-wise meaning however many codecs
a table has.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from bench.config import load_preset
from bench.metrics.stats import holm
from bench.report.significance import PairedDiff, paired_diff

if TYPE_CHECKING:
    from bench.report.tables import Column, Row, Table

PLAN_FILE = Path(__file__).with_name("contrasts.yaml")
# Metrics shown but not tested: per-level perplexity is exp(nats per code) and its per-item num/den are in nats,
# so a paired difference would be in log units the column does not show; its bits/s summary is tested instead.
NOT_TESTED = ("ppl",)


@dataclass(frozen=True)
class Plan:
    reference: tuple[tuple[str, ...], ...] = ()
    vs_best: bool = True
    alpha: float = 0.05
    n_boot: int = 2000
    seed: int = 0


@lru_cache(maxsize=4)
def load_plan(path: str | None = None) -> Plan:
    plan = load_preset(Plan, path or PLAN_FILE)
    for pair_ in plan.reference:
        if len(pair_) != 2 or pair_[0] == pair_[1]:
            raise ValueError(f"{path or PLAN_FILE}: each reference entry must name two different codecs, got {pair_}")
    return plan


@dataclass
class Contrast:
    column: Column
    kind: str  # "reference" (the study's question) | "vs best"
    a: Row
    b: Row
    diff: PairedDiff | None  # None: fewer than two shared items with values
    p_holm: float | None = None

    def significant(self, alpha: float) -> bool:
        """Holm-adjusted p below ``alpha`` and the 95% CI shown beside it clear of zero. Both come from the same
        resamples but answer slightly differently (the p-value is sacrebleu's shifted null, which assumes a
        symmetric bootstrap distribution; the CI is percentile): with few speakers they can disagree at the
        boundary (cpu, text use: X-Codec - DAC was called better at p_Holm 0.050 with its CI [-0.13, 7.14]), and a
        verdict its own row's interval contradicts is not one to report."""
        return self.p_holm is not None and self.p_holm < alpha and self.diff is not None and self.diff.significant

    def a_better(self) -> bool | None:
        """Whether the difference favours row a (by the metric's direction); None for a tie or no test."""
        if self.diff is None or self.column.higher_is_better is None or self.diff.diff == 0:
            return None
        return (self.diff.diff > 0) == self.column.higher_is_better


def _variant(r: Row, kind: str) -> tuple:
    return (r.decode,) if kind in ("task", "readiness") else (r.decode, r.n_q)


def _find(rows: list[Row], codec: str, variant: tuple, kind: str) -> Row | None:
    hit = [r for r in rows if r.codec == codec and _variant(r, kind) == variant]
    return hit[0] if hit else None


def _has(r: Row, col: Column) -> bool:
    c = r.cells.get(col.key)
    return c is not None and c.value is not None


def _ratio(r: Row, col: Column) -> bool:
    c = r.cells.get(col.key)
    return c is not None and c.aggregate == "corpus"


def _test(col: Column, kind: str, a: Row, b: Row, plan: Plan) -> Contrast:
    ca, cb = a.cells[col.key], b.cells[col.key]
    d = paired_diff(ca.per_item, cb.per_item, n_boot=plan.n_boot, seed=plan.seed,
                    ratio=_ratio(a, col) and _ratio(b, col), alpha=plan.alpha)
    return Contrast(col, kind, a, b, d)


def plan_contrasts(table: Table, plan: Plan | None = None) -> list[Contrast]:
    """Every planned contrast of ``table`` with Holm-adjusted p-values over the whole table."""
    plan = plan or load_plan()
    rows = [r for r in table.rows if not r.is_reference]
    out: list[Contrast] = []
    seen: set[tuple] = set()

    def add(col: Column, kind: str, a: Row, b: Row) -> None:
        key = (col.key, frozenset({id(a), id(b)}))
        if key in seen or not (_has(a, col) and _has(b, col)):
            return
        seen.add(key)
        out.append(_test(col, kind, a, b, plan))

    for col in table.columns:
        if col.higher_is_better is None or col.metric.split("@")[0] in NOT_TESTED:
            continue
        for name_a, name_b in plan.reference:
            for a in (r for r in rows if r.codec == name_a):
                b = _find(rows, name_b, _variant(a, table.kind), table.kind)
                if b is not None:
                    add(col, "reference", a, b)
        if plan.vs_best and col.ranked:
            scored = sorted((r for r in rows if _has(r, col)), key=lambda r: r.cells[col.key].value,
                            reverse=bool(col.higher_is_better))
            # A collapsed codec is trivially predictable and near-silent: it is tested against the best, never it.
            healthy = [r for r in scored if r.codec not in table.collapsed]
            scored = healthy + [r for r in scored if r.codec in table.collapsed]
            if healthy:
                best = scored[0]
                for codec in sorted({r.codec for r in scored} - {best.codec}):
                    other = _find(rows, codec, _variant(best, table.kind), table.kind)
                    if other is not None:
                        add(col, "vs best", best, other)
    adjusted = holm([c.diff.p_value if c.diff else None for c in out])
    for c, p in zip(out, adjusted, strict=True):
        c.p_holm = p
    return out


def mark_best(table: Table, contrasts: list[Contrast], alpha: float) -> None:
    """Bold a column's best cell only when it beats every other codec there after Holm adjustment."""
    for col in table.columns:
        mine = [c for c in contrasts if c.column is col and c.kind == "vs best"]
        if not mine:
            continue
        best = mine[0].a
        if all(c.significant(alpha) and c.a_better() is True for c in mine):
            best.cells[col.key].bold = True
