"""Metrics with pretrained models, on speech synthesized in the test: MOS ranks clean above degraded,
speaker similarity ranks same voice above different voice, offline ASR transcribes clean speech."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from bench.metrics import scoring
from bench.metrics.base import Item

TEXTS = ["The quick brown fox jumps over the lazy dog.", "Please call Stella and ask her to bring these things.",
         "We also need a small plastic snake and a big toy frog for the kids."]
VOICES = ["slt", "rms", "awb"]


@pytest.fixture(autouse=True)
def _isolated_data(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[tuple[str, int], np.ndarray]:
    """(flite voice, sentence index) -> 16 kHz audio."""
    if shutil.which("flite") is None:
        pytest.skip("flite not installed")
    from bench.audio import load

    d = tmp_path_factory.mktemp("voices")
    out = {}
    for v in VOICES:
        for i, t in enumerate(TEXTS):
            p = d / f"{v}{i}.wav"
            subprocess.run(["flite", "-voice", v, "-t", t, "-o", str(p)], check=True)
            out[v, i] = load(p, sr=16000)[0]
    return out


def _degrade(x: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = rng.standard_normal(len(x)).astype(np.float32)
    n *= np.sqrt(np.mean(x**2) / np.mean(n**2) / 10 ** (5 / 10))  # 5 dB SNR white noise
    q = np.round(x * 8) / 8  # 4-bit uniform quantization
    return {"noisy": np.clip(x + n, -1, 1), "quantized": q.astype(np.float32)}


def test_dnsmos_ranks_clean_above_noisy_and_quantized(clips):
    by: dict[str, list[Item]] = {"clean": [], "noisy": [], "quantized": []}
    for (v, i), x in clips.items():
        if v != "slt":
            continue
        by["clean"].append(Item(f"{v}{i}", x, 16000))
        for k, y in _degrade(x).items():
            by[k].append(Item(f"{v}{i}{k}", y, 16000))
    mean = {k: np.mean(scoring.score_items("mos/dnsmos-ovrl", items, progress=False)) for k, items in by.items()}
    assert mean["clean"] > mean["noisy"] + 0.3 and mean["clean"] > mean["quantized"] + 0.3, mean
    p808 = {k: np.mean(scoring.score_items("mos/dnsmos-p808", items, progress=False)) for k, items in by.items()}
    assert p808["clean"] > max(p808["noisy"], p808["quantized"]), p808
    # the four DNSMOS backends share one model pass but each is a different number
    sig = scoring.score_items("mos/dnsmos-sig", by["clean"], progress=False)
    assert sig != scoring.score_items("mos/dnsmos-bak", by["clean"], progress=False)


def test_plcmos_is_deterministic_and_ranks_clean_above_noisy(clips):
    x = clips["slt", 0]
    items = [Item("c", x, 16000), Item("n", _degrade(x)["noisy"], 16000)]
    a = scoring.score_items("mos/plcmos", items, cache=False, progress=False)
    assert a == scoring.score_items("mos/plcmos", items, cache=False, progress=False)
    assert a[0] > a[1]


def test_speaker_same_voice_above_different_voice(clips):
    same, diff = [], []
    for v in VOICES:
        for i in range(len(TEXTS)):
            j = (i + 1) % len(TEXTS)
            same.append(Item(f"{v}{i}-{v}{j}", clips[v, i], 16000, prompt_audio=clips[v, j]))
            for w in VOICES:
                if w != v:
                    diff.append(Item(f"{v}{i}-{w}{j}", clips[v, i], 16000, prompt_audio=clips[w, j]))
    s = scoring.score_items("spk/resemblyzer", same, progress=False)
    d = scoring.score_items("spk/resemblyzer", diff, progress=False)
    assert np.mean(s) > np.mean(d) + 0.1, (s, d)
    assert min(s) > np.median(d)


def test_faster_whisper_transcribes_clean_speech(clips):
    items = [Item(f"slt{i}", clips["slt", i], 16000, ref_text=t) for i, t in enumerate(TEXTS)]
    res = scoring.score_items_detailed("wer/faster-whisper-tiny.en", items, progress=False)
    assert np.mean([v for v, _ in res]) < 0.3, res
    assert all(d["hyp"] for _, d in res)


@pytest.mark.slow
def test_openai_whisper_converted_transcribes_identically(clips):
    """Same weights, two runtimes: faster-whisper (CTranslate2 int8) and openai-whisper (converted, fp32)."""
    items = [Item(f"{v}{i}", clips[v, i], 16000, ref_text=t) for v in VOICES for i, t in enumerate(TEXTS)]
    fw = scoring.score_items_detailed("wer/faster-whisper-tiny.en", items, progress=False)
    ow = scoring.score_items_detailed("wer/openai-whisper-tiny.en", items, progress=False)
    from bench.metrics.textnorm import normalize

    assert [normalize(d["hyp"]) for _, d in fw] == [normalize(d["hyp"]) for _, d in ow]


@pytest.mark.slow
def test_whisper_base_and_encoder_fad(clips):
    items = [Item(f"slt{i}", clips["slt", i], 16000, ref_text=t) for i, t in enumerate(TEXTS)]
    assert np.mean(scoring.score_items("wer/faster-whisper-base", items, progress=False)) < 0.4
    other = [Item(f"awb{i}", clips["awb", i], 16000) for i in range(len(TEXTS))]
    noisy = [Item(f"n{i}", _degrade(clips["slt", i])["noisy"], 16000) for i in range(len(TEXTS))]
    same = scoring.fad("fad/whisper-encoder", items, items, n_boot=10)["value"]
    assert same < 1e-6 < scoring.fad("fad/whisper-encoder", noisy, items, n_boot=10)["value"]
    assert scoring.fad("fad/whisper-encoder", other, items, n_boot=10)["value"] > 0
