"""Held-out validation on the valid split, LM-readiness (bits/s, per-level perplexity) and the tts
continuation protocol (what is prompted, trained on and scored), over the fixture codec and manifest."""

import json
import math

import numpy as np
import pytest
import torch
from lm_fixtures import ProjectionRVQ, RMSBackend, make_manifest, register

import bench.data
import bench.tasks.tts as tts_mod
from bench.audio import load
from bench.config import config_hash, preset_variant
from bench.metrics import METRICS
from bench.tasks import readiness
from bench.tasks.config import HASH_NEUTRAL, load_task_config, to_dict
from bench.tasks.lm import heldout as ho
from bench.tasks.lm.train import build_model, train
from bench.tasks.lm.vocab import BOS, EOS, IGNORE, PAD, SEP
from bench.tasks.runner import build_context, run
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


def test_continuation_examples_prompt_with_the_utterances_own_start(manifest, tmp_path):
    ctx = _ctx(manifest, tmp_path, ["data.tts_mode=continuation"])
    d = _TTSData.train(ctx)
    v, rng = d.v, np.random.default_rng(0)
    c = d.codes[0]
    p = prompt_split(c.shape[1], d.prompt_frames)
    assert 0 < p == min(d.prompt_frames, c.shape[1] // 2)
    x, y, frames = TTSAR(d)._example(0, rng)  # VALL-E's AR: the whole utterance after BOS, then EOS
    assert x[0, 0] == v + BOS and np.array_equal(x[0, 1:], c[0]) and np.array_equal(y[0], [*c[0], v + EOS])
    assert frames == c.shape[1]
    x, y, frames = TTSNAR(d)._example(0, 2, rng)  # [own prompt | SEP | rest], level 2 of the rest predicted
    assert np.array_equal(x[:, :p], c[:, :p]) and x[0, p] == v + SEP and (x[1:, p] == v + PAD).all()
    assert np.array_equal(x[:2, p + 1 :], c[:2, p:]) and (x[2:, p + 1 :] == v + PAD).all()
    assert (y[:, : p + 1] == IGNORE).all() and np.array_equal(y[2, p + 1 :], c[2, p:]) and frames == c.shape[1] - p
    assert (np.delete(y, 2, axis=0) == IGNORE).all()


def test_continuation_run_scores_exactly_what_it_says(manifest, tmp_path, monkeypatch):
    over = [*TINY[:-1], "metrics=[wer/test-rms, spk/test-rms]", "data.tts_mode=continuation", "train.val_every=4"]
    calls: list[tuple[str, list]] = []
    real = tts_mod.score_items

    def spy(name, items, log=print, groups=None):
        calls.append((name, items))
        return real(name, items, log, groups)

    monkeypatch.setattr(tts_mod, "score_items", spy)
    recs = run("tts", "test-rpq", "smoke", overrides=over, data_dir=tmp_path / "d", results_dir=tmp_path / "r",
               echo=lambda m: None)
    run_dir = next((tmp_path / "d" / "runs" / "tts" / preset_variant("smoke", over)).iterdir())
    ctx = _ctx(manifest, tmp_path, ["data.tts_mode=continuation"])
    by_metric = {}
    for name, items in calls:  # per metric: the "ar" items, the "ar+nar" items, then the clean reference
        by_metric.setdefault(name, []).append(items)
    assert [len(x) for x in by_metric.values()] == [3, 3]
    for (wer_items, spk_items), variant in zip(zip(by_metric["wer/test-rms"], by_metric["spk/test-rms"],
                                                  strict=True), ["ar", "ar+nar", "reference"], strict=True):
        for w, s in zip(wer_items, spk_items, strict=True):
            row = ctx.by_id[w.id]
            assert row["split"] == "test"
            p = prompt_split(ctx.cache.index[w.id][2], ctx.frames(0.5))
            cut = round(p / ctx.frame_rate * 16000)
            clean = ctx.load_audio(row, 16000)
            if variant == "reference":
                whole = clean
            else:  # the stored codes start with the item's own prompt codes, decoded as one waveform
                gen = np.load(run_dir / "gen" / variant / f"{w.id}.npy")
                own = ctx.cache.codes(w.id, gen.shape[0])[:, :p]
                assert np.array_equal(gen[:, :p], own) and gen.shape[1] > p
                whole = load(run_dir / "samples" / variant / f"{w.id}.wav", checks=None)[0]
            assert np.array_equal(w.audio, whole) and np.array_equal(w.ref_audio, clean)  # WER: prompt + continuation
            assert w.ref_text == row["text"]  # ... against the full text
            assert np.array_equal(s.audio, whole[cut:]) and np.array_equal(s.prompt_audio, clean[:cut])
            assert np.array_equal(s.ref_audio, clean[cut:])  # spk: the continuation alone, vs the own prompt
    scored = {r["metric"]: r["extra"]["scored_audio"] for r in recs if r["metric"].startswith(("wer", "spk"))}
    assert scored == {"wer@ar": "prompt+continuation", "wer@ar+nar": "prompt+continuation",
                      "spk@ar": "continuation", "spk@ar+nar": "continuation"}
    assert all(r["extra"]["tts_mode"] == "continuation" for r in recs)
    ready = {r["metric"]: r for r in recs if r["backend"]["name"] == "bench.lm_readiness"}
    assert set(ready) == {"nll_bps@ar", "nll_bps@nar", "ppl@level0", "ppl@level1", "ppl@level2", "ppl@level3"}
    for r in ready.values():
        assert r["kind"] == "task" and r["per_item"]["ids"] == VALID and r["data"]["subset"] == "valid:all"
        assert r["data"]["items"] == 4 and r["data"]["speakers"] == 2 and r["value"] > 0
        assert r["variant"]["decode"] == {"nll_bps@ar": "ar", "nll_bps@nar": "nar"}.get(r["metric"])
    curve = ready["nll_bps@ar"]["extra"]["train_curve"]
    assert curve["ar"]["val_step"] == [3, 7] and curve["nar"]["val_loss"] and len(curve["ar"]["loss"]) == 8


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
