"""Recipe ``grammar``: sentences of a small template grammar, rendered by the speech recipe's voices.

Why: a small LM trained on CPU for minutes cannot learn open-vocabulary TTS, but it can learn ~55 words
in one sentence frame ("The old farmer opened the heavy door this morning."), and Whisper transcribes
such sentences from clear voices almost perfectly, so the WER of generated speech reads as the LM's
error rather than the ASR's. Words are chosen to have no common homophone ("four"/"for" and
"two"/"too" make Whisper's language prior the error, as on the GRID grammar).

Test generalization is measured twice over: test voices are unseen in training (as in ``speech``), and
some word pairs (``heldout_pairs``: adjective + noun, verb + object) never occur in train/valid
sentences while a fraction of test sentences contain one (manifest field ``heldout_pair``). Every test
word occurs in training, so a held-out pair is a new combination of known words, not a new word.
Slot vocabularies are disjoint, so "both words occur in the sentence" is exactly "this combination".

Rendering, phonemes, loudness, speaking rates and prompt pairing are the speech recipe's
(``speech.voice_clips``, ``speech.pair_prompts``): only where the text comes from differs.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.recipe import Plan
from bench.data.speech import TunedVoice, _check_voices, pair_prompts, voice_clips, voice_counts

TEXT_LICENCE = "text: generated from the recipe's template grammar"
SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class GrammarConfig:
    voices: tuple[TunedVoice, ...]  # speech's voices plus a base speed and (flite) a pitch
    template: str  # e.g. "the {subj_adj} {subj_noun} {verb} the {obj_adj} {obj_noun} {time}"
    slots: dict[str, list[str]]  # slot name -> list of words or phrases; the slots' vocabularies must be disjoint
    heldout_pairs: tuple[tuple[str, str], ...] = ()  # word pairs never together in train/valid
    test_heldout_fraction: float = 0.5  # test sentences built around one held-out pair; the rest have none
    train_per_voice: int = 40
    valid_per_voice: int = 4
    test_per_voice: int = 25
    seed: int = 0
    sr: int = 16000
    rate_jitter: float = 0.08
    target_rms_db: float = -20.0
    notes: str = ""


class Grammar:
    """The template, its slot vocabularies and the held-out pairs, validated; draws sentences with a Generator."""

    def __init__(self, template: str, slots: Mapping[str, Sequence[str]],
                 heldout_pairs: tuple[tuple[str, str], ...] = ()) -> None:
        self.template = template
        self.order = SLOT.findall(template)
        if sorted(self.order) != sorted(set(self.order)) or set(self.order) != set(slots):
            raise ValueError(f"grammar: template slots {self.order} must be distinct and match {sorted(slots)}")
        self.slots: dict[str, tuple[str, ...]] = {k: tuple(slots[k]) for k in self.order}
        self.slot_of: dict[str, str] = {}
        for k, words in self.slots.items():
            if not words or len(set(words)) != len(words):
                raise ValueError(f"grammar: slot {k!r} needs distinct words, got {list(words)}")
            for w in words:
                if w in self.slot_of:
                    raise ValueError(f"grammar: {w!r} is in slots {self.slot_of[w]!r} and {k!r}; keep them disjoint")
                self.slot_of[w] = k
        for a, b in heldout_pairs:
            if a not in self.slot_of or b not in self.slot_of or self.slot_of[a] == self.slot_of[b]:
                raise ValueError(f"grammar: held-out pair ({a}, {b}) must name words of two different slots")
        self.heldout = tuple((a, b) for a, b in heldout_pairs)

    def sentence(self, choice: dict[str, str]) -> str:
        """Slot choice -> sentence text with a capital and a full stop (what the TTS reads)."""
        s = self.template.format(**choice)
        return s[0].upper() + s[1:] + "."

    def pair_in(self, choice: dict[str, str]) -> list[tuple[str, str]]:
        """Held-out pairs this choice contains."""
        used = set(choice.values())
        return [p for p in self.heldout if p[0] in used and p[1] in used]

    def draw(self, rng: np.random.Generator, n: int, counts: dict[str, dict[str, int]], seen: set[str],
             pairs: list[tuple[str, str] | None]) -> list[tuple[str, tuple[str, str] | None]]:
        """``n`` new sentences; sentence i contains exactly held-out pair ``pairs[i]`` (None: no held-out pair).

        Each free slot takes one of its least-used words so far (``counts``, updated), ties broken by ``rng``:
        every word of every slot occurs once before any occurs twice, so a few dozen training sentences
        already cover the vocabulary. After 50 rejected tries (duplicate, wrong pairs) a slot draws uniformly.
        """
        out: list[tuple[str, tuple[str, str] | None]] = []
        for i in range(n):
            want = pairs[i % len(pairs)] if pairs else None
            fixed = {self.slot_of[w]: w for w in want} if want else {}
            for tries in range(10_000):
                choice = {}
                for k, words in self.slots.items():
                    if k in fixed:
                        choice[k] = fixed[k]
                        continue
                    low = min(counts[k][w] for w in words)
                    pool = [w for w in words if tries >= 50 or counts[k][w] == low]
                    choice[k] = pool[int(rng.integers(len(pool)))]
                s = self.sentence(choice)
                if s not in seen and self.pair_in(choice) == ([want] if want else []):
                    break
            else:
                raise ValueError(f"grammar: cannot find {n} distinct sentences with these held-out rules")
            seen.add(s)
            for k, w in choice.items():
                counts[k][w] += 1
            out.append((s, want))
        return out


def words(text: str) -> set[str]:
    """Lower-case words of a sentence, punctuation stripped (what 'every test word occurs in train' compares)."""
    return set(text.lower().translate(str.maketrans("", "", string.punctuation)).split())


def slot_reading(g: Grammar, refs: Sequence[str], hyps: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Per slot, (reference occurrences the hypothesis says, reference occurrences): which words a TTS reads.

    A corpus WER says how much is wrong; this says where. A small LM that reads only the words it can
    locate from the ends of its text says the verb and the time phrase but the object from its prior,
    at chance (1 / the slot's size); the slots' vocabularies are disjoint, so a word (or phrase) said
    anywhere in the normalized hypothesis is its slot's. Slots with no occurrence in ``refs`` are left out.
    """
    from bench.metrics.textnorm import normalize

    out: dict[str, list[int]] = {}
    for ref, hyp in zip(refs, hyps, strict=True):
        r, h = f" {normalize(ref)} ", f" {normalize(hyp)} "
        for w, k in g.slot_of.items():
            n = f" {normalize(w)} "
            if n in r:
                c = out.setdefault(k, [0, 0])
                c[0] += n in h
                c[1] += 1
    return {k: (out[k][0], out[k][1]) for k in g.order if k in out}


