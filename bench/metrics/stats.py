"""Seeded bootstrap statistics: CI of a mean or a ratio of sums (corpus WER), item or speaker-cluster
resampling, paired differences with p-values, Holm correction, and FAD over resampled clips.

Missing values (None/NaN) are dropped before resampling and the n reported is the number kept;
callers that need "None when anything is missing" check n against their input length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def _clean(values: Sequence[float | None]) -> np.ndarray:
    a = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return a[np.isfinite(a)]


def _arr(values: Sequence[float | None] | None, n: int) -> np.ndarray:
    """Float array with NaN for None; ones when ``values`` is None (the denominator of a plain mean)."""
    if values is None:
        return np.ones(n)
    if len(values) != n:
        raise ValueError(f"expected {n} values, got {len(values)}")
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def ratio_of_sums(num: Sequence[float | None], den: Sequence[float | None]) -> float | None:
    """sum(num) / sum(den) over items where both are defined: corpus WER weights each utterance by its length."""
    a, d = _arr(num, len(num)), _arr(den, len(num))
    ok = np.isfinite(a) & np.isfinite(d)
    total = d[ok].sum()
    return None if not ok.any() or total <= 0 else float(a[ok].sum() / total)


class _Resampler:
    """One set of bootstrap draws, applied to any statistic so paired sides see the same resamples.

    Item bootstrap: ``idx[b]`` are n item indices drawn with replacement (the draws ``bootstrap_ci`` always made).
    Two-stage cluster bootstrap: draw the groups with replacement, then, for each drawn group, its own number
    of items with replacement from within it; ``w[b, i]`` counts the draws of item i. Resampling whole speakers
    is what makes the interval honest when utterances of one speaker are correlated.
    """

    def __init__(self, n: int, groups: Sequence[Any] | None, n_boot: int, seed: int):
        rng = np.random.default_rng(seed)
        labels = _group_ids(groups) if groups is not None else np.zeros(0, dtype=np.int64)
        self.n_groups = int(labels.max()) + 1 if labels.size else 0
        self.idx: np.ndarray | None = None
        self.w: np.ndarray | None = None
        if self.n_groups < 2:
            self.idx = rng.integers(0, n, size=(n_boot, n))
            return
        members = [np.flatnonzero(labels == g) for g in range(self.n_groups)]
        picks = rng.multinomial(self.n_groups, np.full(self.n_groups, 1 / self.n_groups), size=n_boot)
        self.w = np.zeros((n_boot, n))
        for g, m in enumerate(members):
            self.w[:, m] = rng.multinomial(picks[:, g] * m.size, np.full(m.size, 1 / m.size))

    def ratio(self, num: np.ndarray, den: np.ndarray) -> np.ndarray:
        """sum(num)/sum(den) of every resample (den of ones: the mean)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.idx is not None:
                return num[self.idx].sum(axis=1) / den[self.idx].sum(axis=1)
            assert self.w is not None
            return (self.w @ num) / (self.w @ den)


def _group_ids(groups: Sequence[Any]) -> np.ndarray:
    index: dict[Any, int] = {}
    return np.array([index.setdefault(g, len(index)) for g in groups], dtype=np.int64)


