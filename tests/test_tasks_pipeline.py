"""End to end over a fixture codec and manifest: tokenize, train, generate, decode, score, records;
a killed run resumes to the same records; a finished run is a no-op."""

import json

import numpy as np
import pytest
import torch
from lm_fixtures import ProjectionRVQ, make_manifest, register

import bench.data
from bench.config import preset_variant
from bench.results import load
from bench.tasks.lm.train import KILL_ENV
from bench.tasks.runner import records_path, run
from bench.tasks.tokens import TokenCache, tokenize_manifest

torch.set_num_threads(1)
TINY = ["lm.d_model=32", "lm.n_layers=1", "lm.n_heads=2", "train.steps=8", "train.batch_size=4",
        "train.ckpt_every=3", "train.warmup=2", "data.max_test_items=2", "data.max_gen_seconds=0.5",
        "data.min_gen_seconds=0.2", "data.prompt_seconds=0.5", "metrics=[wer/test-rms]"]
VARIANT = preset_variant("smoke", TINY)  # a --set run files under its own preset variant


@pytest.fixture
def manifest(tmp_path, monkeypatch):
    register()
    m = make_manifest(tmp_path / "ds")
    monkeypatch.setattr(bench.data, "ensure_built", lambda recipe, preset, data_dir=None, overrides=(): m)
    return m


def test_token_cache_round_trip_and_resume(manifest, tmp_path):
    codec = ProjectionRVQ()
    c = tokenize_manifest(codec, manifest, "speech", "t", data_dir=tmp_path / "d", log=lambda m: None)
    rows = [json.loads(x) for x in manifest.read_text().splitlines()]
    assert set(c.index) == {r["id"] for r in rows} and c.n_q == 8
    from bench.audio import load

    r = rows[0]
    wav = torch.from_numpy(load(manifest.parent / r["path"])[0])[None, None]
    expect = codec.encode(wav, n_q=8)[0].numpy()
    assert np.array_equal(c.codes(r["id"]), expect[:, : c.codes(r["id"]).shape[1]])
    assert c.codes(r["id"]).shape[1] == round(r["duration"] * 50)
    assert np.load(c.dir / "train.npy").dtype == np.int16
    again = tokenize_manifest(codec, manifest, "speech", "t", data_dir=tmp_path / "d", log=lambda m: None)
    assert again.dir == c.dir and TokenCache.open(c.dir).index == c.index


def _strip(recs):
    out = []
    for r in recs:
        r = {k: v for k, v in r.items() if k not in ("time",)}
        r["extra"] = {k: v for k, v in r["extra"].items() if k != "wall_s"}
        out.append(r)
    return out


def test_tts_run_kill_resume_matches_uninterrupted(manifest, tmp_path, monkeypatch):
    kw = dict(overrides=TINY, data_dir=tmp_path / "a", results_dir=tmp_path / "ra", echo=lambda m: None)
    preset_file = records_path("smoke", "tts", "test-rpq", tmp_path / "ra")
    preset_file.parent.mkdir(parents=True)
    preset_file.write_text("the preset's own records\n")
    recs = run("tts", "test-rpq", "smoke", **kw)
    assert preset_file.read_text() == "the preset's own records\n"  # a --set run never writes over them
    assert load(records_path(VARIANT, "tts", "test-rpq", tmp_path / "ra")) == recs
    metrics = {r["metric"] for r in recs}
    assert metrics == {"wer@ar", "wer@ar+nar"}
    assert all(r["n"] == 2 and r["value"] is not None for r in recs)
    ref = json.loads(records_path(VARIANT, "tts", "reference", tmp_path / "ra").read_text().splitlines()[0])
    assert ref["kind"] == "reference" and ref["codec"] == "reference"
    assert ref["data"] == recs[0]["data"] and ref["budget"] is None and ref["variant"]["n_q"] is None
    run_dir = next((tmp_path / "a" / "runs" / "tts" / VARIANT).iterdir())
    assert (run_dir / "samples" / "ar" ).is_dir() and len(list((run_dir / "samples" / "ar+nar").glob("*.wav"))) == 2
    assert (run_dir / "config.yaml").is_file() and (run_dir / "scores.jsonl").is_file()
    # a finished run is a no-op
    assert _strip(run("tts", "test-rpq", "smoke", **kw)) == _strip(recs)

    kw2 = dict(overrides=TINY, data_dir=tmp_path / "b", results_dir=tmp_path / "rb", echo=lambda m: None)
    monkeypatch.setenv(KILL_ENV, "nar:5")
    with pytest.raises(KeyboardInterrupt):
        run("tts", "test-rpq", "smoke", **kw2)
    monkeypatch.delenv(KILL_ENV)
    resumed = run("tts", "test-rpq", "smoke", **kw2)
    assert _strip(resumed) == _strip(recs)

    # kill point "LM between its final weights and its summary": <stage>.final.pt written, train.json not
    kw3 = dict(overrides=TINY, data_dir=tmp_path / "c", results_dir=tmp_path / "rc", echo=lambda m: None)
    assert run("tts", "test-rpq", "smoke", until="train", **kw3) == []
    run_dir = next((tmp_path / "c" / "runs" / "tts" / VARIANT).iterdir())
    for stage in ("ar", "nar"):
        assert (run_dir / f"{stage}.final.pt").is_file()
        (run_dir / f"{stage}.train.json").unlink()
    assert _strip(run("tts", "test-rpq", "smoke", **kw3)) == _strip(recs)


