"""English sentence sources for speech synthesis, all offline.

* ``bundled``: ``sentences_en.txt`` in this package, a fixed selection of WordNet 3.0 example
  sentences (works with no apt at all, identical on every machine).
* ``wordnet``: every example sentence in the Debian ``wordnet-base`` data files (~23k), fetched as a
  data-only package.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

BUNDLED = Path(__file__).with_name("sentences_en.txt")
_QUOTED = re.compile(r'"([^"]+)"')
_OK = re.compile(r"^[A-Za-z][A-Za-z ,.'?!;:-]*$")


def clean(s: str) -> str | None:
    """Normalize one example sentence, or None if it is unfit for TTS (digits, symbols, fragments)."""
    s = " ".join(s.replace("`", "'").split()).strip(" ;,")
    if not s or not _OK.match(s) or "--" in s:
        return None
    s = s[0].upper() + s[1:]
    if s[-1] not in ".?!":
        s += "."
    return s


def wordnet_sentences(cache_dir: Path) -> list[str]:
    from bench.data.debs import unpacked

    root = unpacked("wordnet-base", cache_dir) / "usr/share/wordnet"
    out: set[str] = set()
    for f in sorted(root.glob("data.*")):
        for line in f.read_text(encoding="latin-1").splitlines():
            if "|" not in line:
                continue
            for q in _QUOTED.findall(line.split("|", 1)[1]):
                c = clean(q)
                if c:
                    out.add(c)
    return sorted(out)


def bundled_sentences() -> list[str]:
    return [ln for ln in BUNDLED.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]


def load_sentences(source: str, cache_dir: Path) -> list[str]:
    if source == "bundled":
        return bundled_sentences()
    if source == "wordnet":
        return wordnet_sentences(cache_dir)
    raise ValueError(f"unknown text source {source!r}; known: bundled, wordnet")


def select(sentences: list[str], n: int, seed: int, min_words: int, max_words: int) -> list[str]:
    """``n`` distinct sentences of ``min_words``..``max_words`` words, chosen by ``seed`` (order-stable)."""
    pool = sorted({s for s in sentences if min_words <= len(s.split()) <= max_words})
    if len(pool) < n:
        raise ValueError(f"only {len(pool)} sentences of {min_words}-{max_words} words, need {n}; "
                         "use text_source: wordnet or fewer clips")
    idx = np.random.default_rng(seed).permutation(len(pool))[:n]
    return [pool[i] for i in idx]
