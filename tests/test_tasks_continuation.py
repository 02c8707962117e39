"""Held-out validation on the valid split, LM-readiness (bits/s, per-level perplexity) and the tts
continuation protocol (what is prompted, trained on and scored, where the prompt ends), over the fixture
codec and manifest; the word-boundary cut also on real flite speech with real Whisper word timestamps."""

import hashlib
import json
import math
import shutil
import subprocess

import numpy as np
import pytest
import torch
from lm_fixtures import ProjectionRVQ, RMSBackend, make_manifest, register

import bench.data
import bench.tasks.tts as tts_mod
from bench.audio import load
from bench.config import config_hash, preset_variant
from bench.data.manifest import audio_path
from bench.metrics import METRICS
from bench.metrics.textnorm import normalize
from bench.tasks import prompt_cut as pc
from bench.tasks import readiness
from bench.tasks.ar_probe import ar_wer, probe_items
from bench.tasks.config import HASH_NEUTRAL, load_task_config, to_dict
from bench.tasks.lm import heldout as ho
from bench.tasks.lm.train import build_model, final_path, load_trained, train
from bench.tasks.lm.vocab import BOS, EOS, IGNORE, PAD, SEP
from bench.tasks.prompt_cut import Word
from bench.tasks.runner import build_context, context_from_run_dir, run
from bench.tasks.tokens import tokenize_manifest
from bench.tasks.tts import TTSAR, TTSNAR, TTSTask, _TTSData, prompt_split

torch.set_num_threads(1)
TINY = ["lm.d_model=32", "lm.n_layers=1", "lm.n_heads=2", "train.steps=8", "train.batch_size=4",
        "train.ckpt_every=3", "train.warmup=2", "data.max_test_items=2", "data.max_gen_seconds=0.5",
        "data.min_gen_seconds=0.2", "data.prompt_seconds=0.5", "metrics=[wer/test-rms]"]
VALID = ["spk0-v0", "spk0-v1", "spk1-v0", "spk1-v1"]  # make_manifest(valid_per_spk=2), manifest order


class SpkRMS(RMSBackend):
    """A speaker-similarity stand-in: continuation mode scores it on the continuation alone."""

    metric, backend = "spk", "test-rms"

    def identity(self):
        return {"name": "spk/test-rms", "model": "rms", "version": "1", "weights_hash": None}


@pytest.fixture
def manifest(tmp_path, monkeypatch):
    register()
    if "spk/test-rms" not in METRICS:
        METRICS.register("spk/test-rms", SpkRMS)
    m = make_manifest(tmp_path / "ds", valid_per_spk=2)
    monkeypatch.setattr(bench.data, "ensure_built", lambda recipe, preset, data_dir=None, overrides=(): m)
    return m


def _ctx(manifest, tmp_path, over=()):
    cfg = load_task_config("tts", "smoke", [*TINY, *over])
    cache = tokenize_manifest(ProjectionRVQ(), manifest, "speech", "t", data_dir=tmp_path / "d", log=lambda m: None)
    run_dir = tmp_path / f"run-{cfg.hash}"
    run_dir.mkdir(exist_ok=True)
    return build_context(TTSTask(), cfg, manifest, cache, run_dir, 64)


def test_new_fields_leave_older_presets_hash_alone():
    for preset in ("smoke", "small"):
        cfg = load_task_config("tts", preset)
        d = to_dict(cfg)
        for (section, key), _ in HASH_NEUTRAL.items():
            del d[section][key]
        assert cfg.hash == config_hash(d)  # the hash the preset had before the fields existed
        same = load_task_config("tts", preset, ["data.tts_mode=cross", "train.val_every=0", "train.val_items=0"])
        assert same.hash == cfg.hash
        assert load_task_config("tts", preset, ["data.tts_mode=continuation"]).hash != cfg.hash
        assert load_task_config("tts", preset, ["train.val_every=20"]).hash != cfg.hash
        assert load_task_config("tts", preset, ["train.align_weight=0.0", "train.align_sigma=0.2"]).hash == cfg.hash
        assert load_task_config("tts", preset, ["train.align_weight=1.0"]).hash != cfg.hash


def test_asr_context_is_checked_and_leaves_older_presets_hash_alone():
    base = load_task_config("tts", "smoke", ["data.tts_mode=continuation"])
    assert load_task_config("tts", "smoke", ["data.tts_mode=continuation", "data.asr_context=none"]).hash == base.hash
    assert load_task_config("tts", "smoke", ["data.tts_mode=continuation", "data.asr_context=prompt"]).hash != base.hash
    with pytest.raises(ValueError, match="asr_context='later'"):
        load_task_config("tts", "smoke", ["data.tts_mode=continuation", "data.asr_context=later"])
    with pytest.raises(ValueError, match="needs data.tts_mode: continuation"):
        load_task_config("tts", "smoke", ["data.tts_mode=cross", "data.asr_context=prompt"])


