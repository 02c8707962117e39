"""Encode-only tokenizers (issue #17): token tasks and token statistics run; every measure of audio is
recorded as unavailable with the reason; nothing is generated, decoded or heard."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from lm_fixtures import EncodeOnlyRVQ, make_manifest, register

import bench.data
from bench.codec_eval import evaluate_codec
from bench.codecs import DecodeUnavailable, get_codec
from bench.config import preset_variant
from bench.tasks.runner import run

TINY = ["lm.d_model=32", "lm.n_layers=1", "lm.n_heads=2", "train.steps=4", "train.batch_size=4",
        "train.ckpt_every=2", "train.warmup=1", "data.max_test_items=2", "metrics=[wer/test-rms]"]


@pytest.fixture
def manifest(tmp_path, monkeypatch):
    register()
    m = make_manifest(tmp_path / "ds", valid_per_spk=2)
    monkeypatch.setattr(bench.data, "ensure_built", lambda recipe, preset, data_dir=None, overrides=(): m)
    return m


def test_an_encode_only_codec_says_so_and_refuses_to_decode(manifest):
    codec = get_codec("test-rpq-units")
    assert codec.summary()["decodes"] is False and get_codec("test-rpq").summary()["decodes"] is True
    codes = codec.encode(torch.zeros(1, 1, 3200), 2)
    assert codes.shape == (1, 2, 10)
    with pytest.raises(DecodeUnavailable, match="encode-only"):
        codec.decode(codes)


def test_tts_over_an_encode_only_codec_trains_and_reports_readiness_and_no_audio_metric(manifest, tmp_path):
    recs = run("tts", "test-rpq-units", "smoke", overrides=TINY, data_dir=tmp_path / "d",
               results_dir=tmp_path / "r", echo=lambda m: None)
    by = {r["metric"]: r for r in recs}
    for v in ("ar", "ar+nar"):  # the audio metrics: present, empty, and saying why
        r = by[f"wer@{v}"]
        assert r["value"] is None and r["n"] == 0 and "encode-only" in r["extra"]["unavailable"]
        assert r["variant"]["decode"] == v
    ready = [r for r in recs if r["backend"]["name"] == "bench.lm_readiness"]
    assert {r["metric"] for r in ready} >= {"nll_bps@ar", "nll_bps@nar", "ppl@level0"}
    assert all(r["value"] is not None and np.isfinite(r["value"]) for r in ready if r["metric"].startswith("nll"))
    run_dir = next((tmp_path / "d" / "runs" / "tts" / preset_variant("smoke", TINY)).iterdir())
    assert not (run_dir / "gen").exists() and not (run_dir / "samples").exists()  # nothing generated or decoded
    assert json.loads((run_dir / "done.json").read_text())["records"] == len(recs)
    ref = tmp_path / "r" / "records" / preset_variant("smoke", TINY) / "tts__reference.jsonl"
    assert not ref.exists()  # no floor to write: nothing of this run was heard
    from bench.report.build import write_report

    text = write_report(tmp_path / "r", plots=False, date="d").read_text()
    assert "test-rpq-units" in text and "held-out NLL" in text  # the leaderboard reads the records as they are
    assert "Not scored: `test-rpq-units` WER (test-rms): test-rpq-units is an encode-only tokenizer" in text


def test_eval_codec_of_an_encode_only_codec_keeps_token_stats_and_names_what_it_skipped(manifest):
    rng = np.random.default_rng(0)
    clips = [{"id": f"c{i}", "speaker": f"s{i % 2}", "text": "a b", "audio": (0.1 * rng.standard_normal(8000))
              .astype(np.float32)} for i in range(4)]
    recs = evaluate_codec("test-rpq-units", clips, "smoke", wer=False)
    by = {r["metric"]: r for r in recs}
    assert by["rtf_encode"]["value"] > 0
    assert by["rtf_decode"]["value"] is None and "encode-only" in by["rtf_decode"]["extra"]["unavailable"]
    for k in (1, EncodeOnlyRVQ().n_codebooks):
        for m in ("pesq", "stoi", "mel", "sisdr"):
            r = by[f"{m}@nq{k}"]
            assert r["value"] is None and "encode-only" in r["extra"]["unavailable"]
    assert by["perplexity@level1"]["value"] > 1 and by["usage@level1"]["value"] > 0  # the tokens' statistics
