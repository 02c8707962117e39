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
  (``prompt_seconds``, at most half the utterance, in seconds of the clean audio), and at least one
  word is left to continue;
- Whisper's word ends are coarse: on 16 grammar sentences x 4 flite voices, against flite's own segment
  times, tiny.en's lie a median 76 ms after the true boundary (62% more than 50 ms late: the next word's
  onset would sit in the prompt). The cut is therefore the quietest instant on a 1 ms grid (lowest energy
  in 40 ms around it) within ``[end - 120 ms, end + 40 ms]`` and at most the limit: a pause or a stop
  closure when there is one (then the median error was 40 ms; 41% > 50 ms late, 9% > 50 ms early).
  Between words with a pause the cut lands in the pause, the silence staying in the prompt;
- everything above is in seconds of the clean audio, so the split (the cut instant, the words on each side,
  the clean reference's continuation) is the same for every codec; only the prompt's length in frames is
  the codec's: the frame boundary nearest the cut. (The split was on each codec's frame grid until
  2026-12-08: a word ending between two codecs' frame-rounded limits went to the prompt for one and to the
  continuation for the other, so a 75 Hz and a 50 Hz codec were scored on different words for 1 of the
  cpu preset's 100 items, and the floor row was whichever cell ran last.)
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

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench.atomic import write_json
from bench.metrics.textnorm import normalize
from bench.paths import cache_path

SR = 16000
ASR_SIZE = "tiny.en"
BEFORE_S, AFTER_S, ENERGY_S = 0.12, 0.04, 0.04  # search window around Whisper's word end; energy window
GRID_MS = 1  # the cut's resolution: finer than any codec's frame
METHOD = (f"faster-whisper-{ASR_SIZE} word timestamps (CPU int8, 1 thread, beam 5, T=0) on the clean audio; "
          f"cut at the quietest {GRID_MS} ms instant in [end-{BEFORE_S * 1000:.0f}, end+{AFTER_S * 1000:.0f}] ms "
          "(codec-independent); prompt frames: the nearest frame boundary")
CACHE = "prompt_cuts.json"


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds
    end: float


@dataclass(frozen=True)
class Cut:
    """One test item's prompt boundary and the words after it (the row kept in ``prompt_cuts.json``).

    ``cut_seconds``, ``limit_seconds``, ``k`` and the texts are the same for every codec; ``prompt_frames`` (and
    ``prompt_seconds``, their length) are the codec's frames nearest the cut."""

    cut_seconds: float  # where the clean audio is split: the clean reference's continuation starts here
    limit_seconds: float
    prompt_frames: int
    prompt_seconds: float
    k: int  # normalized reference words inside the prompt
    prompt_words: list[str]  # the ASR's normalized words inside the prompt
    continuation_text: str  # the normalized reference words after the prompt: what WER scores against
    flags: list[str]
    asr_words: list[list]  # [text, start, end] of every ASR word, for audit

    @classmethod
    def from_json(cls, d: dict) -> Cut:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})

    def at(self, frame_rate: float) -> Cut:
        """The same split with the prompt on another codec's frame grid."""
        f = frames_of(self.cut_seconds, frame_rate)
        return replace(self, prompt_frames=f, prompt_seconds=round(f / frame_rate, 6))

    def prompt_text(self, text: str) -> str:
        """The normalized reference words of ``text`` (the item's) inside the prompt: what an ASR that hears the
        prompt before a continuation aligns away (``Item.lead_text``)."""
        return " ".join(normalize(text).split()[: self.k])


@lru_cache(maxsize=1)
def _model():
    from bench.metrics.asr import fw_model

    return fw_model(ASR_SIZE, threads=1)


def word_times(audio16k: np.ndarray) -> list[Word]:
    """Whisper's words with their times in the clean audio (16 kHz mono), cached under
    ``<data>/cache/word_times/`` by the audio's content and :data:`METHOD`: every codec's run of a preset cuts
    the same clean test clips, and the ASR is the slow part (~40 s for the cpu preset's 100 items)."""
    x = np.ascontiguousarray(audio16k, dtype=np.float32)
    key = hashlib.sha256(METHOD.encode() + b"|" + x.tobytes()).hexdigest()[:24]
    p = cache_path("word_times", key[:2], f"{key}.json")
    if p.is_file():
        return [Word(*w) for w in json.loads(p.read_text())]
    words = _transcribe_words(x)
    p.parent.mkdir(parents=True, exist_ok=True)
    write_json(p, [[w.text, w.start, w.end] for w in words])
    return words


