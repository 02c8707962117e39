"""tts continuation mode: where each test utterance's prompt ends, and the words that follow it.

Why: VALL-E's continuation protocol scores only what the model generated, but a fixed-length prompt
ends inside a word, so neither the audio nor the reference text can be split there. Here the prompt ends
at a word boundary found by ASR word timestamps on the clean test audio, and the reference text is split
at the same word, so WER, speaker similarity and MOS all score the continuation alone, against the words
it should say (docs/TASKS.md).

How, per test item (:func:`cut_of`):
- faster-whisper tiny.en on the clean 16 kHz audio, word timestamps, beam 5 at T=0, no conditioning, on
  CPU int8 in one thread (the same numbers on every machine, GPU or not, for every codec's run);
- the prompt keeps ASR words ``1..j``, j the last word that ends at or before the limit
  (:func:`bench.tasks.tts.prompt_split`: ``prompt_seconds``, at most half the utterance), and at least one
  word is left to continue;
- Whisper's word ends are coarse: on 16 grammar sentences x 4 flite voices, against flite's own segment
  times, tiny.en's lie a median 76 ms after the true boundary (62% more than 50 ms late: the next word's
  onset would sit in the prompt). The cut is therefore the quietest codec frame boundary (lowest energy
  in 40 ms around it) within ``[end - 120 ms, end + 40 ms]`` and at most the limit: a pause or a stop
  closure when there is one (then the median error was 40 ms; 41% > 50 ms late, 9% > 50 ms early).
  Between words with a pause the cut lands in the pause, the silence staying in the prompt;
- the reference words in the prompt: the normalized ASR prompt words mapped through the edit alignment of
  the whole transcript to the normalized reference (``bench.metrics.textnorm.normalize``), so a word the
  ASR misheard or inserted does not shift the split. The continuation text is the reference words after
  them. Flags: ``cut_mismatch`` when the ASR prompt words differ from the reference's first words (the
  item is kept and counted), ``no_word_boundary`` when no word ends in time (cut at the limit, words
  assigned by their midpoint), ``empty_continuation`` when no reference word is left (WER undefined).

The cuts are computed once per run and kept in ``<run dir>/prompt_cuts.json``: generation (possibly on
another machine) and scoring read the same cut.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench.atomic import write_json
from bench.metrics.textnorm import normalize

SR = 16000
ASR_SIZE = "tiny.en"
BEFORE_S, AFTER_S, ENERGY_S = 0.12, 0.04, 0.04  # search window around Whisper's word end; energy window
METHOD = (f"faster-whisper-{ASR_SIZE} word timestamps (CPU int8, 1 thread, beam 5, T=0) on the clean audio; "
          f"cut at the quietest frame in [end-{BEFORE_S * 1000:.0f}, end+{AFTER_S * 1000:.0f}] ms")
CACHE = "prompt_cuts.json"


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds
    end: float


@dataclass(frozen=True)
class Cut:
    """One test item's prompt boundary and the words after it (the row kept in ``prompt_cuts.json``)."""

    prompt_frames: int
    prompt_seconds: float
    limit_frames: int
    k: int  # normalized reference words inside the prompt
    prompt_words: list[str]  # the ASR's normalized words inside the prompt
    continuation_text: str  # the normalized reference words after the prompt: what WER scores against
    flags: list[str]
    asr_words: list[list]  # [text, start, end] of every ASR word, for audit

    @classmethod
    def from_json(cls, d: dict) -> Cut:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})

    def prompt_text(self, text: str) -> str:
        """The normalized reference words of ``text`` (the item's) inside the prompt: what an ASR that hears the
        prompt before a continuation aligns away (``Item.lead_text``)."""
        return " ".join(normalize(text).split()[: self.k])


@lru_cache(maxsize=1)
def _model():
    from bench.metrics.asr import fw_model

    return fw_model(ASR_SIZE, threads=1)


def word_times(audio16k: np.ndarray) -> list[Word]:
    """Whisper's words with their times in the clean audio (16 kHz mono)."""
    segs, _ = _model().transcribe(np.asarray(audio16k, dtype=np.float32), language="en", beam_size=5,
                                  temperature=0.0, word_timestamps=True, condition_on_previous_text=False,
                                  vad_filter=False)
    return [Word(w.word.strip(), float(w.start), float(w.end)) for s in segs for w in (s.words or [])]