def sentences(cfg: GrammarConfig, n_train: int, n_valid: int,
              n_test: int) -> tuple[list[str], list[str], list[tuple[str, str | None]]]:
    """(train, valid, test (sentence, held-out pair "a b" or None)), all distinct, from ``cfg.seed``.

    Drawn test first, then valid, then train, from one generator: a preset that only raises
    ``train_per_voice`` keeps its test and valid sentences and adds training ones (the first ``n_train``
    training sentences are the same for any larger ``n_train``), so data-size settings compare on one test set.
    Raises if a test word never occurs in train/valid sentences (then the preset has too few of them).
    """
    g = Grammar(cfg.template, cfg.slots, cfg.heldout_pairs)
    rng = np.random.default_rng(cfg.seed)
    seen: set[str] = set()
    n_pair = round(cfg.test_heldout_fraction * n_test) if g.heldout else 0
    test_counts = {k: dict.fromkeys(ws, 0) for k, ws in g.slots.items()}  # balance the test set on its own
    with_pair = g.draw(rng, n_pair, test_counts, seen, list(g.heldout))
    without = g.draw(rng, n_test - n_pair, test_counts, seen, [])
    test = with_pair + without
    order = rng.permutation(len(test))  # mix them across voices
    test = [(test[i][0], " ".join(test[i][1]) if test[i][1] else None) for i in order]
    counts = {k: dict.fromkeys(ws, 0) for k, ws in g.slots.items()}
    valid = [s for s, _ in g.draw(rng, n_valid, counts, seen, [])]
    train = [s for s, _ in g.draw(rng, n_train, counts, seen, [])]
    known = set().union(*(words(s) for s in train + valid)) if train or valid else set()
    unknown = sorted(set().union(*(words(s) for s, _ in test)) - known) if test else []
    if unknown:
        raise ValueError(f"grammar: test words {unknown} never occur in train/valid; raise train_per_voice")
    return train, valid, test


def plan(cfg: GrammarConfig, out_dir: Path, cache_dir: Path) -> Plan:
    _check_voices(cfg.voices)
    counts = voice_counts(cfg.voices, cfg.train_per_voice, cfg.valid_per_voice, cfg.test_per_voice)
    train, valid, test = sentences(cfg, sum(n - nv for v, n, nv in counts if not v.heldout),
                                   sum(nv for v, _, nv in counts if not v.heldout),
                                   sum(n for v, n, _ in counts if v.heldout))
    tr, va, te = iter(train), iter(valid), iter(test)
    clips = [(v, i, "test" if v.heldout else "valid" if i < n_valid else "train")
             for v, n, n_valid in counts for i in range(n)]
    # test clips first, then valid, then train (a stable sort: voice and index order within each): each clip's
    # seeded speaking rate (voice_clips draws them in this order) stays the same when only train_per_voice changes
    rank = {"test": 0, "valid": 1, "train": 2}
    utts, meta = [], []
    for v, i, split in sorted(clips, key=lambda c: rank[c[2]]):
        text, pair = next(te) if split == "test" else (next(va if split == "valid" else tr), None)
        utts.append((v, i, split, text))
        meta.append({"heldout_pair": pair})
    specs = voice_clips(utts, seed=cfg.seed, sr=cfg.sr, rate_jitter=cfg.rate_jitter,
                        target_rms_db=cfg.target_rms_db, text_licence=TEXT_LICENCE, meta=meta)
    g = Grammar(cfg.template, cfg.slots, cfg.heldout_pairs)
    voices = {v.name: {"engine": v.engine, "voice": v.voice, "heldout": v.heldout} for v in cfg.voices}
    vocab = sorted(set().union(*(words(w) for w in g.slot_of)) | words(SLOT.sub("", cfg.template)))
    return Plan(specs=specs, sr=cfg.sr, target_rms_db=cfg.target_rms_db, finalize_rows=pair_prompts,
                group_key="speaker",
                extra_stats={"voices": voices, "text_source": "grammar", "vocabulary": len(vocab),
                             "heldout_pairs": [" ".join(p) for p in g.heldout],
                             "test_with_heldout_pair": sum(p is not None for _, p in test)})
