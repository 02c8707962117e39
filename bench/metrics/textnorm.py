"""Text normalization for WER/CER: Whisper's English normalizer, the same for every codec and reference."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@lru_cache(maxsize=1)
def _normalizer():
    # whisper.normalizers imports only regex/json, not torch: cheap enough to load once.
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalize(text: str | None) -> str:
    """Lower case, spelled numbers -> digits, British -> American spelling, punctuation removed."""
    return " ".join(_normalizer()(text or "").split())


@dataclass(frozen=True)
class Counts:
    """Edit operations of one utterance: the numerator and denominator corpus WER sums over utterances."""

    ref: str  # normalized reference actually scored
    hyp: str  # normalized hypothesis
    sub: int
    dele: int
    ins: int
    den: int  # reference words (or characters, spaces included)

    @property
    def num(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def rate(self) -> float | None:
        """Per-utterance WER/CER; None when the normalized reference is empty (undefined, never 0)."""
        return None if self.den == 0 else self.num / self.den


def edit_counts(ref: str, hyp: str, chars: bool = False) -> Counts:
    """Substitutions, deletions, insertions after normalization (jiwer), over words or characters."""
    import jiwer

    r, h = normalize(ref), normalize(hyp)
    unit = list(r) if chars else r.split()
    hyp_units = list(h) if chars else h.split()
    if not unit or not hyp_units:  # jiwer rejects empty references; the counts are plain here
        return Counts(r, h, 0, len(unit), len(hyp_units), len(unit))
    out = jiwer.process_characters(r, h) if chars else jiwer.process_words(r, h)
    return Counts(r, h, out.substitutions, out.deletions, out.insertions, len(unit))


def wer_counts(ref: str, hyp: str, chars: bool = False) -> tuple[int, int]:
    """(edit operations, reference length) after normalization; over words, or characters (spaces count)."""
    c = edit_counts(ref, hyp, chars)
    return c.num, c.den


def error_rate(ref: str, hyp: str, chars: bool = False) -> float | None:
    """Per-utterance WER (or CER); None when the normalized reference is empty (undefined)."""
    return edit_counts(ref, hyp, chars).rate
