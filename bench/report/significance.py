"""Paired significance on per-item values: which of two codecs is better on the same items.

Uses ``bench.metrics.stats.paired_bootstrap`` (the metrics area owns statistics); the local
fallback below only keeps reports usable in a checkout where that module is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _fallback_paired_bootstrap(a, b, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05):
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    return float(d.mean()), float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def paired_bootstrap(a: Sequence[float], b: Sequence[float], n_boot: int = 1000, seed: int = 0):
    """(mean(a - b), ci_low, ci_high) at 95%."""
    try:
        from bench.metrics.stats import paired_bootstrap as impl
    except ImportError:
        impl = _fallback_paired_bootstrap
    mean, lo, hi = impl(list(a), list(b), n_boot=n_boot, seed=seed)
    return float(mean), float(lo), float(hi)


@dataclass(frozen=True)
class PairedDiff:
    n: int  # items scored in both
    mean_a: float
    mean_b: float
    diff: float  # mean(a - b)
    ci_low: float
    ci_high: float

    @property
    def significant(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0


def pair(per_item_a: dict | None, per_item_b: dict | None) -> tuple[list[float], list[float]]:
    """Values of the items both sides scored (by id; items either side failed on are left out)."""
    if not per_item_a or not per_item_b:
        return [], []
    b = {str(i): v for i, v in zip(per_item_b["ids"], per_item_b["values"], strict=True)}
    xs, ys = [], []
    for i, v in zip(per_item_a["ids"], per_item_a["values"], strict=True):
        w = b.get(str(i))
        if v is not None and w is not None:
            xs.append(float(v))
            ys.append(float(w))
    return xs, ys


def paired_diff(per_item_a: dict | None, per_item_b: dict | None, n_boot: int = 1000) -> PairedDiff | None:
    """Paired bootstrap of a - b; None when fewer than two items are shared (nothing to test)."""
    xs, ys = pair(per_item_a, per_item_b)
    if len(xs) < 2:
        return None
    mean, lo, hi = paired_bootstrap(xs, ys, n_boot=n_boot)
    return PairedDiff(len(xs), float(np.mean(xs)), float(np.mean(ys)), mean, lo, hi)
