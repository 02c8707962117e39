"""The codec protocol: one small interface every tokenizer plugin implements.

Construction is cheap and imports no heavy library: ``bench codecs`` instantiates every entry to
read its figures and weight status. The model itself is built or loaded on first encode/decode.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:
    import torch

Origin = Literal["published", "trained-here"]


class WeightsUnavailable(RuntimeError):
    """The codec's weights are not present here; the message says how to get them."""


@dataclass(frozen=True)
class WeightsStatus:
    origin: Origin
    source: str  # pretrained id / local path, or "config <hash>" for trained-here codecs
    present: bool
    detail: str = ""  # how to obtain them when absent, or the checkpoint path when present
    teacher: str | None = None  # semantic teacher a checkpoint learned from, if any


class DecodeUnavailable(RuntimeError):
    """An encode-only tokenizer was asked to decode: it has no decoder (``Codec.decodes`` is False)."""


class Codec(ABC):
    """Audio tokenizer: ``encode(wav[B,1,T]) -> codes[B,n_q,F]`` (int64), ``decode`` back.

    An encode-only tokenizer (semantic units with no vocoder) sets ``decodes = False`` and raises
    :class:`DecodeUnavailable` from ``decode``: its token tasks train LMs and write LM-readiness and token
    statistics, and every measure of audio is recorded as unavailable with the reason (docs/GUIDE.md).
    """

    name: ClassVar[str] = ""
    licence: ClassVar[str] = ""  # of the published weights, as their card or package states it ("" if none apply)
    decodes: ClassVar[bool] = True  # False: an encode-only tokenizer (no decoder)

    def __init__(
        self,
        preset: str | None = None,
        weights: str | Path | None = None,
        device: str = "cpu",
        data_dir: str | Path | None = None,
    ) -> None:
        self.preset = preset
        self.weights_path = Path(weights) if weights else None
        self.device = device
        self.data_dir = data_dir

    # figures ---------------------------------------------------------------------------
    @property
    @abstractmethod
    def sample_rate(self) -> int: ...

    @property
    @abstractmethod
    def frame_rate(self) -> float: ...

    @property
    @abstractmethod
    def n_codebooks(self) -> int: ...

    @property
    @abstractmethod
    def codebook_size(self) -> int: ...

    def bitrate(self, n_q: int | None = None) -> float:
        """Bits per second with ``n_q`` codebooks (default: all)."""
        n_q = self.n_codebooks if n_q is None else n_q
        return n_q * math.log2(self.codebook_size) * self.frame_rate

    @abstractmethod
    def weights(self) -> WeightsStatus: ...

    def fetch_command(self) -> str | None:
        """The one command that gets the weights, shown by `bench codecs` (None: none is known)."""
        return None

    # tokens ----------------------------------------------------------------------------
    @abstractmethod
    def encode(self, wav: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """``wav`` [B, 1, T] float at ``sample_rate`` -> codes [B, n_q, F] int64 in [0, codebook_size)."""

    @abstractmethod
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, n_q, F] (any n_q <= n_codebooks) -> wav [B, 1, T']; an encode-only tokenizer raises
        :class:`DecodeUnavailable`."""

    def no_decoder(self) -> str:
        """Why nothing can be heard from this codec's tokens (the reason encode-only records carry)."""
        return f"{self.name} is an encode-only tokenizer: no decoder, so no audio to score"

    def _check_n_q(self, n_q: int | None) -> int:
        n_q = self.n_codebooks if n_q is None else int(n_q)
        if not 1 <= n_q <= self.n_codebooks:
            raise ValueError(f"{self.name}: n_q must be in 1..{self.n_codebooks}, got {n_q}")
        return n_q

    def summary(self) -> dict:
        w = self.weights()
        return {
            "name": self.name,
            "sample_rate": self.sample_rate,
            "frame_rate": self.frame_rate,
            "n_codebooks": self.n_codebooks,
            "codebook_size": self.codebook_size,
            "kbps": round(self.bitrate() / 1000, 3),
            "origin": w.origin,
            "weights": w.source,
            "present": w.present,
            "teacher": w.teacher,
            "detail": w.detail,
            "licence": self.licence or None,
            "get": self.fetch_command(),
            "decodes": self.decodes,
        }


def check_wav(wav: torch.Tensor, who: str) -> torch.Tensor:
    """Validate the protocol's input layout: [B, 1, T] float. Stereo is rejected, not guessed."""
    if wav.dim() != 3 or wav.shape[1] != 1:
        raise ValueError(f"{who}: expected wav of shape [B, 1, T] (mono), got {tuple(wav.shape)}")
    if not wav.is_floating_point():
        raise ValueError(f"{who}: expected float audio, got {wav.dtype}")
    return wav
