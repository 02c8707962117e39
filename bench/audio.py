"""The one audio loader and writer.

Every file enters through :func:`load` (soundfile decode, mono mix, soxr resample, validation), so
a bad file fails once, early, with an error that names the file and the problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.atomic import atomic_path


class AudioError(ValueError):
    """A file that cannot be used as audio; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class Checks:
    min_seconds: float = 0.05
    silence_rms: float = 1e-5  # below this RMS the file is "all silent"
    max_clipped_fraction: float = 0.01  # share of samples at |x| >= 0.999


DEFAULT_CHECKS = Checks()


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample along the last axis with soxr (high quality, fast on CPU)."""
    if sr_in == sr_out:
        return x
    import soxr

    if x.ndim == 1:
        return soxr.resample(x, sr_in, sr_out).astype(np.float32)
    return np.stack([soxr.resample(ch, sr_in, sr_out) for ch in x]).astype(np.float32)


def validate(x: np.ndarray, sr: int, path: str | os.PathLike = "<array>", checks: Checks = DEFAULT_CHECKS) -> None:
    if x.size == 0:
        raise AudioError(path, "empty (0 samples)")
    if not np.all(np.isfinite(x)):
        raise AudioError(path, "contains NaN or Inf samples")
    dur = x.shape[-1] / sr
    if dur < checks.min_seconds:
        raise AudioError(path, f"too short ({dur:.3f} s < {checks.min_seconds} s)")
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    if rms < checks.silence_rms:
        raise AudioError(path, f"all silent (RMS {rms:.2e})")
    clipped = float(np.mean(np.abs(x) >= 0.999))
    if clipped > checks.max_clipped_fraction:
        raise AudioError(path, f"clipped ({clipped:.1%} of samples at full scale)")


def _wav_truncated(path: Path) -> str | None:
    """libsndfile silently shortens a WAV whose data chunk claims more bytes than the file holds."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = path.stat().st_size
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            cid, clen = f.read(4), int.from_bytes(f.read(4), "little")
            if cid == b"data":
                have = size - pos - 8
                return f"truncated (data chunk declares {clen} bytes, file holds {have})" if clen > have else None
            pos += 8 + clen + (clen & 1)
    return None


def load(
    path: str | os.PathLike,
    sr: int | None = None,
    mono: bool = True,
    checks: Checks | None = DEFAULT_CHECKS,
) -> tuple[np.ndarray, int]:
    """Decode ``path`` -> (float32 samples, rate). Mono: shape [T] (channels averaged).

    ``sr`` resamples to that rate; ``checks=None`` skips validation.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "no such file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        with sf.SoundFile(str(path)) as f:
            native = f.samplerate
            frames = f.frames
            x = f.read(dtype="float32", always_2d=True).T  # [C, T]
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioError(path, f"not decodable as audio ({e})") from None
    problem = _wav_truncated(path)
    if problem:
        raise AudioError(path, problem)
    if frames > 0 and x.shape[1] < frames:
        raise AudioError(path, f"truncated (header says {frames} frames, read {x.shape[1]})")
    if mono:
        x = x.mean(axis=0)
    if sr is not None and sr != native:
        x = resample(x, native, sr)
        native = sr
    if checks is not None:
        validate(x, native, path, checks)
    return np.ascontiguousarray(x, dtype=np.float32), native


def info_seconds(path: str | os.PathLike) -> float:
    """Duration from the header alone (no decode)."""
    i = sf.info(str(path))
    return i.frames / i.samplerate


def write(path: str | os.PathLike, x: np.ndarray, sr: int, subtype: str | None = None) -> Path:
    """Write atomically (temp file in the same folder, then rename): a kill never leaves half a file.

    Format follows the suffix (.wav, .flac). ``x`` is [T] or [C, T].
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.asarray(x, dtype=np.float32)
    data = x.T if x.ndim == 2 else x
    fmt = {".wav": "WAV", ".flac": "FLAC"}.get(path.suffix.lower())
    if fmt is None:
        raise AudioError(path, f"unsupported output format {path.suffix!r} (use .wav or .flac)")
    if subtype is None:
        subtype = "PCM_16"
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(data, -1.0, 1.0), sr, format=fmt, subtype=subtype)
    return path
