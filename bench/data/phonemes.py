"""IPA phonemes for transcripts: espeak-ng through phonemizer (one in-process backend, batched)."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=2)
def _backend(language: str):
    try:
        from phonemizer.backend import EspeakBackend
    except ImportError:
        raise RuntimeError("phonemes: install `pip install phonemizer` and `apt-get install espeak-ng`") from None
    import logging

    log = logging.getLogger("phonemizer")
    log.setLevel(logging.ERROR)
    return EspeakBackend(language, preserve_punctuation=False, with_stress=True, logger=log)


def phonemize(texts: list[str], language: str = "en-us") -> list[str]:
    """One IPA string per text (words separated by spaces)."""
    if not texts:
        return []
    out = _backend(language).phonemize(list(texts), strip=True, njobs=1)
    return [" ".join(p.split()) for p in out]
