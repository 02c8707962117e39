"""The metric-backend protocol: one class per (metric, backend), stamping its identity on records."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np


class BackendUnavailable(RuntimeError):
    """The backend cannot run here; the message says why and how to make it available."""


@dataclass
class Item:
    """One scored utterance/clip. Backends declare which fields they need (``needs``)."""

    id: str
    audio: np.ndarray  # [T] float32
    sr: int
    ref_audio: np.ndarray | None = None  # the clean reference (signal metrics)
    ref_text: str | None = None  # transcript (WER/CER)
    prompt_audio: np.ndarray | None = None  # speaker prompt (speaker similarity)
    # Audio heard just before ``audio`` (a tts continuation's clean prompt): an ASR backend hears lead + audio as
    # one recording and scores only the words its alignment to lead_text + ref_text places in ``ref_text``;
    # every other metric ignores it
    lead_audio: np.ndarray | None = None
    lead_text: str | None = None  # the reference words spoken in lead_audio (an ASR needs them to split the two)
    meta: dict[str, Any] = field(default_factory=dict)


class MetricBackend(ABC):
    metric: ClassVar[str] = ""  # e.g. "wer"
    backend: ClassVar[str] = ""  # e.g. "faster-whisper-tiny.en"
    level: ClassVar[Literal["item", "set"]] = "item"
    higher_is_better: ClassVar[bool] = False
    needs: ClassVar[tuple[str, ...]] = ()  # Item fields beyond audio
    tier: ClassVar[Literal["offline", "paper"]] = "offline"
    # How per-item values become one number: "mean" of item values, or "ratio" = sum(num) / sum(den) over
    # the items' details (corpus WER: long utterances weigh by their length, as in every ASR paper).
    aggregate: ClassVar[Literal["mean", "ratio"]] = "mean"
    # Keys score_detailed puts on every item; a cached score without them is scored again.
    detail_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def available(cls) -> tuple[bool, str]:
        """(can run here, reason/how-to). Must be cheap: no model load."""

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """{"name", "model", "version", "weights_hash"} stamped on every record."""

    def signature_parts(self) -> list[tuple[str, str]]:
        """Settings beyond the model that change the number (e.g. decoding, text normalization)."""
        return []


class ItemMetric(MetricBackend):
    """A score per clip (WER, speaker similarity, MOS, PESQ...); the record aggregates them (``aggregate``)."""

    level: ClassVar[Literal["item", "set"]] = "item"

    @abstractmethod
    def score(self, items: list[Item]) -> list[float | None]:
        """Per-item scores, in order; None where the score is undefined for that item."""

    def score_detailed(self, items: list[Item]) -> list[tuple[float | None, dict[str, Any]]]:
        """Per-item (score, details) such as the ASR transcript; details are cached beside the score."""
        return [(v, {}) for v in self.score(items)]


class SetMetric(MetricBackend):
    """A score of a whole set against a reference set: the Frechet distance between Gaussians fitted to the
    frame embeddings of each set (FAD). The backend embeds one clip; ``bench.metrics.scoring.fad`` caches
    the embeddings per clip, fits, and bootstraps the CI over clips."""

    level: ClassVar[Literal["item", "set"]] = "set"

    @abstractmethod
    def embed(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """Frame embeddings [frames, dim] of one clip."""