def quietest_frame(audio16k: np.ndarray, t: float, frame_rate: float, limit_frames: int) -> int:
    """The frame boundary in ``[t - BEFORE_S, t + AFTER_S]`` (and ``1..limit_frames``) with the least energy
    in ``ENERGY_S`` around it; ties go to the latest, so a pause stays in the prompt."""
    lo = max(1, math.ceil((t - BEFORE_S) * frame_rate - 1e-9))
    hi = min(limit_frames, math.floor((t + AFTER_S) * frame_rate + 1e-9))
    if lo > hi:
        return max(1, min(limit_frames, round(t * frame_rate)))
    half = round(ENERGY_S * SR / 2)
    x = np.asarray(audio16k, dtype=np.float64)

    def energy(f: int) -> float:
        s = round(f / frame_rate * SR)
        seg = x[max(0, s - half): s + half]
        return float(np.mean(seg**2)) if len(seg) else 0.0

    return min(range(lo, hi + 1), key=lambda f: (energy(f), -f))


def ref_position(ref: list[str], hyp: list[str], h: int) -> int:
    """How many reference words precede hypothesis word ``h``, through the word edit alignment (an inserted
    hypothesis word maps to where it was inserted; reference words the ASR dropped there count as before)."""
    if h <= 0 or not ref:
        return 0
    if h >= len(hyp):
        return len(ref)
    import jiwer

    for c in jiwer.process_words(" ".join(ref), " ".join(hyp)).alignments[0]:
        if c.hyp_start_idx <= h < c.hyp_end_idx:
            return c.ref_start_idx + (h - c.hyp_start_idx if c.type in ("equal", "substitute") else 0)
    return len(ref)


def cut_of(audio16k: np.ndarray, text: str, words: Sequence[Word], frame_rate: float, limit_frames: int) -> Cut:
    """The prompt boundary of one utterance (see the module docstring) from its ASR ``words``."""
    ref = normalize(text).split()
    flags: list[str] = []
    fits = [j for j in range(1, len(words)) if words[j - 1].end <= limit_frames / frame_rate]
    if fits:
        j = fits[-1]
        frames = quietest_frame(audio16k, words[j - 1].end, frame_rate, limit_frames)
    else:
        frames = max(1, limit_frames)
        j = sum(1 for w in words if (w.start + w.end) / 2 < frames / frame_rate)
        flags.append("no_word_boundary")
    hyp = normalize(" ".join(w.text for w in words)).split()
    n = len(normalize(" ".join(w.text for w in words[:j])).split())
    k = ref_position(ref, hyp, n)
    if hyp[:n] != ref[:k]:
        flags.append("cut_mismatch")
    if k >= len(ref):
        flags.append("empty_continuation")
    return Cut(frames, round(frames / frame_rate, 6), limit_frames, k, hyp[:n], " ".join(ref[k:]), flags,
               [[w.text, round(w.start, 3), round(w.end, 3)] for w in words])


def cuts(run_dir: Path, items: Sequence[dict], audio_of: Callable[[dict], np.ndarray], frame_rate: float,
         limit_of: Callable[[dict], int], timer: Callable[[np.ndarray], list[Word]] | None = None) -> dict[str, Cut]:
    """``{id: Cut}`` for ``items``, from ``<run_dir>/prompt_cuts.json``; the missing ones (or those made by
    another method, frame rate or limit) are computed and the file rewritten atomically."""
    path = Path(run_dir) / CACHE
    stored: dict[str, dict] = {}
    if path.is_file():
        d = json.loads(path.read_text())
        if d.get("method") == METHOD and d.get("frame_rate") == frame_rate:
            stored = d["items"]
    out: dict[str, Cut] = {}
    new = False
    for it in items:
        row = stored.get(it["id"])
        if row is None or row["limit_frames"] != limit_of(it):
            audio = audio_of(it)
            row = asdict(cut_of(audio, it.get("text") or "", (timer or word_times)(audio), frame_rate, limit_of(it)))
            stored[it["id"]], new = row, True
        out[it["id"]] = Cut.from_json(row)
    if new:
        write_json(path, {"method": METHOD, "frame_rate": frame_rate, "items": stored})
    return out
