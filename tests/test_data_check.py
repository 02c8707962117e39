"""``bench data check``: per-voice corpus WER of a built recipe with the benchmark's WER backend (issue #14's
measurement verbs; the ASR is replaced by a fixed 'hearing', everything after it is real)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.data_check import check, clips_per_voice, markdown


def test_voices_are_scored_on_their_own_split_first_by_id(heard):
    _, rows = heard
    v = clips_per_voice(rows, per_voice=3)
    assert v["spkT"][0] == "held-out" and [r["split"] for r in v["spkT"][1]] == ["test"] * 3
    role, clips = v["spk0"]
    assert role == "train" and [r["id"] for r in clips] == ["spk0-v0", "spk0-v1", "spk0-0"]  # valid first
    assert len(clips_per_voice(rows, per_voice=0)["spk0"][1]) == 6


def test_per_voice_and_pooled_corpus_wer_and_flags(heard, tmp_path):
    m, rows = heard
    doc = check("speech", "t", per_voice=2, flag=0.3, log=lambda *_: None)
    d = doc["metrics"]["wer/faster-whisper-tiny.en"]
    words = {r["id"]: len(r["text"].split()) for r in rows}
    v1 = d["voices"]["spk1"]  # one substitution per clip, over spk1-v0, spk1-v1
    assert v1["errors"] == 2 and v1["words"] == words["spk1-v0"] + words["spk1-v1"] and v1["wer"] == pytest.approx(
        2 / v1["words"])
    assert v1["flagged"] and d["flagged"] == ["spk1"] and v1["worst"][0]["hyp"].startswith("zzz")
    assert d["voices"]["spk0"]["wer"] == 0 and d["voices"]["spkT"]["role"] == "held-out"
    assert d["heldout_pooled"]["voices"] == ["spkT"] and d["heldout_pooled"]["wer"] == 0
    assert doc["build_hash"] and doc["command"].startswith("bench data check speech --preset t --per-voice 2")
    md = markdown(doc)
    assert "| spk1 | train | " in md and "**yes**" in md and "held-out, pooled" in md


def test_cli_writes_json_and_markdown_and_names_a_clip_without_text(heard, tmp_path, monkeypatch):
    out = tmp_path / "o" / "check.json"
    r = CliRunner().invoke(app, ["data", "check", "speech", "--preset", "t", "--per-voice", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["per_voice"] == 1 and out.with_suffix(".md").is_file()
    m, rows = heard
    rows[0]["text"] = ""
    m.write_text("".join(json.dumps(x) + "\n" for x in rows))
    r = CliRunner().invoke(app, ["data", "check", "speech", "--preset", "t", "--per-voice", "0", "--out", str(out)])
    assert r.exit_code == 2 and "no text to score against" in r.output and "manifest.jsonl" in r.output
