"""Tensor audio at any rate in and out of a codec, for users of the Python API.

The benchmark's own pipelines do not need it: they read files at the codec's rate (``bench.audio.load``,
soxr) and bring decoded audio to the scoring rate with ``bench.audio.resample``.

Codecs take and return audio at their own ``sample_rate`` (EnCodec 24 kHz, DAC 16/24/44.1 kHz,
SpeechTokenizer and X-Codec 16 kHz); a tensor carries no rate, so a codec cannot detect audio at the
wrong rate. Tensors at another rate go through here:

- :func:`encode_at` (``wav`` at ``sr`` -> codes), :func:`decode_to` (codes -> audio at ``sr``,
  trimmed to ``length`` when given), or
- :class:`AtRate`, a codec view that presents any codec at a fixed rate (same codes, same figures,
  ``sample_rate`` = the outer rate), for pipelines that only know the protocol.

Resampling is torchaudio's band-limited sinc interpolation (``torchaudio.functional.resample``, Hann
window, default width): it runs on the codec's device and on batches; ``resample`` returns exactly
``ceil(T * sr_out / sr_in)`` samples. Files on disk are resampled by ``bench.audio.load`` (soxr) instead.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .base import Codec, WeightsStatus, check_wav

if TYPE_CHECKING:
    import torch


def resample(wav: torch.Tensor, sr_in: int, sr_out: int) -> torch.Tensor:
    """Resample along the last axis; identity when the rates match."""
    if sr_in == sr_out:
        return wav
    import torchaudio.functional as AF

    out = AF.resample(wav, int(sr_in), int(sr_out))
    n = math.ceil(wav.shape[-1] * sr_out / sr_in)
    return out[..., :n]


def encode_at(codec: Codec, wav: torch.Tensor, sr: int, n_q: int | None = None) -> torch.Tensor:
    """Encode ``wav`` [B, 1, T] recorded at ``sr`` with ``codec`` (resampled to its native rate first)."""
    check_wav(wav, codec.name)
    return codec.encode(resample(wav, sr, codec.sample_rate), n_q=n_q)


def decode_to(codec: Codec, codes: torch.Tensor, sr: int, length: int | None = None) -> torch.Tensor:
    """Decode to audio at ``sr``; ``length`` (samples at ``sr``) trims or zero-pads the result."""
    wav = resample(codec.decode(codes), codec.sample_rate, sr)
    if length is not None:
        from .library import fit_length

        wav = fit_length(wav, length)
    return wav


class AtRate(Codec):
    """``codec`` seen at ``rate``: encode resamples in, decode resamples out; tokens are unchanged."""

    def __init__(self, codec: Codec, rate: int) -> None:
        super().__init__(preset=codec.preset, weights=codec.weights_path, device=codec.device,
                         data_dir=codec.data_dir)
        self.inner = codec
        self.rate = int(rate)
        self.name = codec.name  # the tokens are the inner codec's: same name in caches and records

    @property
    def sample_rate(self) -> int:
        return self.rate

    @property
    def frame_rate(self) -> float:
        return self.inner.frame_rate

    @property
    def n_codebooks(self) -> int:
        return self.inner.n_codebooks

    @property
    def codebook_size(self) -> int:
        return self.inner.codebook_size

    def weights(self) -> WeightsStatus:
        return self.inner.weights()

    def encode(self, wav: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        return encode_at(self.inner, wav, self.rate, n_q=n_q)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return decode_to(self.inner, codes, self.rate)
