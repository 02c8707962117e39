"""The scoring protocol (issue #13): corpus WER from per-item edit counts, speaker-cluster bootstrap,
paired differences with Holm correction, summary signatures, SI-SDR's lag-0 correlation, rank flags."""

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics import asr, scoring, stats
from bench.metrics.base import Item
from bench.metrics.textnorm import edit_counts, normalize

REFS = ["The cat sat on the mat.", "A stitch in time saves nine.", "Hello.",
        "She sells sea shells by the sea shore, twenty-one of them."]
HYPS = ["the cat sat on mat", "a stitch in time saves nine", "yellow there",
        "she sells sea shells by the shore 21 of them"]


@pytest.fixture
def wer_items(monkeypatch) -> list[Item]:
    """Items whose 'transcripts' are HYPS: the ASR model is replaced, everything after it is real."""
    monkeypatch.setattr(asr, "_TRANSCRIPTS", {})
    audio = [np.full(1600 * (i + 1), 0.01 * (i + 1), dtype=np.float32) for i in range(len(REFS))]
    by_len = {len(a): h for a, h in zip(audio, HYPS, strict=True)}
    monkeypatch.setattr(asr._FasterWhisper, "_transcribe_one",
                        lambda self, x, seed: asr.Transcript(by_len[len(x)], 0.0))
    return [Item(f"u{i}", a, 16000, ref_text=r) for i, (a, r) in enumerate(zip(audio, REFS, strict=True))]


# -- WER counts and corpus WER -----------------------------------------------------------------------
def test_edit_counts_split_into_operations():
    c = edit_counts("a cat sat", "the big cat sat")  # a->the (sub), big (ins)
    assert (c.sub, c.dele, c.ins, c.num, c.den, c.rate) == (1, 0, 1, 2, 3, pytest.approx(2 / 3))
    assert (c.ref, c.hyp) == ("a cat sat", "the big cat sat")
    empty = edit_counts("the cat", "")
    assert (empty.dele, empty.num, empty.den) == (2, 2, 2)
    assert edit_counts("", "noise words").rate is None and edit_counts("", "noise words").ins == 2


def test_corpus_wer_equals_jiwer_corpus_figure(wer_items):
    import jiwer

    res = scoring.score_items_detailed("wer/faster-whisper-tiny.en", wer_items, cache=False, progress=False)
    vals, details = [v for v, _ in res], [d for _, d in res]
    s = scoring.summarize("wer/faster-whisper-tiny.en", vals, details=details)
    expected = jiwer.wer([normalize(r) for r in REFS], [normalize(h) for h in HYPS])
    assert s["value"] == pytest.approx(expected, abs=1e-12)
    assert s["value"] != pytest.approx(np.mean(vals))  # the short, bad "Hello." weighs by its length
    assert s["scorer"]["aggregate"] == "corpus" and s["n"] == 4
    assert s["ci_low"] <= s["value"] <= s["ci_high"]
    # without details (an old caller) it stays the mean of per-utterance rates, and says so
    old = scoring.summarize("wer/faster-whisper-tiny.en", vals)
    assert old["value"] == pytest.approx(np.mean(vals)) and old["scorer"]["aggregate"] == "mean"


def test_per_item_fields_and_signature(wer_items):
    res = scoring.score_items_detailed("wer/faster-whisper-tiny.en", wer_items, cache=False, progress=False)
    details = [d for _, d in res]
    f = scoring.per_item_fields(details)
    assert set(f) == {"hyp", "ref", "num", "den", "sub", "del", "ins", "temperature"}
    assert f["den"] == [6, 6, 1, 11] and f["num"][2] == 2  # "hello" -> "yellow there": 1 sub + 1 ins
    assert scoring.per_item_fields([{"lag0_corr": 0.1}, {}]) == {}  # only keys every item has
    groups = ["s1", "s1", "s2", "s2"]
    s = scoring.summarize("wer/faster-whisper-tiny.en", [v for v, _ in res], details=details, groups=groups)
    sc = s["scorer"]
    assert (sc["ci"], sc["clusters"], sc["items"], sc["n_boot"], sc["seed"]) == ("cluster-bootstrap", 2, 4, 1000, 0)
    h8 = scoring.identity("wer/faster-whisper-tiny.en")["weights_hash"][:8]
    assert sc["signature"] == (f"wer:faster-whisper-tiny.en|model:{h8}|decode:beam5,T0+fallback|norm:whisper-en"
                               "|agg:corpus|ci:cluster-bootstrap|boot:1000|seed:0")


