"""Seeded bootstrap statistics: CI of a mean, paired differences, and FAD over resampled clips.

Missing values (None/NaN) are dropped before resampling and the n reported is the number kept;
callers that need "None when anything is missing" check n against their input length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def _clean(values: Sequence[float | None]) -> np.ndarray:
    a = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return a[np.isfinite(a)]


def bootstrap_ci(values: Sequence[float | None], n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float | None, float | None, float | None]:
    """(mean, lo, hi): percentile bootstrap of the mean. (None,)*3 for no values; lo=hi=mean for one."""
    a = _clean(values)
    if a.size == 0:
        return None, None, None
    mean = float(a.mean())
    if a.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return mean, float(lo), float(hi)


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
    d = _clean([None if x is None or y is None else float(x) - float(y) for x, y in zip(a, b, strict=True)])
    if d.size < 2:
        return None
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
    obs = d.mean()
    return float((np.sum(np.abs(means - obs) >= abs(obs)) + 1) / (n_boot + 1))


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
