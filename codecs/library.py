"""What EnCodec, DAC and SpeechTokenizer adapters share: a library's own model behind the codec protocol.

Each adapter is a thin shell over the library's own ``nn.Module`` and its own encode/decode calls.
The model is built or loaded on first use (construction stays cheap and imports no torch).

Contract common to all of them (tested in ``tests/test_peer_codecs_*.py``):
- ``encode`` takes [B, 1, T] float at ``sample_rate`` (the codec's *native* rate) and returns int64
  codes [B, n_q, F] with ``F = ceil(T / hop_length)``. Stereo [B, 2, T] is rejected with a clear
  ``ValueError`` (``check_wav``); mixing down is the caller's decision, not ours. A tensor carries no
  rate: the pipelines read files at the codec's rate (``bench.audio.load``, soxr) and bring decoded
  audio to the scoring rate with ``bench.audio.resample``; for tensors at another rate, the Python API
  has :mod:`bench.codecs.resampling` (``encode_at`` / ``decode_to`` / ``AtRate``).
- ``decode`` takes codes [B, n_q, F] (any ``n_q <= n_codebooks``) and returns [B, 1, F * hop_length]:
  outputs that a library returns a few samples short (DAC's 16/24 kHz decoders: 8 samples) are
  zero-padded at the end, longer ones trimmed, so lengths never depend on the library's padding.

Published weights are looked up in this order and never downloaded offline:
``weights=PATH`` (the ``--weights`` flag) > the codec's ``BENCH_WEIGHTS_*`` variable > the library's
own cache folder. With ``BENCH_ONLINE=1`` the library's own downloader fetches what is missing.
"""

from __future__ import annotations

import math
import os
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import Codec, WeightsUnavailable, check_wav

if TYPE_CHECKING:
    import torch
    from torch import nn


def online() -> bool:
    """Whether the user allowed network downloads (``bench`` is offline unless ``BENCH_ONLINE=1``)."""
    return os.environ.get("BENCH_ONLINE") == "1"


def torch_hub_dir() -> Path:
    """``torch.hub.get_dir()`` computed without importing torch (same rules: $TORCH_HOME, $XDG_CACHE_HOME)."""
    home = os.environ.get("TORCH_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "torch" / "hub"


def hf_hub_dir() -> Path:
    """The Hugging Face hub cache (same rules as ``huggingface_hub``: $HF_HUB_CACHE, $HF_HOME)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def fit_length(wav: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad or trim the last axis to ``length`` (DAC 16/24 kHz decode 8 samples short)."""
    import torch.nn.functional as F

    t = wav.shape[-1]
    if t < length:
        return F.pad(wav, (0, length - t))
    return wav[..., :length]


class LibraryCodec(Codec):
    """A codec whose model is a third-party library's own module, loaded lazily."""

    hop_length: int = 0  # samples per frame at ``sample_rate``
    # per instance once set (the base constructor's arguments suffice, so no constructor of its own)
    _model: Any = None  # the loaded module; None until first use
    model_note: str = ""  # e.g. "random init (throughput only)" when a module was injected

    # published weights: one lookup order for every library codec ---------------------------
    weights_env: str = ""  # the environment variable a user may point at the weights

    def _resolve(self, p: Path) -> Path:
        """A path the user gave (file or folder) -> the checkpoint file the library loads."""
        return p

    def _library_cache(self) -> tuple[str, Path]:
        """(label, path) where the library's own download puts the weights."""
        raise NotImplementedError

    def _candidates(self) -> list[tuple[str, Path | None]]:
        """Where published weights are looked for, in order: ``--weights``, ``$<weights_env>``, the library's
        cache. Nothing is downloaded unless ``BENCH_ONLINE=1``."""
        env = os.environ.get(self.weights_env) if self.weights_env else None
        return [
            ("--weights", self._resolve(self.weights_path.expanduser()) if self.weights_path else None),
            (f"${self.weights_env}", self._resolve(Path(env).expanduser()) if env else None),
            self._library_cache(),
        ]

    # model --------------------------------------------------------------------------------
    @property
    def model(self) -> nn.Module:
        if self._model is None:
            self._model = self._load().to(self.device).eval()
        return self._model

    def use_model(self, module: nn.Module, note: str = "") -> LibraryCodec:
        """Use an already-built library module (tests, throughput on random init). Returns self."""
        self._model = module.to(self.device).eval()
        self.model_note = note
        return self

    @abstractmethod
    def _load(self) -> nn.Module:
        """Build or load the library model; raise ``WeightsUnavailable`` (fast) when weights are absent."""

    @abstractmethod
    def _encode(self, model: Any, wav: torch.Tensor, n_q: int) -> torch.Tensor:
        """The library's own encode call: [B,1,T] -> codes [B, n_q, F]."""

    @abstractmethod
    def _decode(self, model: Any, codes: torch.Tensor) -> torch.Tensor:
        """The library's own decode call: codes [B, n_q, F] -> wav [B, 1, ~F*hop]."""

    # protocol -----------------------------------------------------------------------------
    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def n_frames(self, n_samples: int) -> int:
        return math.ceil(n_samples / self.hop_length)

    def encode(self, wav: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        import torch

        check_wav(wav, self.name)
        n_q = self._check_n_q(n_q)
        model = self.model
        with torch.inference_mode():
            codes = self._encode(model, wav.to(self.device), n_q)
        return codes.long()

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        import torch

        if codes.dim() != 3:
            raise ValueError(f"{self.name}: expected codes [B, n_q, F], got {tuple(codes.shape)}")
        self._check_n_q(codes.shape[1])
        if codes.is_floating_point():
            raise ValueError(f"{self.name}: codes must be integers, got {codes.dtype}")
        model = self.model
        with torch.inference_mode():
            wav = self._decode(model, codes.to(self.device).long())
        return fit_length(wav, codes.shape[-1] * self.hop_length)


def first_existing(candidates: list[tuple[str, Path | None]]) -> tuple[str, Path] | None:
    """The first (label, path) whose path exists."""
    for label, p in candidates:
        if p is not None and p.exists():
            return label, p
    return None


def looked_in(candidates: list[tuple[str, Path | None]]) -> str:
    return "; ".join(f"{label}: {p}" for label, p in candidates if p is not None)


def unavailable(what: str, candidates: list[tuple[str, Path | None]], how: str) -> WeightsUnavailable:
    return WeightsUnavailable(
        f"{what}: weights not available here (looked in {looked_in(candidates) or 'nowhere'}). {how}"
    )