def test_asr_identity_names_the_decoding():
    for name in ("wer/faster-whisper-tiny.en", "dwer/faster-whisper-tiny.en"):
        v = scoring.identity(name)["version"]
        assert "beam 5, T=0 + fallback 0.2..1.0 (cr 2.4, logp -1.0" in v
    assert "original audio" in scoring.identity("dwer/faster-whisper-tiny.en")["version"]
    assert scoring.get_backend("dwer").aggregate == "ratio" and scoring.get_backend("dwer").needs == ("ref_audio",)


def test_dwer_scores_against_the_transcript_of_the_original(monkeypatch):
    monkeypatch.setattr(asr, "_TRANSCRIPTS", {})
    clean, coded = np.full(3200, 0.1, dtype=np.float32), np.full(3200, 0.2, dtype=np.float32)
    said = {0.1: "the cat sat on the mat", 0.2: "the cat sat on a hat"}
    monkeypatch.setattr(asr._FasterWhisper, "_transcribe_one",
                        lambda self, x, seed: asr.Transcript(said[round(float(x[0]), 1)], 0.0))
    it = Item("u", coded, 16000, ref_audio=clean, ref_text="something else entirely")
    [(v, d)] = scoring.score_items_detailed("dwer/faster-whisper-tiny.en", [it], cache=False, progress=False)
    assert v == pytest.approx(2 / 6) and d["ref"] == "the cat sat on the mat" and d["sub"] == 2


def test_fallback_temperature_and_seed_reach_the_details(monkeypatch):
    """The decoder's kept temperature is recorded, and the seed comes from the audio content."""
    monkeypatch.setattr(asr, "_TRANSCRIPTS", {})
    seeds = []

    def fake(self, x, seed):
        seeds.append(seed)
        return asr.joined(["hello there", "general"], [0.0, 0.6])

    monkeypatch.setattr(asr._FasterWhisper, "_transcribe_one", fake)
    x = np.random.default_rng(5).standard_normal(4000).astype(np.float32)
    [(_, d)] = asr.WERFasterWhisperTinyEn().score_detailed([Item("u", x, 16000, ref_text="hello there general")])
    assert d["temperature"] == 0.6 and d["hyp"] == "hello there general"
    asr._TRANSCRIPTS.clear()
    asr.WERFasterWhisperTinyEn().score_detailed([Item("v", x.copy(), 16000, ref_text="x")])
    assert seeds[0] == seeds[1] == asr.item_seed(asr._audio_key(x))


def test_after_lead_keeps_the_words_aligned_to_the_items_text():
    lead, text = "the old man opened", "the heavy door at noon"
    assert asr.after_lead(lead, text, "The old man opened the heavy door at noon.") == "the heavy door at noon"
    # the prompt's words misheard do not count, the item's do; a word inserted at the boundary is the item's
    assert asr.after_lead(lead, text, "The cold man opened a heavy door at noon") == "a heavy door at noon"
    assert asr.after_lead(lead, text, "the old man opened opened the heavy door") == "opened the heavy door"
    # a continuation that says nothing leaves nothing; one that says only the lead's words again is inserted
    assert asr.after_lead(lead, text, "the old man opened") == ""
    assert asr.after_lead(lead, "", "the old man opened the door") == "the door"
    assert asr.after_lead("", text, "Heavy door.") == "heavy door" and asr.after_lead(lead, text, "") == ""