def test_guided_attention_adds_to_the_ar_training_loss_only(manifest, tmp_path):
    import torch

    from bench.tasks.lm import heldout as ho
    from bench.tasks.lm.train import build_model, masked_ce

    ctx = _ctx(manifest, tmp_path, ["data.tts_mode=continuation", "train.align_weight=1.0",
                                          "train.align_layer=0"])
    task = TTSTask()
    ar = task.objective("ar", ctx)
    b = ar.batch(np.arange(2), np.random.default_rng(0))
    assert b["align_start"].tolist() == [0, 0]  # continuation: the whole utterance from BOS on
    assert b["align_len"].tolist() == [int(n) + 1 for n in b["n_tokens"] - 1]  # BOS + frames (targets: frames+EOS)
    model = build_model(ctx.cfg, ar.shape, 0).eval()
    with torch.no_grad():
        ce = masked_ce(ar.logits(model, b), b["target"])
        total = ar.loss(model, b)
    assert float(total) > float(ce) > 0  # an untrained model's heads are far from the diagonal
    h = task.heldout("ar", ctx)
    vb = list(h.val_batches(4))
    got = ho.evaluate(model, h, vb, ar.shape.code_vocab, torch.device("cpu"))
    with torch.no_grad():
        want = sum(float(masked_ce(h.logits(model, v.batch), v.batch["target"])) * int(v.batch["n_tokens"].sum())
                   for v in vb) / sum(int(v.batch["n_tokens"].sum()) for v in vb)
    assert abs(got.mean_nll() - want) < 1e-4  # held-out: cross-entropy alone


@pytest.mark.parametrize("mode", ["cross", "continuation"])
def test_validation_batches_hold_exactly_the_valid_utterances(manifest, tmp_path, mode):
    ctx = _ctx(manifest, tmp_path, [f"data.tts_mode={mode}"])
    task = TTSTask()
    ar, nar = task.heldout("ar", ctx), task.heldout("nar", ctx)
    assert ar.d.ids == nar.d.ids == VALID  # prompts too are drawn from these (the only codes the data holds)
    ar_ids = [i for b in ar.val_batches(3) for i in b.ids]
    assert ar_ids == VALID
    nar_b = list(nar.val_batches(3))
    assert [i for b in nar_b for i in b.ids] == [i for i in VALID for _ in range(1, 4)]
    assert [int(k) for b in nar_b for k in b.batch["level"]] == [1, 2, 3] * len(VALID)
    train_ids = {r["id"] for r in ctx.split("train")}
    assert not train_ids & set(ar_ids) and all(r["split"] == "valid" for r in map(ctx.by_id.get, ar_ids))
    # fixed: the same batches on every call (prompts drawn from seeded generators, not the training stream)
    again = list(ar.val_batches(3))
    assert all(torch.equal(a.batch["audio"], b.batch["audio"]) for a, b in zip(ar.val_batches(3), again, strict=True))


def _train(ctx, stage, out, over=()):
    cfg = load_task_config("tts", "smoke", [*TINY, f"data.tts_mode={ctx.cfg.data.tts_mode}", *over])
    task = TTSTask()
    train(task.objective(stage, ctx), cfg, out, stage, log=lambda m: None, heldout=task.heldout(stage, ctx))
    return json.loads((out / f"{stage}.train.json").read_text())


def test_val_curve_is_deterministic_and_leaves_training_alone(manifest, tmp_path):
    ctx = _ctx(manifest, tmp_path, ["data.tts_mode=continuation"])
    a = _train(ctx, "nar", tmp_path / "a", ["train.val_every=3"])
    b = _train(ctx, "nar", tmp_path / "b", ["train.val_every=3"])
    c = _train(ctx, "nar", tmp_path / "c")  # val_every 0: only the pass after the last step
    assert a["curve"]["val_step"] == [2, 5, 7] and len(a["curve"]["val_loss"]) == 3
    assert a["curve"] == b["curve"] and a["heldout"] == b["heldout"]
    assert a["heldout"]["ids"] == VALID and a["heldout"]["split"] == "valid" and a["heldout"]["step"] == 7
    assert c["weights_sha"] == a["weights_sha"]  # validating never changes what is trained
    assert c["curve"]["val_step"] == [7] and c["curve"]["val_loss"] == a["curve"]["val_loss"][-1:]
    assert set(a["heldout"]["nll"]) == {"1", "2", "3"}  # the NAR's levels, on the continuation frames


def test_nll_bits_per_second_matches_a_hand_computation(manifest, tmp_path):
    ctx = _ctx(manifest, tmp_path, ["data.tts_mode=continuation"])
    obj = TTSTask().heldout("ar", ctx)
    model = build_model(ctx.cfg, obj.shape, 3).eval()
    h = ho.evaluate(model, obj, obj.val_batches(3), obj.shape.code_vocab, torch.device("cpu"))
    recs = {r["metric"]: r for r in readiness.records("ar", h, ctx.frame_rate, ["a", "a", "b", "b"])}

    v, nats, code_nats, codes, secs = ctx.cfg.lm.audio_vocab, 0.0, 0.0, 0, 0.0
    for r in (ctx.by_id[i] for i in VALID):  # one utterance at a time: no padding, no batching
        c = ctx.cache.codes(r["id"], 1)[0]
        x = torch.tensor([[[v + BOS, *c.tolist()]]])
        text = torch.tensor([ctx.vocab.encode(r["phonemes"])])
        with torch.no_grad():
            logp = torch.log_softmax(model(text, x)[0, 0].double(), -1)
        tgt = [*c.tolist(), v + EOS]
        per = [-float(logp[j, t]) for j, t in enumerate(tgt)]
        nats += sum(per)
        code_nats += sum(per[:-1])
        codes += len(c)
        secs += len(c) / ctx.frame_rate
    bps = recs["nll_bps@ar"]
    assert bps["value"] == pytest.approx(nats / math.log(2) / secs, rel=1e-5)
    # the same as nats per token * tokens per second / ln 2, with EOS one of the AR's tokens
    tokens = codes + len(VALID)
    assert bps["value"] == pytest.approx(nats / tokens * (tokens / secs) / math.log(2), rel=1e-5)
    assert bps["n"] == 4 and bps["extra"]["tokens"] == tokens and bps["higher_is_better"] is False
    assert bps["ci_low"] <= bps["value"] <= bps["ci_high"] and bps["scorer"]["ci"] == "cluster-bootstrap"
    assert recs["ppl@level0"]["value"] == pytest.approx(math.exp(code_nats / codes), rel=1e-5)
    assert recs["ppl@level0"]["variant"] is None and bps["variant"] == "ar"


