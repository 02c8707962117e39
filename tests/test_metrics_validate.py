"""``bench metrics validate``: the offline scorers on clean clips (WER per voice, DNSMOS, speaker EER) and their
speed (issue #14's measurement verbs). The ASR's hearing is fixed by the ``heard`` fixture; DNSMOS and
resemblyzer run for real on the fixture's audio."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from bench import metrics_validate as mv
from bench.cli import app
from bench.metrics.base import Item


def test_validate_reports_wer_per_voice_dnsmos_and_a_speaker_eer(heard):
    _, rows = heard
    doc = mv.validate("speech", "t", "valid", ["wer/faster-whisper-tiny.en"], log=lambda *_: None)
    valid = [r for r in rows if r["split"] == "valid"]
    assert doc["n_clips"] == len(valid) == 4 and doc["threads"] == 1
    w = doc["asr"]["wer/faster-whisper-tiny.en"]
    spk1_words = sum(len(r["text"].split()) for r in valid if r["speaker"] == "spk1")
    assert w["value"] == pytest.approx(2 / sum(len(r["text"].split()) for r in valid))  # corpus: 2 errors
    assert w["by_voice"]["spk0"]["value"] == 0 and w["by_voice"]["spk1"]["value"] == pytest.approx(
        np.mean([1 / len(r["text"].split()) for r in valid if r["speaker"] == "spk1"]))
    assert spk1_words > 0 and w["examples"][0]["hyp"]
    assert set(doc["mos"]) == set(mv.DNSMOS)
    for m in doc["mos"].values():
        assert set(m["by_voice"]) == {"spk0", "spk1"} and 1.0 <= m["value"] <= 5.0
    s = doc["speaker"]["spk/resemblyzer"]
    assert (s["n_same_pairs"], s["n_diff_pairs"]) == (2, 4) and 0.0 <= s["eer"] <= 1.0
    assert s["voices"] == ["spk0", "spk1"] and s["backend"]["name"] == "spk/resemblyzer"


def test_speaker_eer_separates_distinct_embeddings_and_needs_two_voices():
    items = [Item(f"{s}{i}", np.full(16, i, np.float32), 16000, meta={"speaker": s}) for s in "ab" for i in range(3)]
    # speaker a's clips point one way, b's another, each with a little wobble
    vec = {id(it.audio): np.array([1.0, 0.05 * k]) if it.meta["speaker"] == "a" else np.array([0.05 * k, 1.0])
           for k, it in enumerate(items)}
    r = mv.speaker_eer(items, lambda x, sr: vec[id(x)])
    assert r["eer"] == 0.0 and r["mean_same"] > 0.99 > r["mean_diff"]
    assert (r["n_same_pairs"], r["n_diff_pairs"]) == (6, 9)
    with pytest.raises(ValueError, match="two voices"):
        mv.speaker_eer(items[:3], lambda x, sr: vec[id(x)])


def test_cli_writes_the_validation_and_the_speed_documents_and_names_an_empty_split(heard, tmp_path):
    out = tmp_path / "v.json"
    r = CliRunner().invoke(app, ["metrics", "validate", "--preset", "t", "--split", "valid",
                                 "--asr", "wer/faster-whisper-tiny.en", "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["command"] == ("bench metrics validate --recipe speech --preset t --split valid "
                              "--asr wer/faster-whisper-tiny.en") and doc["speaker"]
    sp = tmp_path / "s.json"
    r = CliRunner().invoke(app, ["metrics", "validate", "--preset", "t", "--speed", "--n", "2",
                                 "--only", "mel/logmel-l1", "--only", "wer/whisper-large-v3", "--out", str(sp)])
    assert r.exit_code == 0, r.output
    b = json.loads(sp.read_text())["backends"]
    assert b["mel/logmel-l1"]["available"] and b["mel/logmel-l1"]["n_clips"] == 2
    assert b["mel/logmel-l1"]["sec_per_audio_sec"] > 0
    assert b["wer/whisper-large-v3"] == {"available": False, "why": b["wer/whisper-large-v3"]["why"]}
    r = CliRunner().invoke(app, ["metrics", "validate", "--preset", "t", "--split", "nope", "--out", str(out)])
    assert r.exit_code == 2 and "no clips in split 'nope'" in r.output and "manifest.jsonl" in r.output


def test_bench_metrics_alone_still_lists_the_backends():
    r = CliRunner().invoke(app, ["metrics", "--format", "tsv"])
    assert r.exit_code == 0 and r.output.splitlines()[0].startswith("name\tmetric\tlevel\ttier")
    assert "wer/faster-whisper-tiny.en" in r.output
