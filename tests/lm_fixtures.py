"""Test fixtures for the task runners (not a codec, not a metric): a fixed random-projection RVQ
"codec", an RMS "metric" and a tiny speech-like manifest. Registered only inside tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bench.codecs import CODECS, Codec, DecodeUnavailable, WeightsStatus
from bench.data.manifest import write_manifest
from bench.metrics import METRICS, ItemMetric

HOP, SR, DIM = 320, 16000, 8


class ProjectionRVQ(Codec):
    """Frames of HOP samples -> fixed random projection -> residual VQ against fixed random codebooks."""

    name = "test-rpq"
    codebooks = 64

    def __init__(self, *a, **k) -> None:
        super().__init__(*a, **k)
        g = torch.Generator().manual_seed(0)
        self.proj = torch.randn(HOP, DIM, generator=g) / HOP**0.5
        self.books = torch.randn(8, self.codebooks, DIM, generator=g) * torch.logspace(0, -1.5, 8)[:, None, None]

    sample_rate = property(lambda self: SR)
    frame_rate = property(lambda self: SR / HOP)
    n_codebooks = property(lambda self: 8)
    codebook_size = property(lambda self: self.codebooks)

    def weights(self) -> WeightsStatus:
        return WeightsStatus("published", "test fixture", True)

    def encode(self, wav, n_q=None):
        n_q = self._check_n_q(n_q)
        b, _, t = wav.shape
        f = -(-t // HOP)
        x = torch.nn.functional.pad(wav[:, 0], (0, f * HOP - t)).view(b, f, HOP) @ self.proj
        codes = []
        for k in range(n_q):
            idx = torch.cdist(x, self.books[k][None].expand(b, -1, -1)).argmin(-1)
            codes.append(idx)
            x = x - self.books[k][idx]
        return torch.stack(codes, 1)

    def decode(self, codes):
        z = sum(self.books[k][codes[:, k]] for k in range(codes.shape[1]))
        return (z @ torch.linalg.pinv(self.proj)).reshape(codes.shape[0], 1, -1)


class EncodeOnlyRVQ(ProjectionRVQ):
    """The same tokens with no decoder: the shape of an encode-only tokenizer (units without a vocoder)."""

    name = "test-rpq-units"
    decodes = False

    def decode(self, codes):
        raise DecodeUnavailable(self.no_decoder())


class RMSBackend(ItemMetric):
    """Item-level fixture metric: RMS of the audio (deterministic, depends on the audio)."""

    metric, backend, needs = "wer", "test-rms", ()

    @classmethod
    def available(cls):
        return True, ""

    def identity(self):
        return {"name": "wer/test-rms", "model": "rms", "version": "1", "weights_hash": None}

    def score(self, items):
        return [float(np.sqrt(np.mean(it.audio.astype(np.float64) ** 2))) for it in items]


def register() -> None:
    if "test-rpq" not in CODECS:
        CODECS.register("test-rpq", ProjectionRVQ)
    if "test-rpq-units" not in CODECS:
        CODECS.register("test-rpq-units", EncodeOnlyRVQ)
    if "wer/test-rms" not in METRICS:
        METRICS.register("wer/test-rms", RMSBackend)


PHON = ["hɛloʊ wɝld", "ðə kæt sæt", "ɡʊd mɔɹnɪŋ", "waɪ nɑt", "siː juː", "ɔl ɹaɪt"]


def _tone(root, rid: str, si: int, mod_hz: int, seconds: float, stretch: float, rng: np.random.Generator) -> float:
    """Write one speaker-pitched, amplitude-modulated tone clip; returns its duration in seconds."""
    from bench.audio import write

    t = np.arange(int(SR * seconds * stretch)) / SR
    x = 0.3 * np.sin(2 * np.pi * (150 + 60 * si) * t) * (1 + 0.5 * np.sin(2 * np.pi * mod_hz * t))
    x = (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    write(root / "audio" / f"{rid}.flac", x, SR)
    return len(t) / SR


def make_manifest(root: Path, n_train_spk: int = 2, per_spk: int = 4, seconds: float = 1.0,
                  valid_per_spk: int = 0) -> Path:
    """Tones per 'speaker' (pitch) and 'word' (amplitude pattern): train speakers + one unseen test speaker;
    ``valid_per_spk`` adds valid clips ``<spk>-v<j>`` of each train speaker (after the other rows, which stay
    as they were)."""

    rng = np.random.default_rng(0)
    rows = []
    spks = [(f"spk{i}", "train") for i in range(n_train_spk)] + [("spkT", "test")]
    for si, (spk, split) in enumerate(spks):
        for j in range(per_spk):
            rid = f"{spk}-{j}"
            dur = _tone(root, rid, si, j + 1, seconds, 1 + 0.25 * (j % 2), rng)
            row = {"id": rid, "path": f"audio/{rid}.flac", "duration": dur, "sr": SR, "split": split,
                   "speaker": spk, "phonemes": PHON[j % len(PHON)], "text": PHON[j % len(PHON)],
                   "caption": f"a tone number {j}", "piece": spk}
            if split == "test" and j > 0:
                row["prompt_id"] = f"{spk}-0"
            rows.append(row)
    vrng = np.random.default_rng(1)
    for si, (spk, _) in enumerate(spks[:n_train_spk]):
        for j in range(valid_per_spk):
            rid = f"{spk}-v{j}"
            dur = _tone(root, rid, si, j + 2, seconds, 1 + 0.5 * (j % 2), vrng)
            rows.append({"id": rid, "path": f"audio/{rid}.flac", "duration": dur, "sr": SR, "split": "valid",
                         "speaker": spk, "phonemes": PHON[(j + 2) % len(PHON)], "text": PHON[(j + 2) % len(PHON)],
                         "caption": f"a tone number {j}", "piece": spk})
    return write_manifest(root / "manifest.jsonl", rows)