def test_tts_reads_words_when_the_config_says_so(manifest, tmp_path):
    from bench.tasks.lm.text import split_text

    ctx = _ctx(manifest, tmp_path, ["data.tts_mode=continuation", "data.tts_text=words"])
    assert ctx.vocab.unit == "word" and TTSTask().text_spec(ctx.cfg) == ("text", "word")
    d = _TTSData.train(ctx)
    assert [len(t) - 2 for t in d.text] == [len(split_text(r["text"], "word")) for r in d.rows]  # BOS + words + EOS
    with pytest.raises(ValueError, match="tts_text"):
        load_task_config("tts", "smoke", ["data.tts_text=letters"])


def test_letters_prior_places_each_word_by_its_letters_in_the_ar_guide(manifest, tmp_path):
    from bench.tasks.lm import align

    over = ["data.tts_mode=continuation", "data.tts_text=words", "train.align_weight=1.0", "train.align_layer=0"]
    uni, let = _ctx(manifest, tmp_path, over), _ctx(manifest, tmp_path, [*over, "train.align_prior=letters"])
    assert uni.cfg.hash == _ctx(manifest, tmp_path, [*over, "train.align_prior=uniform"]).cfg.hash != let.cfg.hash
    ar = TTSAR(_TTSData.train(let))
    w = ar._key_weight()
    for sym, i in let.vocab.ids.items():
        assert w[i] == len(sym) + 1
    assert w[1] == 1 and w[2] == 1  # BOS, EOS
    b = ar.batch(np.arange(2), np.random.default_rng(0))
    pos = align.key_positions(b["text"], w)
    row = [let.vocab.symbols[int(t) - 4] for t in b["text"][0][1:-1] if int(t) >= 4]
    lens = np.array([1] + [len(x) + 1 for x in row] + [1], dtype=float)
    mid = np.cumsum(lens) - lens / 2
    want = (mid - mid[0]) / (mid[-1] - mid[0])
    assert np.allclose(pos[0, : len(want)].numpy(), want, atol=1e-6)
    model = build_model(let.cfg, ar.shape, 0).eval()
    with torch.no_grad():
        a, c = float(TTSAR(_TTSData.train(uni)).loss(model, b)), float(ar.loss(model, b))
    assert a != c  # the same batch and model, a different diagonal
    with pytest.raises(ValueError, match="align_prior"):
        load_task_config("tts", "smoke", ["train.align_prior=phones"])


def test_letters_span_prior_lays_the_letters_diagonal_over_each_clips_speech(manifest, tmp_path):
    from bench.tasks.lm import align

    over = ["data.tts_mode=continuation", "data.tts_text=words", "train.align_weight=1.0", "train.align_layer=0"]
    let, span = _ctx(manifest, tmp_path, [*over, "train.align_prior=letters"]), \
        _ctx(manifest, tmp_path, [*over, "train.align_prior=letters-span"])
    assert let.cfg.hash != span.cfg.hash
    ar_l, ar_s = TTSAR(_TTSData.train(let)), TTSAR(_TTSData.train(span))
    b = ar_s.batch(np.arange(2), np.random.default_rng(0))
    assert "align_span" not in ar_l.batch(np.arange(2), np.random.default_rng(0))
    for i in range(2):  # each row's span is its own clip's, read from the clean audio
        want = align.speech_span(span.load_audio(ar_s.d.rows[i]), 16000)
        assert torch.allclose(b["align_span"][i], torch.tensor(want, dtype=torch.float32))
        assert 0.0 <= want[0] < want[1] <= 1.0
    model = build_model(span.cfg, ar_s.shape, 0).eval()
    with torch.no_grad():  # the same batch and model: the span moves the diagonal unless the span is the clip
        moved = float(ar_l.loss(model, b)) != float(ar_s.loss(model, b))
    assert moved == any(tuple(r) != (0.0, 1.0) for r in b["align_span"].tolist())


def test_input_noise_replaces_some_input_codes_and_no_target(manifest, tmp_path):
    clean = _ctx(manifest, tmp_path, ["data.tts_mode=continuation"])
    noisy = _ctx(manifest, tmp_path, ["data.tts_mode=continuation", "train.input_noise=0.3"])
    a = TTSAR(_TTSData.train(clean)).batch(np.arange(4), np.random.default_rng(5))
    b = TTSAR(_TTSData.train(noisy)).batch(np.arange(4), np.random.default_rng(5))
    c = TTSAR(_TTSData.train(noisy)).batch(np.arange(4), np.random.default_rng(5))
    assert torch.equal(a["target"], b["target"]) and torch.equal(b["audio"], c["audio"])  # seeded by the step
    codes = a["audio"] < 64  # the fixture codec's codebook: BOS and padding are never replaced
    changed = a["audio"] != b["audio"]
    assert not (changed & ~codes).any() and 0.15 < changed.sum() / codes.sum() < 0.35
    assert (b["audio"][codes] < 64).all()
    with pytest.raises(ValueError, match="input_noise"):
        load_task_config("tts", "smoke", ["train.input_noise=1.5"])


