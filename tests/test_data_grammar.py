"""Recipe ``grammar``: held-out voices and word pairs never in train/valid, test words known, seeded, tiny build."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bench.data import ensure_built, load_config, presets
from bench.data.grammar import Grammar, plan, sentences, slot_reading, words
from bench.data.manifest import read_manifest

PRESETS = ("tiny", "smoke", "cpu")


def _rows(preset: str) -> list[dict]:
    """The planned manifest rows of a preset (no audio rendered)."""
    p = plan(load_config("grammar", preset), Path("/nonexistent"), Path("/nonexistent"))
    return [{"id": s.id, **s.meta} for s in p.specs]


def _check_rules(rows: list[dict], pairs: list[tuple[str, str]]) -> None:
    train = [r for r in rows if r["split"] in ("train", "valid")]
    test = [r for r in rows if r["split"] == "test"]
    assert train and test
    assert not {r["speaker"] for r in test} & {r["speaker"] for r in train}, "a test voice in train/valid"
    for a, b in pairs:
        assert not [r["text"] for r in train if {a, b} <= words(r["text"])], f"held-out pair {a} {b} in train/valid"
    for r in test:
        hit = [f"{a} {b}" for a, b in pairs if {a, b} <= words(r["text"])]
        assert hit == ([r["heldout_pair"]] if r["heldout_pair"] else []), r
    known = set().union(*(words(r["text"]) for r in train))
    assert set().union(*(words(r["text"]) for r in test)) <= known, "a test word never seen in training"
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts), "sentences are distinct across the dataset"


@pytest.mark.parametrize("preset", PRESETS)
def test_split_rules(preset: str) -> None:
    cfg = load_config("grammar", preset)
    rows = _rows(preset)
    _check_rules(rows, list(cfg.heldout_pairs))
    test = [r for r in rows if r["split"] == "test"]
    used = {r["heldout_pair"] for r in test if r["heldout_pair"]}
    if preset == "cpu":  # the floor: >= 100 test items from >= 4 unseen voices; every pair tested
        assert len(test) >= 100 and len({r["speaker"] for r in test}) >= 4
        assert used == {" ".join(p) for p in cfg.heldout_pairs}
    else:
        assert used


def test_presets_share_one_grammar() -> None:
    assert set(PRESETS) <= set(presets("grammar"))
    cfgs = [load_config("grammar", p) for p in PRESETS]
    for c in cfgs[1:]:
        assert (c.template, c.slots, c.heldout_pairs) == (cfgs[0].template, cfgs[0].slots, cfgs[0].heldout_pairs)
    g = Grammar(cfgs[0].template, cfgs[0].slots, cfgs[0].heldout_pairs)
    vocab = set().union(*(words(w) for w in g.slot_of)) | {"the", "a"}
    assert 40 <= len(vocab) <= 60, len(vocab)


def test_generation_is_seeded() -> None:
    cfg = load_config("grammar", "cpu")
    assert sentences(cfg, 300, 30, 100) == sentences(cfg, 300, 30, 100)
    assert sentences(dataclasses.replace(cfg, seed=1), 300, 30, 100) != sentences(cfg, 300, 30, 100)
    assert [(s.id, s.relpath) for s in plan(cfg, Path("/x"), Path("/x")).specs] == \
        [(s.id, s.relpath) for s in plan(cfg, Path("/x"), Path("/x")).specs]


def test_bad_grammars_rejected() -> None:
    cfg = load_config("grammar", "tiny")
    with pytest.raises(ValueError, match="disjoint"):
        Grammar(cfg.template, {**cfg.slots, "obj_adj": [*cfg.slots["obj_adj"], "old"]})
    with pytest.raises(ValueError, match="two different slots"):
        Grammar(cfg.template, cfg.slots, (("green", "yellow"),))
    with pytest.raises(ValueError, match="two different slots"):
        Grammar(cfg.template, cfg.slots, (("green", "unicorn"),))
    with pytest.raises(ValueError, match="train_per_voice"):  # too few training sentences to know every test word
        sentences(cfg, 3, 0, 8)


def test_more_training_data_keeps_test_and_valid() -> None:
    """Raising train_per_voice adds training clips only: every test and valid clip (text, voice, seeded speaking
    rate) is the same, so data-size settings are compared on one test set."""
    cfg = load_config("grammar", "cpu")
    big = dataclasses.replace(cfg, train_per_voice=2 * cfg.train_per_voice)
    tr, va, te = sentences(cfg, 500, 60, 120)
    tr2, va2, te2 = sentences(big, 1000, 60, 120)
    assert (va, te) == (va2, te2) and tr2[:500] == tr

    def held(c) -> dict:
        return {s.id: s.key for s in plan(c, Path("/x"), Path("/x")).specs if s.meta["split"] != "train"}

    small, large = held(cfg), held(big)
    assert small == large and len(small) == sum(cfg.test_per_voice if v.heldout else cfg.valid_per_voice
                                                 for v in cfg.voices)


def test_tiny_builds_with_tts_fields(tmp_path: Path) -> None:
    """Real synthesis (flite, espeak-ng); the manifest has what tasks/tts.py reads."""
    manifest = ensure_built("grammar", "tiny", tmp_path)
    rows = read_manifest(manifest, check_files=True)
    cfg = load_config("grammar", "tiny")
    assert len(rows) == sum(cfg.test_per_voice if v.heldout else cfg.train_per_voice + cfg.valid_per_voice
                            for v in cfg.voices)
    _check_rules(rows, list(cfg.heldout_pairs))
    ids = {r["id"]: r for r in rows}
    for r in rows:
        assert r["text"] and r["phonemes"] and r["speaker"] and 1.0 < r["duration"] < 6.0
        if r["split"] == "test":
            p = ids[r["prompt_id"]]
            assert p["id"] != r["id"] and p["speaker"] == r["speaker"] and p["split"] == "test"
    assert {r["split"] for r in rows} == {"train", "valid", "test"}


def test_slot_reading_counts_the_reference_words_each_hypothesis_says_per_slot() -> None:
    g = Grammar("the {adj} {noun} {time}", {"adj": ["green", "old"], "noun": ["door", "pillow"],
                                             "time": ["at noon", "on Sunday"]})
    refs = ["the green door at noon", "old pillow on sunday", "the green pillow at noon"]
    hyps = ["The green pillow at noon.", "Old pillow, on Sunday!", "the greenhouse pillows at moon"]
    got = slot_reading(g, refs, hyps)
    assert list(got) == ["adj", "noun", "time"]  # template order
    # "greenhouse" is not "green", "pillows" not "pillow", "at moon" not "at noon": whole words only
    assert got == {"adj": (2, 3), "noun": (1, 3), "time": (2, 3)}
    assert slot_reading(g, ["the door"], ["the door"]) == {"noun": (1, 1)}  # slots absent from refs left out
    with pytest.raises(ValueError):
        slot_reading(g, ["the door"], [])
