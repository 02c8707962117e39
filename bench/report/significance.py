"""Paired difference of two cells on the items both scored, in the cells' own aggregate.

A corpus metric (WER, CER, dWER) is compared as a difference of ratios of sums (errors over reference
words), a mean metric as a difference of means; items are resampled in pairs, by speaker first when
the items carry speaker labels (``bench.metrics.stats.paired_difference`` does the arithmetic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.metrics.stats import paired_difference

ALPHA = 0.05


@dataclass(frozen=True)
class PairedDiff:
    n: int  # items scored in both
    n_groups: int | None  # speakers (clusters) among them, when known
    mean_a: float  # each side's statistic over the paired items only
    mean_b: float
    diff: float  # stat(a) - stat(b)
    ci_low: float
    ci_high: float
    p_value: float | None
    method: str  # e.g. "paired cluster bootstrap, ratio of sums"

    @property
    def significant(self) -> bool:
        """The 95% CI excludes zero (unadjusted; planned contrasts adjust p with Holm)."""
        return self.ci_low > 0 or self.ci_high < 0


def _lookup(per_item: dict) -> dict[str, int]:
    return {str(i): k for k, i in enumerate(per_item["ids"])}


def _ratio_ready(p: dict) -> bool:
    return isinstance(p.get("num"), list) and isinstance(p.get("den"), list)


def pair(per_item_a: dict | None, per_item_b: dict | None, ratio: bool = False) -> dict[str, Any]:
    """Aligned arrays of the items both sides scored (by id); items either side failed on are left out.

    Returns {"a", "b", "den_a", "den_b", "groups"}; ``den_*`` are None unless ``ratio`` and both sides
    carry ``num``/``den``; ``groups`` (speaker labels) come from side a, else b, else None.
    """
    out: dict[str, Any] = {"a": [], "b": [], "den_a": None, "den_b": None, "groups": None}
    if not per_item_a or not per_item_b:
        return out
    ratio = ratio and _ratio_ready(per_item_a) and _ratio_ready(per_item_b)
    ib = _lookup(per_item_b)
    ga, gb = per_item_a.get("groups"), per_item_b.get("groups")
    den_a: list[float] = []
    den_b: list[float] = []
    groups: list[str] = []
    for ka, i in enumerate(per_item_a["ids"]):
        kb = ib.get(str(i))
        if kb is None or per_item_a["values"][ka] is None or per_item_b["values"][kb] is None:
            continue
        if ratio:
            out["a"].append(float(per_item_a["num"][ka]))
            out["b"].append(float(per_item_b["num"][kb]))
            den_a.append(float(per_item_a["den"][ka]))
            den_b.append(float(per_item_b["den"][kb]))
        else:
            out["a"].append(float(per_item_a["values"][ka]))
            out["b"].append(float(per_item_b["values"][kb]))
        if ga is not None:
            groups.append(str(ga[ka]))
        elif gb is not None:
            groups.append(str(gb[kb]))
    if ratio:
        out["den_a"], out["den_b"] = den_a, den_b
    if groups and len(groups) == len(out["a"]):
        out["groups"] = groups
    return out


def _stat(x: list[float], den: list[float] | None) -> float | None:
    total = sum(den) if den is not None else len(x)
    return sum(x) / total if total else None


def paired_diff(per_item_a: dict | None, per_item_b: dict | None, n_boot: int = 1000, seed: int = 0,
                ratio: bool = False, alpha: float = ALPHA) -> PairedDiff | None:
    """Paired bootstrap of a - b; None when fewer than two items are shared (nothing to test)."""
    p = pair(per_item_a, per_item_b, ratio)
    if len(p["a"]) < 2:
        return None
    r = paired_difference(p["a"], p["b"], den_a=p["den_a"], den_b=p["den_b"], groups=p["groups"],
                          n_boot=n_boot, seed=seed, alpha=alpha)
    if r.diff is None or r.ci_low is None or r.ci_high is None:
        return None
    stat_a, stat_b = _stat(p["a"], p["den_a"]), _stat(p["b"], p["den_b"])
    if stat_a is None or stat_b is None:
        return None
    return PairedDiff(len(p["a"]), r.n_groups, stat_a, stat_b, float(r.diff), float(r.ci_low), float(r.ci_high),
                      None if r.p_value is None else float(r.p_value), r.method)