def _interval(boots: np.ndarray, alpha: float) -> tuple[float, float]:
    lo, hi = np.nanquantile(boots, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _keep(groups: Sequence[Any] | None, ok: np.ndarray) -> list[Any] | None:
    return None if groups is None else [g for g, k in zip(groups, ok, strict=True) if k]


def bootstrap(values: Sequence[float | None], den: Sequence[float | None] | None = None,
              groups: Sequence[Any] | None = None, n_boot: int = 1000, seed: int = 0,
              alpha: float = 0.05) -> tuple[float | None, float | None, float | None]:
    """(estimate, lo, hi): the mean (``den`` None) or ratio of sums sum(values)/sum(den), percentile bootstrap.

    Items with an undefined value (None/NaN) or denominator are left out. With ``groups`` holding >= 2
    distinct labels the resampling is the two-stage cluster bootstrap; otherwise items are resampled.
    """
    if groups is not None and len(groups) != len(values):
        raise ValueError(f"bootstrap: {len(values)} values but {len(groups)} group labels")
    v, d = _arr(values, len(values)), _arr(den, len(values))
    ok = np.isfinite(v) & np.isfinite(d)
    v, d = v[ok], d[ok]
    if v.size == 0 or d.sum() <= 0:
        return None, None, None
    est = float(v.sum() / d.sum()) if den is not None else float(v.mean())
    if v.size == 1:
        return est, est, est
    boots = _Resampler(v.size, _keep(groups, ok), n_boot, seed).ratio(v, d)
    return (est, *_interval(boots, alpha))


def bootstrap_ci(values: Sequence[float | None], n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float | None, float | None, float | None]:
    """(mean, lo, hi): percentile bootstrap of the mean. (None,)*3 for no values; lo=hi=mean for one."""
    return bootstrap(values, n_boot=n_boot, seed=seed, alpha=alpha)


@dataclass(frozen=True)
class Paired:
    """stat(a) - stat(b) on the same items, its bootstrap CI and two-sided p-value (H0: no difference)."""

    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n: int
    n_groups: int | None
    method: str  # "cluster-bootstrap" | "item-bootstrap"


def paired_difference(a: Sequence[float | None], b: Sequence[float | None],
                      den_a: Sequence[float | None] | None = None, den_b: Sequence[float | None] | None = None,
                      groups: Sequence[Any] | None = None, n_boot: int = 2000, seed: int = 0,
                      alpha: float = 0.05) -> Paired:
    """Paired bootstrap of stat(a) - stat(b); stat = mean, or ratio of sums where a denominator is given.

    Inputs are aligned by item; an item undefined on either side is dropped from both. Both sides use the
    same resamples, so what the two systems share (hard utterances, speakers) cancels. ``den_b`` defaults
    to ``den_a`` (same references). The p-value is sacrebleu's shifted null: how often a resampled
    difference lies as far from the observed one as the observed one lies from zero.
    """
    n = len(a)
    if len(b) != n or (groups is not None and len(groups) != n):
        raise ValueError(f"paired_difference: {len(a)} vs {len(b)} values (must score the same utterances)")
    ratio = den_a is not None or den_b is not None
    da, db = _arr(den_a if den_a is not None else den_b, n), _arr(den_b if den_b is not None else den_a, n)
    xa, xb = _arr(a, n), _arr(b, n)
    ok = np.isfinite(xa) & np.isfinite(xb) & np.isfinite(da) & np.isfinite(db)
    xa, xb, da, db, g = xa[ok], xb[ok], da[ok], db[ok], _keep(groups, ok)
    k = int(ok.sum())
    n_groups = len(set(g)) if g is not None else None
    method = "cluster-bootstrap" if n_groups is not None and n_groups >= 2 else "item-bootstrap"
    if k == 0 or da.sum() <= 0 or db.sum() <= 0:
        return Paired(None, None, None, None, k, n_groups, method)
    diff = float(xa.sum() / da.sum() - xb.sum() / db.sum()) if ratio else float(xa.mean() - xb.mean())
    if k == 1:
        return Paired(diff, diff, diff, None, k, n_groups, method)
    r = _Resampler(k, g, n_boot, seed)
    boots = r.ratio(xa, da) - r.ratio(xb, db)
    lo, hi = _interval(boots, alpha)
    p = (np.sum(np.abs(boots - diff) >= abs(diff)) + 1) / (np.sum(np.isfinite(boots)) + 1)
    return Paired(diff, lo, hi, float(min(p, 1.0)), k, n_groups, method)


def paired_bootstrap(a: Sequence[float | None], b: Sequence[float | None], n_boot: int = 1000, seed: int = 0,
                     alpha: float = 0.05) -> tuple[float | None, float | None, float | None]:
    """Mean of a - b over the same utterances and its bootstrap CI; pairs with a missing side are dropped."""
    if len(a) != len(b):
        raise ValueError(f"paired_bootstrap: {len(a)} vs {len(b)} values (must score the same utterances)")
    d = [None if x is None or y is None else float(x) - float(y) for x, y in zip(a, b, strict=True)]
    return bootstrap_ci(d, n_boot=n_boot, seed=seed, alpha=alpha)


def paired_p_value(a: Sequence[float | None], b: Sequence[float | None], n_boot: int = 1000,
                   seed: int = 0) -> float | None:
    """Two-sided paired bootstrap p-value for mean(a - b) == 0 (sacrebleu-style shifted null)."""
    return paired_difference(a, b, n_boot=n_boot, seed=seed).p_value


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni step-down adjusted p-values (None stays None and is not counted as a test).

    The family-wise error stays at alpha however many codec pairs a report compares, without
    Bonferroni's loss of power: the i-th smallest p is multiplied by (m - i), then made monotone.
    """
    known = [(p, i) for i, p in enumerate(p_values) if p is not None]
    m = len(known)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(known)):
        running = max(running, min(1.0, (m - rank) * float(p)))
        out[i] = running
    return out


# -- Frechet distance -------------------------------------------------------------------------------
def gaussian_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray, eps: float = 1e-6) -> float:
    """||mu1-mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^1/2) (Heusel et al. 2017; Kilgour et al. 2019 for audio)."""
    from scipy import linalg

    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():  # singular product: regularise as the FID reference code does
        off = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
    covmean = np.real(covmean)
    return float(max(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean), 0.0))


def frechet_from_samples(x: np.ndarray, y: np.ndarray) -> float:
    return frechet_distance(*gaussian_stats(x), *gaussian_stats(y))


def fad_bootstrap(hyp: Sequence[np.ndarray], ref: Sequence[np.ndarray], n_boot: int = 100, seed: int = 0,
                  alpha: float = 0.05,
                  fd: Callable[[np.ndarray, np.ndarray], float] = frechet_from_samples,
                  ) -> tuple[float, float | None, float | None]:
    """FAD over per-clip frame embeddings ([frames, dim] each), with a CI from resampling clips of both sets."""
    value = fd(np.concatenate(hyp), np.concatenate(ref))
    if len(hyp) < 2 or len(ref) < 2 or n_boot <= 0:
        return value, None, None
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        hi = rng.integers(0, len(hyp), len(hyp))
        ri = rng.integers(0, len(ref), len(ref))
        boots.append(fd(np.concatenate([hyp[i] for i in hi]), np.concatenate([ref[i] for i in ri])))
    lo, hi_ = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return value, float(lo), float(hi_)


def eer(same: Sequence[float], diff: Sequence[float]) -> tuple[float, float]:
    """Equal error rate of a verification score (higher = same) and its threshold.

    Sweeps every observed score as threshold; EER is where false accepts (diff >= t) and false rejects
    (same < t) are closest, reported as their mean.
    """
    s, d = np.asarray(same, dtype=np.float64), np.asarray(diff, dtype=np.float64)
    if s.size == 0 or d.size == 0:
        raise ValueError("eer needs both same-class and different-class scores")
    best = (2.0, 0.0, 0.0)
    for t in np.unique(np.concatenate([s, d, [np.inf]])):
        far, frr = float(np.mean(d >= t)), float(np.mean(s < t))
        if abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2, float(t))
    return best[1], best[2]