def test_asr_in_context_hears_the_lead_and_scores_only_the_words_aligned_after_it(monkeypatch):
    """An item with a lead (a tts continuation's prompt region): the ASR hears lead + audio as one recording,
    the words of the lead's text are aligned away, and the number says so (signature, score cache)."""
    monkeypatch.setattr(asr, "_TRANSCRIPTS", {})
    heard = []

    def decode(self, x, seed):
        heard.append(len(x))
        return asr.Transcript("The old man opened a door." if len(x) > 14400 else "opened a door", 0.0)

    monkeypatch.setattr(asr._FasterWhisper, "_transcribe_one", decode)
    lead, cont = np.full(14400, 0.01, dtype=np.float32), np.full(14400, 0.02, dtype=np.float32)  # 0.9 s each
    it = Item("u", cont, 16000, ref_text="opened the door", lead_audio=lead, lead_text="the old man")
    b, name = asr.WERFasterWhisperTinyEn(), "wer/faster-whisper-tiny.en"
    [(v, d)] = b.score_detailed([it])
    assert heard == [28800] and d["hyp"] == "opened a door" and d["sub"] == 1 and d["den"] == 3
    assert v == pytest.approx(1 / 3) and d["context"] == "lead-aligned"
    assert "|norm:whisper-en|ctx:lead-aligned|agg:" in scoring.summarize(name, [v], details=[d])["scorer"]["signature"]
    plain = Item("u", cont, 16000, ref_text="opened the door")
    [(v2, d2)] = b.score_detailed([plain])  # alone: the plain decode, no context in the signature
    assert d2["hyp"] == "opened a door" and "context" not in d2
    assert "ctx" not in scoring.summarize(name, [v2], details=[d2])["scorer"]["signature"]
    with pytest.raises(ValueError, match="different contexts"):
        scoring.summarize(name, [v, v2], details=[d, d2])
    # the score cache keys tell the three apart; an item without a lead keeps the key it had before the fields
    fields = scoring._key_fields(b)
    assert {"lead_audio", "lead_text"} <= set(fields)
    assert "lead_audio" not in scoring._key_fields(scoring.get_backend("spk"))
    no_lead = tuple(f for f in fields if not f.startswith("lead"))
    assert scoring.item_hash(plain, fields) == scoring.item_hash(plain, no_lead)
    other = Item("u", cont, 16000, ref_text="opened the door", lead_audio=lead, lead_text="the young man")
    assert len({scoring.item_hash(x, fields) for x in (it, plain, other)}) == 3


def test_a_lead_without_its_text_and_a_dwer_item_with_a_lead_are_refused(monkeypatch):
    monkeypatch.setattr(asr, "_TRANSCRIPTS", {})
    monkeypatch.setattr(asr._FasterWhisper, "_transcribe_one", lambda self, x, seed: asr.Transcript("a door", 0.0))
    x = np.full(3200, 0.1, dtype=np.float32)
    with pytest.raises(ValueError, match="u has a lead_audio without lead_text"):
        asr.WERFasterWhisperTinyEn().score_detailed([Item("u", x, 16000, ref_text="a door", lead_audio=x)])
    it = Item("u", x, 16000, ref_audio=x, ref_text="a door", lead_audio=x, lead_text="the")
    with pytest.raises(ValueError, match="has a lead"):  # dWER: its reference is a transcript of ref_audio alone
        asr.DWERFasterWhisperTinyEn().score_detailed([it])


# -- statistics --------------------------------------------------------------------------------------
def test_ratio_of_sums():
    assert stats.ratio_of_sums([1, 2, None], [4, 4, 10]) == pytest.approx(3 / 8)
    assert stats.ratio_of_sums([1], [0]) is None and stats.ratio_of_sums([], []) is None


def test_holm_known_example():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, None, 0.9]) == [pytest.approx(1.0), None, pytest.approx(1.0)]


def test_bootstrap_ratio_and_seeding():
    rng = np.random.default_rng(0)
    den = rng.integers(3, 30, 200).astype(float)
    num = rng.binomial(den.astype(int), 0.1).astype(float)
    est, lo, hi = stats.bootstrap(list(num), den=list(den), seed=1)
    assert est == pytest.approx(num.sum() / den.sum()) and lo < est < hi and hi - lo < 0.05
    assert (est, lo, hi) == stats.bootstrap(list(num), den=list(den), seed=1)
    # the old item bootstrap of the mean draws exactly as before
    assert stats.bootstrap_ci(list(num), seed=2) == stats.bootstrap(list(num), seed=2)


def test_cluster_bootstrap_covers_where_item_bootstrap_does_not():
    """16 speakers x 10 utterances, speaker effect sd 1, utterance noise sd 0.5: items are not independent."""
    rng = np.random.default_rng(13)
    groups = list(np.repeat(np.arange(16), 10))
    cover = {"cluster": 0, "item": 0}
    reps = 300
    for r in range(reps):
        y = list(rng.normal(0, 1, 16)[groups] + rng.normal(0, 0.5, 160))  # true mean 0
        _, lo, hi = stats.bootstrap(y, groups=groups, n_boot=500, seed=r)
        cover["cluster"] += lo <= 0 <= hi
        _, lo, hi = stats.bootstrap(y, n_boot=500, seed=r)
        cover["item"] += lo <= 0 <= hi
    assert cover["cluster"] / reps >= 0.90, cover
    assert cover["item"] / reps < 0.75, cover


