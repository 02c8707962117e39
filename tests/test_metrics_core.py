"""Metrics without neural models: WER/CER arithmetic and normalization, signal metrics against their
reference packages, SI-SDR and Frechet closed forms, bootstrap statistics, the score cache, `bench score`."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import numpy as np
import pytest

from bench.metrics import scoring, stats
from bench.metrics.base import BackendUnavailable, Item
from bench.metrics.textnorm import error_rate, normalize

SENTENCES = ["The quick brown fox jumps over the lazy dog.", "She sells sea shells by the sea shore.",
             "A stitch in time saves nine."]


@pytest.fixture(autouse=True)
def _isolated_data(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    for k in [k for k in __import__("os").environ if k.startswith("BENCH_WEIGHTS_")]:
        monkeypatch.delenv(k)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> list[tuple[np.ndarray, int]]:
    """Three flite sentences (16 kHz)."""
    if shutil.which("flite") is None:
        pytest.skip("flite not installed")
    from bench.audio import load

    d = tmp_path_factory.mktemp("flite")
    out = []
    for i, s in enumerate(SENTENCES):
        p = d / f"s{i}.wav"
        subprocess.run(["flite", "-voice", "slt", "-t", s, "-o", str(p)], check=True)
        out.append(load(p, sr=16000))
    return out


# -- WER / CER ---------------------------------------------------------------------------------------
def test_wer_hand_computed():
    assert error_rate("the cat sat on the mat", "the cat sat on mat") == pytest.approx(1 / 6)
    assert error_rate("the cat sat on the mat", "the cat sat on the mat") == 0.0
    # 1 substitution (a->the) + 1 insertion (big) over 3 words
    assert error_rate("a cat sat", "the big cat sat") == pytest.approx(2 / 3)


def test_wer_empty_hypothesis_and_reference():
    assert error_rate("the cat sat", "") == 1.0
    assert error_rate("the cat sat", "", chars=True) == 1.0
    assert error_rate("", "anything") is None  # undefined, never 0


def test_cer_counts_characters_including_spaces():
    # "abc d" -> "abd": delete "c" and " " = 2 edits over 5 characters
    assert error_rate("abc d", "abd", chars=True) == pytest.approx(2 / 5)


def test_normalization_numbers_punctuation_spelling():
    import jiwer

    ref, hyp = "He paid $20 for twenty-one apples.", "he paid twenty dollars for 21 apples"
    assert jiwer.wer(ref, hyp) > 0.5  # raw text disagrees everywhere it matters
    assert error_rate(ref, hyp) == 0.0
    assert error_rate("The colour grey.", "the color gray") == 0.0
    assert normalize("Hmm, well, uh, OK.") == "well ok"  # fillers and punctuation removed
    # after normalization: "he paid $20 for 21 apples" vs "she paid $20 for apples": 1 sub + 1 del
    assert error_rate(ref, "she paid 20 dollars for apples") == pytest.approx(2 / 6)


def test_asr_backend_scores_its_transcripts(monkeypatch):
    from bench.metrics import asr

    b = asr.WERFasterWhisperTinyEn()
    monkeypatch.setattr(asr, "_TRANSCRIPTS", {})
    monkeypatch.setattr(b, "_transcribe_one", lambda x, seed: asr.Transcript("The cat sat on mat.", 0.4))
    it = Item("u", np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1, 16000,
              ref_text="The cat sat on the mat!")
    [(v, d)] = b.score_detailed([it])
    assert v == pytest.approx(1 / 6)
    assert d == {"hyp": "The cat sat on mat.", "ref": "the cat sat on the mat", "num": 1, "den": 6, "sub": 0,
                 "del": 1, "ins": 0, "temperature": 0.4}


# -- signal metrics ----------------------------------------------------------------------------------
def _noisy(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    n = np.random.default_rng(seed).standard_normal(len(x)).astype(np.float32)
    n *= np.sqrt(np.mean(x**2) / np.mean(n**2) / 10 ** (snr_db / 10))
    return np.clip(x + n, -1, 1).astype(np.float32)


def test_pesq_and_stoi_equal_the_packages(speech):
    from pesq import pesq
    from pystoi import stoi

    items = [Item(f"u{i}", _noisy(x, 10, i), sr, ref_audio=x) for i, (x, sr) in enumerate(speech)]
    got_p = scoring.score_items("pesq/pesq-wb", items, progress=False)
    got_s = scoring.score_items("stoi/pystoi", items, progress=False)
    for it, p, s in zip(items, got_p, got_s, strict=True):
        assert p == pytest.approx(pesq(16000, it.ref_audio, it.audio, "wb"), abs=1e-6)
        assert s == pytest.approx(stoi(it.ref_audio, it.audio, 16000), abs=1e-9)
    assert all(1.0 < p < 4.0 for p in got_p)  # 10 dB white noise: clearly degraded, not silent


def test_sisdr_matches_closed_form_on_scaled_noisy_copy():
    rng = np.random.default_rng(1)
    s = rng.standard_normal(16000)
    s -= s.mean()
    n = rng.standard_normal(16000)
    n -= n.mean()
    n -= n.dot(s) / s.dot(s) * s  # orthogonal to s: the projection recovers exactly 0.5 * s
    n *= 0.3
    hyp = 0.5 * s + n
    expected = 10 * np.log10(np.sum((0.5 * s) ** 2) / np.sum(n**2))
    [got] = scoring.score_items("sisdr/closed-form", [Item("u", hyp.astype(np.float32), 16000,
                                                          ref_audio=s.astype(np.float32))], progress=False)
    assert got == pytest.approx(expected, abs=1e-3)
    # scale invariance: 3x louder hypothesis, same SI-SDR
    [got3] = scoring.score_items("sisdr/closed-form", [Item("u", (3 * hyp).astype(np.float32), 16000,
                                                           ref_audio=s.astype(np.float32))], progress=False)
    assert got3 == pytest.approx(expected, abs=1e-3)


def test_mel_l1_zero_on_identity_and_grows_with_noise(speech):
    x, sr = speech[0]
    items = [Item("a", x, sr, ref_audio=x), Item("b", _noisy(x, 20), sr, ref_audio=x),
             Item("c", _noisy(x, 0), sr, ref_audio=x)]
    vals = scoring.score_items("mel/logmel-l1", items, progress=False)
    assert vals[0] == 0.0 and 0 < vals[1] < vals[2]


# -- Frechet distance --------------------------------------------------------------------------------
def test_frechet_closed_form_diagonal():
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, -2.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)  # 9 + 1 + 1 + 0
    assert stats.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-9)


def test_fad_same_gaussian_near_zero_and_mean_shift():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((20000, 4)), rng.standard_normal((20000, 4))
    assert stats.frechet_from_samples(a, b) < 0.01
    shift = np.array([1.0, 0.0, 0.5, 0.0])  # same covariance: FD = ||shift||^2 = 1.25
    assert stats.frechet_from_samples(a, b + shift) == pytest.approx(1.25, abs=0.03)
    clips_a, clips_b = np.split(a, 20), np.split(b + shift, 20)
    v, lo, hi = stats.fad_bootstrap(clips_a, clips_b, n_boot=50)
    assert lo <= v <= hi and lo < 1.25 < hi + 0.05


def test_fad_logmel_separates_degraded_sets(speech):
    ref = [Item(f"r{i}", x, sr) for i, (x, sr) in enumerate(speech)]
    same = [Item(f"s{i}", x, sr) for i, (x, sr) in enumerate(speech)]
    noisy = [Item(f"n{i}", _noisy(x, 5, i), sr) for i, (x, sr) in enumerate(speech)]
    d_same = scoring.fad("fad/logmel", same, ref, n_boot=20)
    d_noisy = scoring.fad("fad/logmel", noisy, ref, n_boot=20)
    assert d_same["value"] < 1e-6 and d_noisy["value"] > 1.0
    assert d_noisy["n"] == 3 and d_noisy["ci_low"] is not None


# -- statistics --------------------------------------------------------------------------------------
def test_bootstrap_ci_seeded_and_sane():
    v = list(np.random.default_rng(0).normal(2.0, 1.0, 200))
    m, lo, hi = stats.bootstrap_ci(v, seed=3)
    assert (m, lo, hi) == stats.bootstrap_ci(v, seed=3)
    assert lo < m < hi and lo < 2.0 < hi and hi - lo < 0.6
    assert stats.bootstrap_ci([]) == (None, None, None)
    assert stats.bootstrap_ci([None, 1.0, 3.0])[0] == 2.0


def test_paired_bootstrap_detects_consistent_difference():
    rng = np.random.default_rng(0)
    b = rng.normal(0.3, 0.2, 100)
    a = b + 0.05 + rng.normal(0, 0.01, 100)  # unpaired CIs overlap heavily; paired difference is clear
    d, lo, hi = stats.paired_bootstrap(list(a), list(b))
    assert d == pytest.approx(0.05, abs=0.005) and lo > 0
    c = scoring.compare("wer/faster-whisper-tiny.en", list(a), list(b))
    assert c["significant"] and c["n"] == 100
    with pytest.raises(ValueError):
        stats.paired_bootstrap([1.0], [1.0, 2.0])


def test_summarize_carries_n_ci_and_identity():
    s = scoring.summarize("sisdr/closed-form", [1.0, 2.0, None, 3.0])
    assert s["value"] == 2.0 and s["n"] == 3 and s["ci_low"] <= 2.0 <= s["ci_high"]
    assert s["backend"]["name"] == "sisdr/closed-form" and s["higher_is_better"] is True
    assert scoring.summarize("sisdr/closed-form", [1.0, None], strict=True)["value"] is None


# -- cache and availability --------------------------------------------------------------------------
def test_scores_are_cached_on_disk(monkeypatch):
    it = Item("u", np.sin(np.arange(16000) / 10).astype(np.float32), 16000,
              ref_audio=np.sin(np.arange(16000) / 10 + 0.1).astype(np.float32))
    first = scoring.score_items("sisdr/closed-form", [it], progress=False)
    b = scoring.get_backend("sisdr/closed-form")
    monkeypatch.setattr(b, "score_detailed", lambda items: pytest.fail("re-scored a cached item"))
    assert scoring.score_items("sisdr/closed-form", [it], progress=False) == first
    other = Item("v", it.audio, 16000, ref_audio=it.audio)  # different reference: not a cache hit
    with pytest.raises(pytest.fail.Exception):
        scoring.score_items("sisdr/closed-form", [other], progress=False)


PAPER = ["wer/hubert-large-ctc", "wer/whisper-large-v3", "spk/ecapa-speechbrain", "spk/wavlm-base-plus-sv",
         "mos/utmos22-strong", "fad/vggish", "fad/clap"]


@pytest.mark.parametrize("name", PAPER)
def test_paper_backends_report_unavailable_quickly(name):
    from bench.metrics import METRICS

    t = time.time()
    ok, why = METRICS.get(name).available()
    assert not ok and "BENCH_WEIGHTS_" in why
    scoring._INSTANCES.pop(name, None)
    with pytest.raises(BackendUnavailable, match="--weights"):
        scoring.get_backend(name)
    assert time.time() - t < 5


def test_weights_override_is_found(tmp_path):
    from bench.metrics.asr import WERHubertLargeCTC
    from bench.metrics.weights import _OVERRIDES, set_weights_override

    for f in ("config.json", "preprocessor_config.json", "vocab.json"):
        (tmp_path / f).write_text("{}")
    set_weights_override("hubert-large-ctc", tmp_path)
    try:
        assert WERHubertLargeCTC.available() == (True, "ok")
    finally:
        _OVERRIDES.pop("hubert-large-ctc")


def test_catalog_lists_every_named_backend():
    from bench.listing import metric_rows
    from bench.metrics.catalog import BUILTIN

    names = {r["name"] for r in metric_rows()}
    assert set(BUILTIN) <= names and len(BUILTIN) == 25


# -- bench score --------------------------------------------------------------------------------------
def test_bench_score_cli_writes_records(speech, tmp_path):
    from typer.testing import CliRunner

    from bench.audio import write
    from bench.cli import app
    from bench.results import load

    root = tmp_path / "ds"
    rows = []
    for i, (x, sr) in enumerate(speech):
        write(root / "audio" / f"u{i}.wav", x, sr)
        rows.append({"id": f"u{i}", "path": f"audio/u{i}.wav", "duration": len(x) / sr, "sr": sr, "split": "test",
                     "text": SENTENCES[i]})
        write(tmp_path / "hyp" / f"u{i}.wav", _noisy(x, 15, i), sr)
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "rec.jsonl"
    res = CliRunner().invoke(app, ["score", "--metric", "sisdr,fad", "--ref", str(root / "manifest.jsonl"),
                                   "--hyp-dir", str(tmp_path / "hyp"), "--out", str(out), "--codec", "noisy15"])
    assert res.exit_code == 0, res.output
    recs = load(out)
    assert [r["metric"] for r in recs] == ["sisdr", "fad"] and all(r["codec"] == "noisy15" for r in recs)
    assert recs[0]["n"] == 3 and recs[0]["per_item"]["ids"] == ["u0", "u1", "u2"]
    assert len(recs[0]["per_item"]["lag0_corr"]) == 3 and recs[0]["scorer"]["aggregate"] == "mean"
    assert 10 < recs[0]["value"] < 20 and recs[0]["kind"] == "score"
    bad = CliRunner().invoke(app, ["score", "--metric", "wer/hubert-large-ctc", "--ref", str(root / "manifest.jsonl"),
                                   "--hyp-dir", str(tmp_path / "hyp")])
    assert bad.exit_code == 2 and "BENCH_WEIGHTS_HUBERT_LARGE_CTC" in bad.output.replace("\n", "")


def test_eer_hand_computed():
    assert stats.eer([0.9, 0.8, 0.95], [0.1, 0.2, 0.3])[0] == 0.0  # separable
    # one same-voice score sits among the different-voice ones: 1 of 4 rejected, 1 of 4 accepted
    e, _ = stats.eer([0.9, 0.8, 0.7, 0.25], [0.1, 0.2, 0.3, 0.6])
    assert e == pytest.approx(0.25)