def _check_typed_fields(recs):
    """Typed v2 fields: the preset variant, the stratified test set, steps reached, speakers as clusters."""
    r = next(x for x in recs if x["metric"] == "wer@ar")
    assert r["schema_version"] == 2 and r["preset"] == VARIANT and VARIANT.startswith("smoke+set-")
    assert r["variant"] == {"decode": "ar", "n_q": 4, "base_preset": "smoke", "overrides": TINY}
    assert r["data"]["items"] == 2 and r["data"]["speakers"] == 1  # the fixture has one held-out voice
    assert r["data"]["subset"] == "stratified:seed=0,limit=2" and len(r["data"]["build_hash"]) == 12
    assert r["budget"]["steps"] == r["budget"]["steps_reached"] == 8 and r["budget"]["stop_reason"] == "steps"
    assert set(r["budget"]["stages"]) == {"ar", "nar"} and r["budget"]["hash"]
    assert r["per_item"]["groups"] == ["spkT", "spkT"] and len(r["per_item"]["ids"]) == 2
    assert r["codec_facts"]["n_q"] == 4 and r["codec_facts"]["origin"] == "published"
    assert r["scorer"]["items"] == 2 and r["scorer"]["clusters"] == 1  # one voice: items are resampled
    assert r["scorer"]["ci"] == "item-bootstrap" and r["scorer"]["signature"].startswith("wer:test-rms|")


def test_music_and_sound_run(manifest, tmp_path):
    for task in ("music", "sound"):
        over = [o for o in TINY if not o.startswith("data.prompt")]
        over += ["data.gen_seconds=0.4", "data.prompt_seconds=0.3"]
        recs = run(task, "test-rpq", "smoke", overrides=over, data_dir=tmp_path / "d", results_dir=tmp_path / "r",
                   echo=lambda m: None)
        assert [r["metric"] for r in recs] == ["wer"] and recs[0]["n"] > 0


@pytest.mark.slow
def test_ddp_two_cpu_processes(manifest, tmp_path):
    """`bench run --nproc 2`: torchrun launches 2 gloo processes; the run completes with checkpoints and records."""
    recs = run("tts", "test-rpq", "smoke", overrides=TINY, data_dir=tmp_path / "d", results_dir=tmp_path / "r",
               nproc=2, echo=lambda m: None)
    run_dir = next((tmp_path / "d" / "runs" / "tts" / VARIANT).iterdir())
    meta = json.loads((run_dir / "ar.train.json").read_text())
    assert meta["world_size"] == 2 and meta["steps"] == 8
    assert {r["metric"] for r in recs} == {"wer@ar", "wer@ar+nar"}


def test_split_gpu_half_then_score_here(manifest, tmp_path):
    """--until generate (the GPU half), then without the LM checkpoints the rerun decodes and scores."""
    kw = dict(overrides=TINY, data_dir=tmp_path / "d", results_dir=tmp_path / "r", echo=lambda m: None)
    assert run("tts", "test-rpq", "smoke", until="generate", **kw) == []
    run_dir = next((tmp_path / "d" / "runs" / "tts" / VARIANT).iterdir())
    assert not (run_dir / "done.json").exists()
    for p in run_dir.glob("*.final.pt"):
        p.unlink()
    recs = run("tts", "test-rpq", "smoke", **kw)
    assert {r["metric"] for r in recs} == {"wer@ar", "wer@ar+nar"} and len(recs[0]["extra"]["lm_ckpt"]) == 2
    _check_typed_fields(recs)  # steps reached come from the train.json files, not the deleted checkpoints


def test_tokens_of_a_collapsed_codebook_are_flagged_before_training(manifest, tmp_path):
    class Collapsed(ProjectionRVQ):
        name = "collapsed-fixture"

        def encode(self, wav, n_q=None):
            codes = super().encode(wav, n_q)
            codes[:, 0] = 7  # every frame on one level-1 code; the other levels keep varying
            return codes

    said: list[str] = []
    healthy = tokenize_manifest(ProjectionRVQ(), manifest, "speech", "t", data_dir=tmp_path / "d", log=said.append)
    assert healthy.level1_perplexity() > 4 and not any("warning" in m for m in said)
    said.clear()
    c = tokenize_manifest(Collapsed(), manifest, "speech", "t", data_dir=tmp_path / "d", log=said.append)
    assert c.level1_perplexity() == 1.0
    assert any(m.startswith("warning: collapsed-fixture tokens: level-1 perplexity 1.00 < 4") for m in said)
    said.clear()
    tokenize_manifest(Collapsed(), manifest, "speech", "t", data_dir=tmp_path / "d", log=said.append)  # cached
    assert said[0].startswith("tokens: cached") and any("warning" in m for m in said)