def test_text_use_is_the_nll_the_own_text_saves_over_another_utterances(manifest, tmp_path):
    ctx = _ctx(manifest, tmp_path, ["data.tts_mode=continuation"])
    obj = TTSTask().heldout("nar", ctx)
    other = obj.with_other_text()
    assert other.d.text == [obj.d.text[(i + 1) % 4] for i in range(4)] and other.d.codes is obj.d.codes
    assert all(a != b for a, b in zip(other.d.text, obj.d.text, strict=True))  # every utterance reads another's
    model = build_model(ctx.cfg, obj.shape, 3).eval()
    dev = torch.device("cpu")
    h = ho.evaluate(model, obj, obj.val_batches(3), obj.shape.code_vocab, dev)
    o = ho.evaluate(model, other, other.val_batches(3), obj.shape.code_vocab, dev)
    rec = {r["metric"]: r for r in readiness.records("nar", h, ctx.frame_rate, None, other=o)}["text_bps@nar"]
    bits = [sum(v[i] for v in x.nll.values()) / math.log(2) for x in (h, o) for i in range(4)]
    assert rec["value"] == pytest.approx((sum(bits[4:]) - sum(bits[:4])) / (sum(h.frames) / ctx.frame_rate))
    assert rec["higher_is_better"] is True and rec["per_item"]["ids"] == VALID
    same = readiness.records("nar", h, ctx.frame_rate, None, other=h)[-1]
    assert same["metric"] == "text_bps@nar" and same["value"] == 0  # text that changes nothing is worth 0 bits
    with pytest.raises(ValueError, match="other utterances"):
        readiness.records("nar", h, ctx.frame_rate, None, other=ho.HeldOut(h.ids[::-1], h.frames[::-1], o.nll,
                                                                           o.tokens))


