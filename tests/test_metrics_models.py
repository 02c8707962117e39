"""Metrics with pretrained models, on speech synthesized in the test: MOS ranks clean above degraded,
speaker similarity ranks same voice above different voice, offline ASR transcribes clean speech."""

from __future__ import annotations

import shutil
import subprocess
import zlib

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


@pytest.mark.slow  # several seconds (issue #14: the default suite stays fast); CI runs it
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


def test_speaker_details_state_the_pair_and_the_vad_fallback(clips):
    x, y = clips["slt", 0], clips["slt", 1]
    hiss = (1e-3 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)  # webrtcvad keeps none
    items = [Item("p", x, 16000, prompt_audio=y, ref_audio=x), Item("t", x, 16000, ref_audio=y),
             Item("v", x, 16000, prompt_audio=hiss)]
    res = scoring.score_items_detailed("spk/resemblyzer", items, progress=False)
    assert [d for _, d in res] == [{"pair": "prompt", "vad_fallback": False}, {"pair": "target", "vad_fallback": False},
                                   {"pair": "prompt", "vad_fallback": True}]
    assert res[0][0] == pytest.approx(res[1][0], abs=1e-6)  # same two clips, either way round
    assert res[2][0] < res[0][0]


def test_faster_whisper_transcribes_clean_speech(clips):
    from bench.metrics.textnorm import normalize

    items = [Item(f"slt{i}", clips["slt", i], 16000, ref_text=t) for i, t in enumerate(TEXTS)]
    res = scoring.score_items_detailed("wer/faster-whisper-tiny.en", items, progress=False)
    assert np.mean([v for v, _ in res]) < 0.3, res
    for (v, d), t in zip(res, TEXTS, strict=True):
        assert d["hyp"] and d["ref"] == normalize(t) and d["den"] == len(normalize(t).split())
        assert d["num"] == d["sub"] + d["del"] + d["ins"] and v == pytest.approx(d["num"] / d["den"])
        assert d["temperature"] == 0.0  # clean speech passes the fallback checks at T=0
    s = scoring.summarize("wer/faster-whisper-tiny.en", [v for v, _ in res], details=[d for _, d in res])
    assert s["value"] == pytest.approx(sum(d["num"] for _, d in res) / sum(d["den"] for _, d in res))


def test_worker_pool_transcribes_as_this_process_does(clips, monkeypatch):
    """Two one-thread worker processes give the transcripts decoding here gives (the fallback path is compared
    in the slow test_repetition_loop_transcript_is_redecoded)."""
    from bench.metrics import asr

    items = [Item(f"{v}0", clips[v, 0], 16000, ref_text=TEXTS[0]) for v in ("slt", "awb")]
    monkeypatch.setattr(asr, "_TRANSCRIPTS", {})
    here = scoring.score_items_detailed("wer/faster-whisper-tiny.en", items, cache=False, progress=False)
    asr._TRANSCRIPTS.clear()
    monkeypatch.setenv("BENCH_ASR_WORKERS", "2")
    pool = scoring.score_items_detailed("wer/faster-whisper-tiny.en", items, cache=False, progress=False)
    assert ("tiny.en", 2) in asr._POOLS and pool == here and all(d["hyp"] for _, d in pool)


def test_dwer_reference_is_the_transcript_of_the_original(clips):
    from bench.metrics.textnorm import normalize

    x0, x1 = clips["slt", 0], clips["slt", 1]
    items = [Item("same", x0, 16000, ref_audio=x0), Item("other", x0, 16000, ref_audio=x1)]
    res = scoring.score_items_detailed("dwer/faster-whisper-tiny.en", items, progress=False)
    wer = scoring.score_items_detailed("wer/faster-whisper-tiny.en",
                                       [Item("t", x1, 16000, ref_text=TEXTS[1])], progress=False)
    assert res[0][0] == 0.0 and res[1][0] > 0.5
    assert res[1][1]["ref"] == normalize(wer[0][1]["hyp"])  # what the same model heard in the original


@pytest.fixture(scope="module")
def say(tmp_path_factory):
    """espeak-ng text -> 16 kHz audio."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    from bench.audio import load

    d = tmp_path_factory.mktemp("espeak")

    def _say(text: str) -> np.ndarray:
        p = d / f"{abs(hash(text))}.wav"
        subprocess.run(["espeak-ng", "-w", str(p), text], check=True)
        return load(p, sr=16000)[0]

    return _say


def _compression_ratio(text: str) -> float:
    b = text.encode()
    return len(b) / len(zlib.compress(b)) if b else 0.0


@pytest.mark.slow  # several seconds (issue #14: the default suite stays fast); CI runs it
def test_repetition_loop_transcript_is_redecoded(say, monkeypatch):
    """Whisper tiny.en at T=0 alone loops on a repeated word; the fallback re-decodes it, seeded."""
    from bench.metrics import asr

    x = say("hello " * 25)
    segs, _ = asr._fw_model("tiny.en").transcribe(
        x, language="en", beam_size=5, temperature=0.0, compression_ratio_threshold=None, log_prob_threshold=None,
        no_speech_threshold=None, without_timestamps=True, condition_on_previous_text=False, vad_filter=False)
    loop = " ".join(s.text.strip() for s in segs)
    assert _compression_ratio(loop) > 2.4, loop  # the input really loops without the fallback
    monkeypatch.setattr(asr, "_TRANSCRIPTS", {})
    it = Item("loop", x, 16000, ref_text="hello " * 25)
    [(_, d)] = scoring.score_items_detailed("wer/faster-whisper-tiny.en", [it], cache=False, progress=False)
    assert d["temperature"] > 0 and _compression_ratio(d["hyp"]) <= 2.4, d
    # sampling at T > 0 is seeded per item: the same transcript again, here from the worker pool (two
    # one-thread processes; the decode above ran in this process), with a clip that needs no fallback beside it
    asr._TRANSCRIPTS.clear()
    monkeypatch.setenv("BENCH_ASR_WORKERS", "2")
    plain = Item("plain", say("the old man opened a heavy door"), 16000, ref_text="the old man opened a heavy door")
    [(_, again), (_, p)] = scoring.score_items_detailed("wer/faster-whisper-tiny.en", [it, plain], cache=False,
                                                        progress=False)
    assert ("tiny.en", 2) in asr._POOLS and again == d
    assert p["temperature"] == 0 and p["hyp"].strip().lower().startswith("the old man"), p


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