def test_paired_difference_mean_ratio_and_clusters():
    rng = np.random.default_rng(0)
    spk = np.repeat(np.arange(10), 8)
    base = rng.normal(0, 1, 10)[spk] + rng.normal(0, 0.3, 80)
    a, b = base + 0.2 + rng.normal(0, 0.05, 80), base
    p = stats.paired_difference(list(a), list(b), groups=list(spk))
    assert p.diff == pytest.approx(0.2, abs=0.03) and p.ci_low > 0 and p.p_value < 0.01
    assert (p.n, p.n_groups, p.method) == (80, 10, "cluster-bootstrap")
    same = stats.paired_difference(list(b), list(b + rng.normal(0, 0.05, 80)))
    assert same.method == "item-bootstrap" and same.p_value > 0.05 and same.ci_low < 0 < same.ci_high
    # ratio of sums on the same references: corpus WER 2/20 vs 6/20
    r = stats.paired_difference([1, 1, None], [3, 3, 5], den_a=[10, 10, 10])
    assert r.diff == pytest.approx(0.1 - 0.3) and r.n == 2
    # the old API: paired mean difference and its p-value
    assert stats.paired_p_value(list(a), list(b)) < 0.01


# -- SI-SDR and its lag-0 correlation -----------------------------------------------------------------
def _sisdr(hyp: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    [(v, d)] = scoring.score_items_detailed(
        "sisdr/closed-form", [Item("u", hyp.astype(np.float32), 16000, ref_audio=ref.astype(np.float32))],
        progress=False)
    return v, d["lag0_corr"]


def _closed(rho: float) -> float:
    return 10 * np.log10(rho**2 / (1 - rho**2))


def test_sisdr_of_a_delayed_copy_is_at_chance():
    """White noise: autocorrelation ~0 at any lag d != 0, so alpha ~ rho(d) ~ 0 and SI-SDR -> -inf."""
    n = 32000
    x = np.random.default_rng(0).standard_normal(n + 7)
    ref, hyp = x[7:], x[:-7]  # hyp is ref delayed by 7 samples: the same sound
    v, rho = _sisdr(hyp, ref)
    assert abs(rho) < 4 / np.sqrt(n) and v < -20
    assert v == pytest.approx(_closed(np.corrcoef(hyp, ref)[0, 1]), abs=1e-3)


def test_sisdr_of_a_delayed_correlated_signal_matches_theory():
    """AR(1) with coefficient a has rho(d) = a^d, so a d-sample delay scores 10 log10(a^2d / (1 - a^2d))."""
    a, d, n = 0.9, 3, 400000
    from scipy.signal import lfilter

    x = lfilter([1.0], [1.0, -a], np.random.default_rng(1).standard_normal(n + d))  # x[i] = a x[i-1] + e[i]
    v, rho = _sisdr(x[:-d], x[d:])
    assert rho == pytest.approx(a**d, abs=0.01) and v == pytest.approx(_closed(a**d), abs=0.15)


def test_sisdr_of_a_phase_randomized_copy_is_at_chance():
    """Same magnitude spectrum, new phases: same mel spectrogram, lag-0 correlation ~0."""
    n = 32000
    rng = np.random.default_rng(2)
    ref = rng.standard_normal(n)
    spec = np.fft.rfft(ref)
    phase = rng.uniform(0, 2 * np.pi, spec.size)
    phase[0] = phase[-1] = 0  # keep DC and Nyquist real
    hyp = np.fft.irfft(np.abs(spec) * np.exp(1j * phase), n)
    assert np.allclose(np.abs(np.fft.rfft(hyp)), np.abs(spec))
    v, rho = _sisdr(hyp, ref)
    assert abs(rho) < 4 / np.sqrt(n) and v < -20
    assert v == pytest.approx(_closed(np.corrcoef(hyp, ref)[0, 1]), abs=1e-3)


def test_cached_scores_without_new_details_are_rescored(monkeypatch):
    x = np.random.default_rng(3).standard_normal(8000).astype(np.float32)
    it = Item("u", x, 16000, ref_audio=x)
    b = scoring.get_backend("sisdr/closed-form")
    monkeypatch.setattr(type(b), "score_detailed", lambda self, items: [(1.0, {})])  # an old cache entry
    scoring.score_items_detailed("sisdr/closed-form", [it], progress=False)
    monkeypatch.undo()
    [(_, d)] = scoring.score_items_detailed("sisdr/closed-form", [it], progress=False)
    assert d["lag0_corr"] == pytest.approx(1.0)


def test_rank_flags():
    from bench.metrics.catalog import BUILTIN, ranked

    ok, why = ranked("sisdr")
    assert not ok and "phase" in why
    assert ranked("wer")[0] and ranked("pesq")[0]
    assert "dwer/faster-whisper-tiny.en" in BUILTIN
