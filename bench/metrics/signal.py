"""Signal metrics against the clean reference: PESQ (wide band), STOI, SI-SDR and log-mel L1.

Codecs may pad or trim a few samples, so hypothesis and reference are cut to the shorter length
(no time alignment beyond that: a codec that shifts audio is penalised, as it should be).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bench.audio import resample

from .base import Item, ItemMetric
from .weights import have_modules, pkg_version


def _pair(it: Item, sr: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    if it.ref_audio is None:
        raise ValueError(f"item {it.id}: this metric needs ref_audio")
    h, r = np.asarray(it.audio, dtype=np.float32), np.asarray(it.ref_audio, dtype=np.float32)
    if sr is not None:
        h, r = resample(h, it.sr, sr), resample(r, it.sr, sr)
    n = min(len(h), len(r))
    return h[:n], r[:n]


class _Signal(ItemMetric):
    needs: ClassVar[tuple[str, ...]] = ("ref_audio",)
    higher_is_better: ClassVar[bool] = True
    version_of: ClassVar[str] = "numpy"
    model: ClassVar[str] = ""

    def identity(self) -> dict[str, Any]:
        return {"name": f"{self.metric}/{self.backend}", "model": self.model,
                "version": f"{self.version_of} {pkg_version(self.version_of)}", "weights_hash": "none"}

    def score(self, items: list[Item]) -> list[float | None]:
        return [self.one(*_pair(it, getattr(self, "rate", None)), it.sr) for it in items]

    def one(self, hyp: np.ndarray, ref: np.ndarray, sr: int) -> float | None:
        raise NotImplementedError


class PESQWideband(_Signal):
    metric, backend, version_of, model = "pesq", "pesq-wb", "pesq", "ITU-T P.862.2 wide band at 16 kHz"
    rate = 16000

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return have_modules("pesq")

    def one(self, hyp: np.ndarray, ref: np.ndarray, sr: int) -> float | None:
        from pesq import NoUtterancesError, pesq

        try:
            return float(pesq(self.rate, ref, hyp, "wb"))
        except NoUtterancesError:
            return None  # no speech detected in the reference: undefined, not zero


class STOIPystoi(_Signal):
    metric, backend, version_of, model = "stoi", "pystoi", "pystoi", "STOI (Taal et al. 2011), pystoi at 10 kHz"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return have_modules("pystoi")

    def one(self, hyp: np.ndarray, ref: np.ndarray, sr: int) -> float | None:
        from pystoi import stoi

        return float(stoi(ref, hyp, sr, extended=False))


def si_sdr(hyp: np.ndarray, ref: np.ndarray, eps: float = 1e-12) -> float:
    """Scale-invariant SDR (Le Roux et al. 2019), zero-mean signals, in dB."""
    h = hyp.astype(np.float64) - np.mean(hyp)
    r = ref.astype(np.float64) - np.mean(ref)
    alpha = np.dot(h, r) / (np.dot(r, r) + eps)
    target = alpha * r
    noise = h - target
    return float(10 * np.log10((np.dot(target, target) + eps) / (np.dot(noise, noise) + eps)))


def lag0_corr(hyp: np.ndarray, ref: np.ndarray, eps: float = 1e-12) -> float:
    """Normalized cross-correlation at lag 0 of the zero-mean signals.

    SI-SDR is a function of it alone, 10 log10(rho^2 / (1 - rho^2)): near 0 it says the output's waveform
    is unrelated to the input's (a delay or a new phase), whatever it sounds like.
    """
    h = hyp.astype(np.float64) - np.mean(hyp)
    r = ref.astype(np.float64) - np.mean(ref)
    return float(np.dot(h, r) / (np.sqrt(np.dot(h, h) * np.dot(r, r)) + eps))


class SISDRClosedForm(_Signal):
    metric, backend, model = "sisdr", "closed-form", "SI-SDR (Le Roux et al. 2019), zero-mean"
    detail_keys: ClassVar[tuple[str, ...]] = ("lag0_corr",)

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return True, "ok"

    def score_detailed(self, items: list[Item]) -> list[tuple[float | None, dict[str, Any]]]:
        """SI-SDR with the lag-0 correlation it rests on, on the same trimmed pair."""
        pairs = [_pair(it) for it in items]
        return [(si_sdr(h, r), {"lag0_corr": lag0_corr(h, r)}) for h, r in pairs]

    def one(self, hyp: np.ndarray, ref: np.ndarray, sr: int) -> float | None:
        return si_sdr(hyp, ref)


def logmel(x: np.ndarray, sr: int, n_mels: int = 80, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """log10 mel power [frames, n_mels] (librosa, HTK-free slaney mels, floor 1e-5)."""
    import librosa

    m = librosa.feature.melspectrogram(y=np.asarray(x, dtype=np.float32), sr=sr, n_fft=n_fft, hop_length=hop,
                                       n_mels=n_mels, power=2.0)
    return np.log10(np.maximum(m, 1e-5)).T.astype(np.float32)


class MelLogmelL1(_Signal):
    """Mean absolute difference of log10 mel spectrograms (80 mels, n_fft 1024, hop 256, native rate)."""

    metric, backend, version_of, higher_is_better = "mel", "logmel-l1", "librosa", False
    model = "log10 mel L1 (80 mels, n_fft 1024, hop 256, native rate)"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return have_modules("librosa")

    def one(self, hyp: np.ndarray, ref: np.ndarray, sr: int) -> float | None:
        return float(np.mean(np.abs(logmel(hyp, sr) - logmel(ref, sr))))