def test_continuation_examples_prompt_with_the_utterances_own_start(manifest, tmp_path):
    ctx = _ctx(manifest, tmp_path, ["data.tts_mode=continuation"])
    d = _TTSData.train(ctx)
    v, rng = d.v, np.random.default_rng(0)
    c = d.codes[0]
    hi = prompt_split(c.shape[1], d.prompt_frames)
    assert 0 < hi == min(d.prompt_frames, c.shape[1] // 2)
    drawn = {d.prompt_len(c.shape[1], np.random.default_rng(s)) for s in range(200)}
    assert drawn == set(range(hi // 2, hi + 1))  # training: every length from half the limit to the limit
    held = _TTSData(ctx, ctx.split("valid"), (0, "nar"))
    assert {held.prompt_len(c.shape[1], np.random.default_rng(s)) for s in range(5)} == {hi}  # held-out: the limit
    p = d.prompt_len(c.shape[1], np.random.default_rng(1))  # the NAR example's one draw: its prompt length
    x, y, frames, start = TTSAR(d)._example(0, rng)  # VALL-E's AR: the whole utterance after BOS, then EOS
    assert x[0, 0] == v + BOS and np.array_equal(x[0, 1:], c[0]) and np.array_equal(y[0], [*c[0], v + EOS])
    assert frames == c.shape[1]
    x, y, frames = TTSNAR(d)._example(0, 2, np.random.default_rng(1))  # [own prompt | SEP | rest], level 2
    assert np.array_equal(x[:, :p], c[:, :p]) and x[0, p] == v + SEP and (x[1:, p] == v + PAD).all()
    assert np.array_equal(x[:2, p + 1 :], c[:2, p:]) and (x[2:, p + 1 :] == v + PAD).all()
    assert (y[:, : p + 1] == IGNORE).all() and np.array_equal(y[2, p + 1 :], c[2, p:]) and frames == c.shape[1] - p
    assert (np.delete(y, 2, axis=0) == IGNORE).all()


def _fake_timer(manifest):
    """Word times for the fixture's tones: the manifest text's words, the first ending at 0.4 s, the others
    evenly after it (the clip is recognised by its samples, as the task hands over the clean audio)."""
    texts = {}
    for r in map(json.loads, manifest.read_text().splitlines()):
        x = load(audio_path(manifest, r), sr=16000, checks=None)[0]
        texts[hashlib.sha1(x.tobytes()).hexdigest()] = r["text"]

    def timer(x):
        words, dur = texts[hashlib.sha1(np.asarray(x, np.float32).tobytes()).hexdigest()].split(), len(x) / 16000
        edges = [0.05, 0.4, *np.linspace(0.4, dur - 0.05, len(words))[1:]]
        return [Word(w, float(a), float(b)) for w, a, b in zip(words, edges, edges[1:], strict=False)]

    return timer


def test_continuation_run_scores_exactly_what_it_says(manifest, tmp_path, monkeypatch):
    over = [*TINY[:-1], "metrics=[wer/test-rms, spk/test-rms]", "data.tts_mode=continuation", "train.val_every=4",
            "data.asr_context=prompt"]
    calls: list[tuple[str, list]] = []
    real = tts_mod.score_items

    def spy(name, items, log=print, groups=None):
        calls.append((name, items))
        return real(name, items, log, groups)

    monkeypatch.setattr(tts_mod, "score_items", spy)
    monkeypatch.setattr(pc, "word_times", _fake_timer(manifest))
    recs = run("tts", "test-rpq", "smoke", overrides=over, data_dir=tmp_path / "d", results_dir=tmp_path / "r",
               echo=lambda m: None)
    run_dir = next((tmp_path / "d" / "runs" / "tts" / preset_variant("smoke", over)).iterdir())
    ctx = _ctx(manifest, tmp_path, ["data.tts_mode=continuation"])
    stored = json.loads((run_dir / "prompt_cuts.json").read_text())
    assert stored["method"] == pc.METHOD and stored["frame_rate"] == ctx.frame_rate
    by_metric = {}
    for name, items in calls:  # per metric: the "ar" items, the "ar+nar" items, then the clean reference
        by_metric.setdefault(name, []).append(items)
    assert [len(x) for x in by_metric.values()] == [3, 3]
    for (wer_items, spk_items), variant in zip(zip(by_metric["wer/test-rms"], by_metric["spk/test-rms"],
                                                  strict=True), ["ar", "ar+nar", "reference"], strict=True):
        for w, s in zip(wer_items, spk_items, strict=True):
            row = ctx.by_id[w.id]
            cut_row = stored["items"][w.id]
            assert row["split"] == "test" and cut_row["flags"] == []
            clean = ctx.load_audio(row, 16000)
            t, p = cut_row["cut_seconds"], cut_row["prompt_frames"]  # a word end in [0.4 - 0.12, 0.4 + 0.04] s
            assert 0.28 <= t <= 0.44 and t <= min(0.5, len(clean) / 16000 / 2)  # ... within the limit
            assert p == round(t * ctx.frame_rate)  # the codec's prompt: the frame boundary nearest the cut
            if variant == "reference":  # the clean continuation from the cut instant: the same for every codec
                whole, cut = clean, round(t * 16000)
            else:
                cut = round(p / ctx.frame_rate * 16000)  # the codes start with the item's own prompt codes up to
                gen = np.load(run_dir / "gen" / variant / f"{w.id}.npy")
                own = ctx.cache.codes(w.id, gen.shape[0])[:, :p]  # ... the cut, decoded as one waveform
                assert np.array_equal(gen[:, :p], own) and gen.shape[1] > p
                whole = load(run_dir / "samples" / variant / f"{w.id}.wav", checks=None)[0]
            words = normalize(row["text"]).split()
            for it in (w, s):  # every metric: the samples after the prompt, never a prompt frame
                assert np.array_equal(it.audio, whole[cut:]) and np.array_equal(it.ref_audio, clean[cut:])
                assert np.array_equal(it.prompt_audio, clean[:cut])
                assert np.array_equal(it.lead_audio, clean[:cut])  # every row heard after the clean prompt
                assert it.ref_text == " ".join(words[1:]) == cut_row["continuation_text"]  # the prompt's word out
                assert it.lead_text == words[0]  # ... is the lead's, which the ASR aligns away
    for r in recs:
        if r["metric"].startswith(("wer", "spk")):
            assert r["extra"]["scored_audio"] == "continuation" and r["extra"]["prompt_cut"] == pc.METHOD
            assert r["extra"]["prompt_cut_flags"] == {} and r["extra"]["asr_context"] == "prompt"
    ref_recs = [json.loads(x) for x in (tmp_path / "r" / "records" / preset_variant("smoke", over)
                                         / "tts__reference.jsonl").read_text().splitlines()]
    assert ref_recs and all(r["extra"]["scored_audio"] == "continuation" for r in ref_recs)
    scores = [json.loads(x) for x in (run_dir / "scores.jsonl").read_text().splitlines()]
    assert [(x["prompt_frames"], x["continuation_text"]) for x in scores] == [
        (stored["items"][x["id"]]["prompt_frames"], stored["items"][x["id"]]["continuation_text"]) for x in scores]
    assert all(r["extra"]["tts_mode"] == "continuation" for r in recs)
    # what generation was prompted with: exactly the cached cut's frames, read back without any ASR
    monkeypatch.setattr(pc, "word_times", lambda x: pytest.fail("the cut was recomputed"))
    task, rctx = context_from_run_dir(run_dir)
    for i, row in stored["items"].items():
        assert task.prompt_codes(rctx.by_id[i], rctx).shape[1] == row["prompt_frames"]
    ready = {r["metric"]: r for r in recs if r["backend"]["name"] == "bench.lm_readiness"}
    assert set(ready) == {"nll_bps@ar", "nll_bps@nar", "ppl@level0", "ppl@level1", "ppl@level2", "ppl@level3",
                          "text_bps@ar", "text_bps@nar"}
    for r in ready.values():
        assert r["kind"] == "task" and r["per_item"]["ids"] == VALID and r["data"]["subset"] == "valid:all"
        assert r["data"]["items"] == 4 and r["data"]["speakers"] == 2
        assert r["value"] > 0 or r["metric"].startswith("text_bps")  # a random model's text may cost bits
        assert r["variant"]["decode"] == {"nll_bps@ar": "ar", "nll_bps@nar": "nar", "text_bps@ar": "ar",
                                          "text_bps@nar": "nar"}.get(r["metric"])
    curve = ready["nll_bps@ar"]["extra"]["train_curve"]
    assert curve["ar"]["val_step"] == [3, 7] and curve["nar"]["val_loss"] and len(curve["ar"]["loss"]) == 8
    # the AR-only path of the exploration scripts (bench.tasks.ar_probe): the run's own "ar" codes, and its WER
    # on the same items (up to the run's 16-bit WAV write)
    ar_model = load_trained(final_path(run_dir, "ar"), rctx.cfg, "cpu")
    items = probe_items(task, rctx, per_voice=10)
    assert sorted(it["id"] for it in items) == sorted(x["id"] for x in scores)
    for it in items:
        only = task.generate({"ar": ar_model}, it, rctx)
        assert list(only) == ["ar"] and np.array_equal(only["ar"], np.load(run_dir / "gen" / "ar" / f"{it['id']}.npy"))
    probe = ar_wer(task, rctx, ar_model, ProjectionRVQ(), items)
    run_wer = next(r for r in recs if r["metric"] == "wer@ar")
    assert probe["n"] == run_wer["n"] == 2 and probe["wer_ar"] == pytest.approx(run_wer["value"], rel=1e-3)
    assert [x["id"] for x in probe["items"]] == run_wer["per_item"]["ids"]
    assert [it["id"] for it in probe_items(task, rctx, 1, "valid")] == ["spk0-v0", "spk1-v0"]  # training voices
    with pytest.raises(ValueError, match="split"):
        probe_items(task, rctx, 1, "train")


@pytest.mark.parametrize("kind", ["delay", "flatten"])
def test_pattern_heldout_counts_every_level_of_the_crop(kind):
    from bench.tasks.config import LMCfg
    from bench.tasks.lm.pattern_lm import PatternObjective
    from bench.tasks.lm.transformer import TokenLM

    rng = np.random.default_rng(0)
    codes = [rng.integers(0, 64, size=(4, t)) for t in (9, 15, 30)]
    obj = PatternObjective([[1, 5, 2]] * 3, codes, kind, 4, 64, 12, ids=["a", "b", "c"])
    batches = list(obj.val_batches(2))
    assert [b.ids for b in batches] == [["a", "b"], ["c"]] and [f for b in batches for f in b.frames] == [9, 12, 12]
    torch.manual_seed(0)
    model = TokenLM(LMCfg(d_model=16, n_layers=1, n_heads=2, audio_vocab=64), obj.shape).eval()
    h = ho.evaluate(model, obj, batches, obj.shape.code_vocab, torch.device("cpu"))
    assert h.ids == ["a", "b", "c"] and set(h.nll) == {"0", "1", "2", "3"}  # each level once per frame, no EOS
    assert all(h.tokens[k] == [9, 12, 12] for k in h.nll)
    assert h == ho.evaluate(model, obj, obj.val_batches(2), obj.shape.code_vocab, torch.device("cpu"))


def test_music_run_reports_readiness_of_its_one_model(manifest, tmp_path):
    over = [o for o in TINY if not o.startswith("data.prompt")] + ["data.gen_seconds=0.4", "data.prompt_seconds=0.3"]
    recs = run("music", "test-rpq", "smoke", overrides=over, data_dir=tmp_path / "d", results_dir=tmp_path / "r",
               echo=lambda m: None)
    ready = {r["metric"]: r for r in recs if r["backend"]["name"] == "bench.lm_readiness"}
    assert set(ready) == {"nll_bps", "ppl@level0", "ppl@level1", "ppl@level2", "ppl@level3"}
    assert ready["nll_bps"]["variant"]["decode"] is None and ready["nll_bps"]["per_item"]["ids"] == VALID
    assert "tts_mode" not in ready["nll_bps"]["extra"]


def _words(spec: str) -> list[Word]:
    """'the:0-.3 old:.3-.6 ...' -> Words."""
    out = []
    for tok in spec.split():
        w, span = tok.split(":")
        a, b = span.split("-")
        out.append(Word(w, float(a), float(b)))
    return out


SPEECHLESS = np.zeros(32000, dtype=np.float32)  # 2 s; the energy search then keeps the latest frame in its window


def test_cut_splits_the_text_at_the_prompts_words_and_flags_what_the_asr_heard_differently():
    text = "The old man opened the door this morning."
    heard = "the:0-.3 old:.3-.6 man:.6-.9 opened:.9-1.3 the:1.3-1.4 door:1.4-1.7 this:1.7-1.9 morning.:1.9-2"
    c = pc.cut_of(SPEECHLESS, text, _words(heard), 50.0, 1.0)  # limit 1 s: "man" is the last word ending before
    assert (c.k, c.prompt_words, c.continuation_text, c.flags) == (
        3, ["the", "old", "man"], "opened the door this morning", [])
    assert c.prompt_frames == 47 and c.prompt_seconds == 0.94  # no pause anywhere: the latest of [0.78, 0.94] s
    # a misheard prompt word: the same split (the alignment), flagged
    c = pc.cut_of(SPEECHLESS, text, _words(heard.replace("man:", "men:")), 50.0, 1.0)
    assert (c.k, c.continuation_text, c.flags) == (3, "opened the door this morning", ["cut_mismatch"])
    # an inserted word in the prompt does not shift the split either
    c = pc.cut_of(SPEECHLESS, text, _words("the:0-.2 old:.2-.4 man:.4-.6 he:.6-.9 opened:.9-1.3 the:1.3-2"), 50.0, 1.0)
    assert (c.k, c.prompt_words, c.continuation_text, c.flags) == (
        3, ["the", "old", "man", "he"], "opened the door this morning", ["cut_mismatch"])
    # no word ends before the limit: cut at the limit, words counted by their midpoint, flagged
    c = pc.cut_of(SPEECHLESS, text, _words("the:0-.6 old:.6-1.2 man:1.2-2"), 50.0, 0.5)
    assert (c.prompt_frames, c.k, c.flags) == (25, 1, ["no_word_boundary"])
    assert c.continuation_text == "old man opened the door this morning"
    # the limit is never passed, and a word is always left to continue
    c = pc.cut_of(SPEECHLESS, "the old man", _words("the:0-.3 old:.3-.6 man:.6-.9"), 50.0, 2.0)
    assert (c.prompt_frames, c.k, c.continuation_text) == (32, 2, "man")
    assert pc.cut_of(SPEECHLESS, text, _words(heard), 50.0, 0.92).prompt_frames == 46


def test_the_cut_falls_in_the_quietest_instant_near_the_word_end():
    x = np.full(32000, 0.1, dtype=np.float32)
    x[int(0.82 * 16000): int(0.86 * 16000)] = 0.0  # a closure 60-100 ms before Whisper's late word end
    assert pc.quietest_time(x, 0.92, 2.0) == 0.84  # the middle of the silence
    assert pc.quietest_time(x, 0.92, 0.8) == 0.8  # never past the limit
    assert pc.limit_of(x, 3.0) == 1.0 and pc.limit_of(x, 0.7) == 0.7  # at most half the utterance


def test_the_split_is_the_same_for_every_codec_frame_rate():
    """A word that ends between two codecs' frame-rounded limits went to the prompt for one and to the
    continuation for the other: the split is in seconds now, and only the prompt frames are the codec's."""
    x = np.full(48000, 0.1, dtype=np.float32)
    x[int(1.523 * 16000): int(1.563 * 16000)] = 0.0  # a pause after "man", which ends at 1.545 s
    words = _words("the:0-.5 old:.5-1 man:1-1.545 opened:1.6-2.2 it:2.2-2.9")
    text = "the old man opened it"
    by_rate = {fr: pc.cut_of(x, text, words, fr, 1.5467) for fr in (12.5, 50.0, 75.0, 86.1328125)}
    assert {(c.cut_seconds, c.k, c.continuation_text, tuple(c.flags)) for c in by_rate.values()} == {
        (1.543, 3, "opened it", ())}
    for fr, c in by_rate.items():  # the frame boundary nearest the cut
        assert c.prompt_frames == round(1.543 * fr) and abs(c.prompt_seconds - 1.543) <= 0.5 / fr
        assert c.at(50.0) == by_rate[50.0]


def test_word_times_are_cached_by_the_audio_content(tmp_path, monkeypatch):
    """Every codec's run of a preset cuts the same clean clips: the ASR runs once per clip, in the data dir."""
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    heard = []

    def asr(x):
        heard.append(len(x))
        return _words("the:0-.3 old:.3-.6 man:.6-.9") if len(heard) == 1 else _words("a:0-.5 b:.5-1")

    monkeypatch.setattr(pc, "_transcribe_words", asr)
    x, y = SPEECHLESS.copy(), SPEECHLESS.copy()
    y[100] = 0.5  # one sample differs: another clip
    first = pc.word_times(x)
    assert pc.word_times(x.copy()) == first == _words("the:0-.3 old:.3-.6 man:.6-.9") and heard == [32000]
    assert pc.word_times(y) == _words("a:0-.5 b:.5-1") and len(heard) == 2
    assert len(list((tmp_path / "data" / "cache" / "word_times").rglob("*.json"))) == 2


def test_cuts_are_cached_in_the_run_dir_and_deterministic(tmp_path):
    items = [{"id": "a", "text": "the old man opened the door"}, {"id": "b", "text": "the young girl lifted it"}]
    calls = []

    def timer(x):
        calls.append(len(x))
        return _words("the:0-.3 old:.3-.6 man:.6-.9 opened:.9-1.3 the:1.3-1.4 door:1.4-1.7")

    def audio(it):
        return SPEECHLESS

    first = pc.cuts(tmp_path, items, audio, 50.0, 1.0, timer)
    assert len(calls) == 2 and first["b"].flags == ["cut_mismatch"]  # ASR "the old man" vs text "the young girl"
    text = (tmp_path / "prompt_cuts.json").read_text()

    def no_asr(x):
        raise AssertionError("the cut was recomputed")

    again = pc.cuts(tmp_path, items[::-1], audio, 50.0, 1.0, no_asr)
    assert again == first and (tmp_path / "prompt_cuts.json").read_text() == text
    fresh = pc.cuts(tmp_path / "other", items, audio, 50.0, 1.0, timer)
    assert fresh == first and (tmp_path / "other" / "prompt_cuts.json").read_text() == text  # deterministic
    other_rate = pc.cuts(tmp_path, items, audio, 75.0, 1.0, no_asr)  # the split is reused, frames recounted
    assert other_rate == {i: c.at(75.0) for i, c in first.items()} and other_rate["a"].prompt_frames == 70
    pc.cuts(tmp_path, items, audio, 50.0, 0.8, timer)
    assert len(calls) == 6  # another prompt_seconds: every item is cut again


def _asr_ready() -> bool:
    try:
        from bench.metrics.asr import WERFasterWhisperTinyEn
    except ImportError:
        return False
    return shutil.which("flite") is not None and WERFasterWhisperTinyEn.available()[0]


def _flite(text: str, out, voice: str = "kal16") -> np.ndarray:
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(out)], check=True, stdin=subprocess.DEVNULL)
    return load(out, sr=16000, checks=None)[0]


@pytest.mark.skipif(not _asr_ready(), reason="needs flite and the faster-whisper tiny.en weights")
def test_real_word_timestamps_cut_between_two_words_never_inside_one(tmp_path):
    def speech(text: str) -> np.ndarray:  # one flite rendering, its own leading and trailing silence trimmed
        x = _flite(text, tmp_path / "x.wav")
        loud = np.flatnonzero(np.abs(x) > 0.02 * np.abs(x).max())
        return x[loud[0]: loud[-1] + 1]

    a, b, pad, gap = speech("the old man"), speech("opened a heavy door"), 3200, 2400
    x = np.concatenate([np.zeros(pad), a, np.zeros(gap), b, np.zeros(pad)]).astype(np.float32)
    g0, g1 = pad + len(a), pad + len(a) + gap  # the pause between "man" and "opened", in samples
    fr = 50.0
    c = pc.cut_of(x, "The old man opened a heavy door.", pc.word_times(x), fr, g1 / 16000 + 0.2)
    assert g0 <= round(c.prompt_frames / fr * 16000) <= g1  # all of "man" in the prompt, none of "opened"
    assert (c.k, c.prompt_words, c.continuation_text, c.flags) == (
        3, ["the", "old", "man"], "opened a heavy door", [])

    # connected speech: the cut is at a Whisper word end (refined to the quietest instant near it), the
    # prompt's words are the text's first k, and the same audio gives the same cut
    text = "The old man opened a heavy door this morning."
    y = _flite(text, tmp_path / "y.wav")
    words = pc.word_times(y)
    c = pc.cut_of(y, text, words, fr, 1.4)  # limit 1.4 s
    end = words[len(c.prompt_words) - 1].end
    assert c.k >= 2 and not c.flags and c.prompt_words == normalize(text).split()[: c.k]
    assert end <= 1.4 and end - pc.BEFORE_S <= c.cut_seconds <= min(end + pc.AFTER_S, 1.4)
    assert c.prompt_frames == round(c.cut_seconds * fr)
    assert words[len(c.prompt_words)].end > 1.4  # the last word that fits
    assert pc.cut_of(y, text, pc.word_times(y), fr, 1.4) == c


@pytest.mark.skipif(not _asr_ready(), reason="needs flite and the faster-whisper tiny.en weights")
def test_the_prompt_cuts_one_thread_asr_leaves_torchs_thread_count_alone(monkeypatch):
    """CTranslate2 sets the loading thread's OpenMP thread count to the model's cpu_threads, which torch shares:
    the cuts' one-thread model left every later torch step of the process on one core."""
    import torch

    monkeypatch.setattr(pc, "_model", pc._model.__wrapped__)  # a fresh load, not the cached model
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        pc._model()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(n)


@pytest.mark.skipif(not _asr_ready(), reason="needs flite and the faster-whisper tiny.en weights")
def test_real_asr_in_context_scores_the_words_of_the_continuation(tmp_path):
    """data.asr_context: prompt on a real voice and the real tiny.en: an item whose lead is the prompt scores
    the words its transcript aligns to the continuation's text; the lead's words are never scored."""
    from bench.metrics.asr import WERFasterWhisperTinyEn
    from bench.metrics.base import Item

    text = "The old man opened a heavy door this morning."
    y = np.concatenate([_flite(text, tmp_path / "y.wav"), np.zeros(16000, dtype=np.float32)])  # 1 s of silence
    b = WERFasterWhisperTinyEn()
    c = pc.cut_of(y, text, pc.word_times(y), 50.0, 1.4)
    k = round(c.prompt_frames / 50.0 * 16000)
    it = Item("y", y[k:], 16000, ref_text=c.continuation_text, lead_audio=y[:k], lead_text=c.prompt_text(text))
    [(v, d)] = b.score_detailed([it])
    assert c.prompt_text(text) == " ".join(normalize(text).split()[: c.k]) and c.k >= 2
    assert normalize(d["hyp"]) == c.continuation_text and v == 0 and d["context"] == "lead-aligned"


def test_text_dropout_gives_some_rows_the_empty_text_and_no_guided_span(manifest, tmp_path):
    from bench.tasks.tts import NULL_TEXT

    base = ["data.tts_mode=continuation", "train.align_weight=1.0", "train.align_layer=0"]
    keep = TTSAR(_TTSData.train(_ctx(manifest, tmp_path, base))).batch(np.arange(4), np.random.default_rng(3))
    d = _TTSData.train(_ctx(manifest, tmp_path, base + ["train.text_dropout=0.5"]))
    drop = TTSAR(d).batch(np.arange(4), np.random.default_rng(3))
    assert torch.equal(keep["audio"], drop["audio"]) and torch.equal(keep["target"], drop["target"])
    null = torch.tensor(NULL_TEXT + [0] * (drop["text"].shape[1] - 2))
    rows = [bool(torch.equal(drop["text"][i], null)) for i in range(4)]
    assert any(rows) and not all(rows)  # seeded draw: rng 3 drops some of the 4 rows, not all
    for i, dropped in enumerate(rows):
        assert (drop["align_len"][i] == 0) == dropped
        if not dropped:
            assert torch.equal(drop["text"][i], keep["text"][i]) and drop["align_len"][i] == keep["align_len"][i]
    with pytest.raises(ValueError, match="text_dropout"):
        load_task_config("tts", "smoke", ["train.text_dropout=1.0"])
    with pytest.raises(ValueError, match="needs train.text_dropout"):
        load_task_config("tts", "smoke", ["generate.cfg_scale=1.5"])
    assert load_task_config("tts", "smoke").hash == load_task_config(
        "tts", "smoke", ["train.text_dropout=0.0", "generate.cfg_scale=0.0"]).hash  # neutral at their defaults
