"""Codebook layouts: how [n_q, T] codes become LM streams and back.

- VALL-E split: the AR model sees codebook 0 alone; the NAR model predicts codebooks 1..n_q-1.
- delay (MusicGen): n_q parallel streams, stream k shifted right by k; one LM step emits one token
  per stream, so a sequence is T + n_q - 1 steps long whatever n_q is.
- flatten: one stream of n_q * T tokens, frame-major, codebook k offset by k * vocab so each level
  keeps its own ids (the paper flattened 4 codebooks for music).

Every layout has an exact inverse; tests check build-then-revert is the identity.
"""

from __future__ import annotations

import numpy as np


def split_ar_nar(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[n_q, T] -> (first codebook [1, T], the rest [n_q-1, T])."""
    return codes[:1], codes[1:]


def merge_ar_nar(ar: np.ndarray, nar: np.ndarray) -> np.ndarray:
    return np.concatenate([ar, nar], axis=0)


def delay(codes: np.ndarray, pad: int) -> np.ndarray:
    """[K, T] -> [K, T + K - 1]: stream k holds codes[k] at steps k..k+T-1, ``pad`` elsewhere."""
    k_, t_ = codes.shape
    out = np.full((k_, t_ + k_ - 1), pad, dtype=codes.dtype)
    for k in range(k_):
        out[k, k : k + t_] = codes[k]
    return out


def undelay(patterned: np.ndarray) -> np.ndarray:
    """Inverse of :func:`delay`: [K, S] -> [K, S - K + 1]."""
    k_, s = patterned.shape
    t_ = s - k_ + 1
    if t_ < 0:
        raise ValueError(f"delayed sequence of {s} steps is shorter than its {k_} streams")
    return np.stack([patterned[k, k : k + t_] for k in range(k_)]) if k_ else patterned


def delay_known(k: int, step: int, n_frames: int) -> bool:
    """Whether stream ``k`` at delayed step ``step`` carries a real frame of an ``n_frames`` sequence."""
    return 0 <= step - k < n_frames


def flatten(codes: np.ndarray, vocab: int) -> np.ndarray:
    """[K, T] -> [1, K * T], frame-major, level k mapped to ids k*vocab .. (k+1)*vocab-1."""
    k_, t_ = codes.shape
    offs = (np.arange(k_, dtype=np.int64) * vocab)[:, None]
    return (codes.astype(np.int64) + offs).T.reshape(1, k_ * t_)


def unflatten(flat: np.ndarray, n_q: int, vocab: int) -> np.ndarray:
    """Inverse of :func:`flatten`: [1, K*T] -> [K, T] (a trailing partial frame is dropped)."""
    x = np.asarray(flat).reshape(-1)
    t_ = x.shape[0] // n_q
    x = x[: t_ * n_q].reshape(t_, n_q).T
    offs = (np.arange(n_q, dtype=np.int64) * vocab)[:, None]
    return x - offs


def pattern(codes: np.ndarray, kind: str, vocab: int, pad: int) -> np.ndarray:
    if kind == "delay":
        return delay(codes, pad)
    if kind == "flatten":
        return flatten(codes, vocab)
    raise ValueError(f"unknown codebook pattern {kind!r} (delay, flatten)")


def unpattern(x: np.ndarray, kind: str, n_q: int, vocab: int) -> np.ndarray:
    if kind == "delay":
        return undelay(x)
    if kind == "flatten":
        return unflatten(x, n_q, vocab)
    raise ValueError(f"unknown codebook pattern {kind!r} (delay, flatten)")


def streams_and_vocab(kind: str, n_q: int, vocab: int) -> tuple[int, int]:
    """(LM streams, code ids per stream) of a pattern: delay -> (n_q, vocab); flatten -> (1, n_q*vocab)."""
    if kind == "delay":
        return n_q, vocab
    if kind == "flatten":
        return 1, n_q * vocab
    raise ValueError(f"unknown codebook pattern {kind!r} (delay, flatten)")
