"""Text tokenizers built from the training manifest (the same for every codec): IPA characters for
phonemes, lower-cased words for captions. The vocabulary is capped at ``lm.text_vocab`` slots so the
LM's size never depends on the data; rarer symbols map to UNK."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from bench.tasks.lm.vocab import T_BOS, T_EOS, T_SPECIAL, T_UNK


def split_text(s: str, unit: str) -> list[str]:
    if unit == "char":
        return list(s)  # IPA strings: one symbol per code point, spaces kept as word boundaries
    if unit == "word":
        return re.findall(r"[a-z0-9']+", s.lower())
    raise ValueError(f"unknown text unit {unit!r} (char, word)")


class Vocab:
    def __init__(self, symbols: list[str], unit: str) -> None:
        self.symbols, self.unit = symbols, unit
        self.ids = {s: i + T_SPECIAL for i, s in enumerate(symbols)}

    @classmethod
    def build(cls, texts: list[str], unit: str, capacity: int) -> Vocab:
        counts = Counter(t for s in texts for t in split_text(s, unit))
        ranked = sorted(counts, key=lambda t: (-counts[t], t))
        return cls(ranked[: capacity - T_SPECIAL], unit)

    def encode(self, s: str) -> list[int]:
        return [T_BOS] + [self.ids.get(t, T_UNK) for t in split_text(s, self.unit)] + [T_EOS]

    def save(self, path: Path) -> None:
        from bench.atomic import write_json

        write_json(path, {"unit": self.unit, "symbols": self.symbols})

    @classmethod
    def load(cls, path: Path) -> Vocab:
        d = json.loads(Path(path).read_text())
        return cls(d["symbols"], d["unit"])
