"""Text normalization for WER/CER: Whisper's English normalizer, the same for every codec and reference."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _normalizer():
    # whisper.normalizers imports only regex/json, not torch: cheap enough to load once.
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalize(text: str | None) -> str:
    """Lower case, spelled numbers -> digits, British -> American spelling, punctuation removed."""
    return " ".join(_normalizer()(text or "").split())


def wer_counts(ref: str, hyp: str, chars: bool = False) -> tuple[int, int]:
    """(edit operations, reference length) after normalization; over words, or characters (spaces count)."""
    import jiwer

    r, h = normalize(ref), normalize(hyp)
    n = len(r) if chars else len(r.split())
    if n == 0:
        return (len(h) if chars else len(h.split())), 0
    if not h:
        return n, n
    out = jiwer.process_characters(r, h) if chars else jiwer.process_words(r, h)
    return out.substitutions + out.deletions + out.insertions, n


def error_rate(ref: str, hyp: str, chars: bool = False) -> float | None:
    """Per-utterance WER (or CER); None when the normalized reference is empty (undefined)."""
    errs, n = wer_counts(ref, hyp, chars)
    return None if n == 0 else errs / n