def _transcribe_words(audio16k: np.ndarray) -> list[Word]:
    segs, _ = _model().transcribe(np.asarray(audio16k, dtype=np.float32), language="en", beam_size=5,
                                  temperature=0.0, word_timestamps=True, condition_on_previous_text=False,
                                  vad_filter=False)
    return [Word(w.word.strip(), float(w.start), float(w.end)) for s in segs for w in (s.words or [])]


def frames_of(cut_seconds: float, frame_rate: float) -> int:
    """The codec frame boundary nearest the cut (at least one frame)."""
    return max(1, round(cut_seconds * frame_rate))


def quietest_time(audio16k: np.ndarray, t: float, limit_s: float) -> float:
    """The instant on the ``GRID_MS`` grid in ``[t - BEFORE_S, t + AFTER_S]`` (and ``(0, limit_s]``) with the
    least energy in ``ENERGY_S`` around it; ties go to the latest, so a pause stays in the prompt."""
    lo = max(GRID_MS, GRID_MS * math.ceil((t - BEFORE_S) * 1000 / GRID_MS - 1e-9))
    hi = GRID_MS * math.floor(min(t + AFTER_S, limit_s) * 1000 / GRID_MS + 1e-9)
    if lo > hi:
        return max(GRID_MS, min(hi, GRID_MS * round(t * 1000 / GRID_MS))) / 1000
    half = round(ENERGY_S * SR / 2)
    x = np.asarray(audio16k, dtype=np.float64)

    def energy(ms: int) -> float:
        s = round(ms * SR / 1000)
        seg = x[max(0, s - half): s + half]
        return float(np.mean(seg**2)) if len(seg) else 0.0

    return min(range(lo, hi + 1, GRID_MS), key=lambda ms: (energy(ms), -ms)) / 1000


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


def limit_of(audio16k: np.ndarray, max_prompt_s: float) -> float:
    """The latest a prompt may end: ``max_prompt_s``, but at most half the utterance (so a short one still has a
    continuation to model and to score), in seconds of the clean audio."""
    return min(max_prompt_s, len(audio16k) / SR / 2)


def cut_of(audio16k: np.ndarray, text: str, words: Sequence[Word], frame_rate: float, limit_s: float) -> Cut:
    """The prompt boundary of one utterance (see the module docstring) from its ASR ``words``."""
    ref = normalize(text).split()
    flags: list[str] = []
    fits = [j for j in range(1, len(words)) if words[j - 1].end <= limit_s]
    if fits:
        j = fits[-1]
        t = quietest_time(audio16k, words[j - 1].end, limit_s)
    else:
        t = limit_s
        j = sum(1 for w in words if (w.start + w.end) / 2 < t)
        flags.append("no_word_boundary")
    hyp = normalize(" ".join(w.text for w in words)).split()
    n = len(normalize(" ".join(w.text for w in words[:j])).split())
    k = ref_position(ref, hyp, n)
    if hyp[:n] != ref[:k]:
        flags.append("cut_mismatch")
    if k >= len(ref):
        flags.append("empty_continuation")
    return Cut(round(t, 6), round(limit_s, 6), 0, 0.0, k, hyp[:n], " ".join(ref[k:]), flags,
               [[w.text, round(w.start, 3), round(w.end, 3)] for w in words]).at(frame_rate)


def cuts(run_dir: Path, items: Sequence[dict], audio_of: Callable[[dict], np.ndarray], frame_rate: float,
         max_prompt_s: float, timer: Callable[[np.ndarray], list[Word]] | None = None) -> dict[str, Cut]:
    """``{id: Cut}`` for ``items``, from ``<run_dir>/prompt_cuts.json``; the missing ones (or all, when that file
    was made by another method or ``max_prompt_s``) are computed and the file rewritten atomically. A stored
    split on another frame rate is reused as it is (it is codec-independent), its prompt frames recounted."""
    path = Path(run_dir) / CACHE
    stored: dict[str, dict] = {}
    new = True
    if path.is_file():
        d = json.loads(path.read_text())
        if d.get("method") == METHOD and d.get("max_prompt_seconds") == max_prompt_s:
            stored, new = d["items"], d.get("frame_rate") != frame_rate
    out: dict[str, Cut] = {}
    for it in items:
        row = stored.get(it["id"])
        if row is None:
            audio = audio_of(it)
            cut = cut_of(audio, it.get("text") or "", (timer or word_times)(audio), frame_rate,
                         limit_of(audio, max_prompt_s))
            new = True
        else:
            cut = Cut.from_json(row).at(frame_rate)
        stored[it["id"]] = asdict(cut)
        out[it["id"]] = cut
    if new:
        write_json(path, {"method": METHOD, "max_prompt_seconds": max_prompt_s, "frame_rate": frame_rate,
                          "items": stored})
    return out
