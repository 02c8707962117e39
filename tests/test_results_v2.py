"""Records v2: typed fields, the v1 upgrade, one cell key for load/gate/compare, --set preset variants."""

import copy
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench import results
from bench.cli import app
from bench.config import preset_variant
from bench.report import gate
from bench.report.load import flatten, load_results
from bench.results import CELL_KEY, RecordError, make_record, upgrade_v1
from bench.tasks.runner import records_path, run_dir_of

ROOT = Path(__file__).resolve().parent.parent
V1_TASK = {
    "schema_version": 1, "run_id": "tts/smoke/xcodec-abc", "kind": "task", "task": "tts", "codec": "xcodec",
    "preset": "smoke", "metric": "wer@ar+nar", "backend": {"name": "wer/faster-whisper-tiny.en"}, "value": 0.5,
    "n": 2, "config_hash": "abc", "git_sha": "g", "hardware": "h", "time": "2025-01-01T00:00:00+00:00",
    "extra": {"variant": "ar+nar", "n_q": 4, "kbps": 2.0, "frame_rate": 50.0, "codebook_size": 1024,
              "codec_id": "cid", "codec_weights": "smoke-123", "budget_hash": "bh", "lm_ckpt": {"ar": "x"},
              "per_item": {"ids": ["a", "b"], "values": [0.25, 0.75]}},
}
CONTRACT_COLUMNS = ("data_hash", "test_set_hash", "budget_hash", "steps_reached", "stop_reason", "scorer_sig",
                    "aggregate", "ci_method", "n_speakers", "variant_preset", "per_item", "decode", "n_q")


def _v2(**kw) -> dict:
    fields = dict(run_id="r", kind="task", task="tts", codec="xcodec", preset="smoke", metric="wer@ar",
                  backend={"name": "wer/faster-whisper-tiny.en"}, value=0.2, n=2, config_hash="c",
                  variant={"decode": "ar", "n_q": 4, "base_preset": "smoke", "overrides": []},
                  data={"build_hash": "d" * 12, "test_set_hash": "t", "items": 2, "speakers": 2,
                        "subset": "stratified:seed=0,limit=2"},
                  budget={"hash": "b", "steps": 8, "steps_reached": 8, "stop_reason": "steps"},
                  scorer={"aggregate": "corpus", "ci": "cluster-bootstrap", "n_boot": 1000, "seed": 0, "items": 2,
                          "clusters": 2, "signature": "wer:x|agg:corpus"},
                  per_item={"ids": ["a", "b"], "values": [0.1, 0.3], "groups": ["s1", "s2"], "hyp": ["x", "y"],
                            "num": [1, 3], "den": [10, 10]})
    return make_record(**{**fields, **kw})


def test_upgrade_v1_moves_known_extra_keys_into_typed_fields():
    before = copy.deepcopy(V1_TASK)
    up = upgrade_v1(V1_TASK)
    assert V1_TASK == before  # pure
    assert up["schema_version"] == 2 and up["upgraded_from"] == 1
    assert up["variant"] == {"decode": "ar+nar", "n_q": 4, "base_preset": "smoke", "overrides": None}
    assert up["codec_facts"] == {"kbps": 2.0, "frame_rate": 50.0, "n_q": 4, "codebook_size": 1024, "origin": None,
                                 "teacher": None, "codec_id": "cid", "weights": "smoke-123"}
    assert up["budget"] == {"hash": "bh", "steps": None, "steps_reached": None, "stop_reason": None, "stages": None}
    assert up["per_item"] == V1_TASK["extra"]["per_item"] and up["data"] is None and up["scorer"] is None
    assert up["extra"] == {"lm_ckpt": {"ar": "x"}}  # what has no typed home stays
    results.validate(up)


def test_upgrade_reads_the_v1_codec_object_and_bitrate():
    rec = {**V1_TASK, "kind": "codec", "metric": "pesq@nq2",
           "extra": {"codec": {"bitrate": 1500, "n_codebooks": 2, "origin": "published"}, "clips": 36}}
    up = upgrade_v1(rec)
    assert up["codec_facts"]["kbps"] == 1.5 and up["variant"]["n_q"] == 2 and up["variant"]["decode"] is None
    assert up["codec_facts"]["origin"] == "published" and up["data"]["items"] == 36 and up["extra"] == {}


def test_committed_records_load_and_pass_their_baselines_and_v1_fixtures_upgrade():
    loaded = load_results(ROOT / "results")
    assert loaded.n_records > 0 and set(loaded.frame.schema_version) == {2}
    assert set(CONTRACT_COLUMNS) <= set(loaded.frame.columns)
    fixtures = load_results(ROOT / "tests" / "fixtures")  # hand-made v1 files: read as v2
    assert fixtures.n_records > 0 and set(fixtures.frame.upgraded_from) == {1}
    for path in sorted((ROOT / "results" / "baselines").glob("*.json")):
        r = CliRunner().invoke(app, ["check", "--against", str(path), "--results-dir", str(ROOT / "results")])
        assert r.exit_code == 0, r.output
        assert " 0 failing, 0 new" in r.output


def test_v2_record_round_trips_and_flattens_to_the_contract_columns(tmp_path):
    rec = _v2()
    assert rec["schema_version"] == 2 and "upgraded_from" not in rec
    p = results.append(tmp_path / "r.jsonl", [rec])
    assert results.load(p) == [rec]
    row = flatten(rec)
    assert (row["metric"], row["decode"], row["n_q"]) == ("wer", "ar", 4)
    assert row["data_hash"] == "d" * 12 and row["test_set_hash"] == "t" and row["n_speakers"] == 2
    assert (row["budget_hash"], row["steps_reached"], row["stop_reason"]) == ("b", 8, "steps")
    assert (row["scorer_sig"], row["aggregate"], row["ci_method"]) == ("wer:x|agg:corpus", "corpus",
                                                                        "cluster-bootstrap")
    assert row["variant_preset"] == "smoke" and row["per_item"]["groups"] == ["s1", "s2"]
    old = flatten(upgrade_v1(V1_TASK))
    assert all(old[k] is None for k in ("data_hash", "test_set_hash", "steps_reached", "scorer_sig", "n_speakers"))


@pytest.mark.parametrize("typed, msg", [
    ({"data": {"items": "two"}}, "data.items has type str"),
    ({"budget": {"hash": "b", "surprise": 1}}, "budget has unknown keys ['surprise']"),
    ({"per_item": {"ids": ["a", "b"], "values": [1, 2], "groups": ["s"]}}, "'groups' must be a list as long"),
    ({"per_item": {"ids": ["a"], "values": ["x"]}}, "not a number or null"),
])
def test_typed_fields_are_validated(typed, msg):
    with pytest.raises(RecordError, match=msg.replace("[", r"\[").replace("]", r"\]")):
        _v2(**typed)


def test_make_record_lifts_legacy_extra_keys():
    """Callers that still put per_item / n_q in extra (bench score, old code) get v2 records."""
    rec = make_record(run_id="r", kind="codec", task=None, codec="x", preset="smoke", metric="pesq@nq1",
                      backend={"name": "pesq/pesq-wb"}, value=1.0, n=1, config_hash="c",
                      extra={"n_q": 1, "kbps": 0.5, "per_item": {"ids": ["a"], "values": [1.0]}, "device": "cpu"})
    assert rec["per_item"] == {"ids": ["a"], "values": [1.0]} and rec["variant"]["n_q"] == 1
    assert rec["codec_facts"]["kbps"] == 0.5 and rec["extra"] == {"device": "cpu"}


def test_one_cell_key_supersedes_within_a_preset_variant_only(tmp_path):
    old, new = _v2(time="2025-01-01T00:00:00+00:00", value=0.2), _v2(time="2025-02-01T00:00:00+00:00", value=0.3)
    other = _v2(preset="smoke+set-1234abcd", value=0.9)
    p = tmp_path / "records/smoke/tts__xcodec.jsonl"
    p.parent.mkdir(parents=True)
    p.write_text("".join(json.dumps(r) + "\n" for r in (old, new, other)))
    loaded = load_results(tmp_path)
    assert loaded.superseded == 1 and sorted(loaded.frame.value) == [0.3, 0.9]
    row = loaded.frame[loaded.frame.preset == "smoke"].iloc[0].to_dict()
    assert gate.entry_key({**row, "n_q": 4}) == " | ".join(
        f"{k}={row[k] if k != 'n_q' else 4}" for k in CELL_KEY[1:] if row[k] is not None)


def test_set_overrides_get_their_own_preset_variant_and_folders(tmp_path):
    assert preset_variant("smoke") == "smoke" == preset_variant("smoke", [])
    a = preset_variant("smoke", ["train.steps=50", "lm.d_model=32"])
    assert a == preset_variant("smoke", ["lm.d_model=32", "train.steps=50"])  # order-free
    assert a.startswith("smoke+set-") and a != preset_variant("smoke", ["train.steps=51"])
    assert records_path(a, "tts", "x", tmp_path) != records_path("smoke", "tts", "x", tmp_path)
    from bench.tasks.config import load_task_config

    cfg = load_task_config("tts", "smoke", ["train.steps=50"])
    assert run_dir_of("tts", "x", a, cfg, tmp_path).parent.name == a


def test_budget_hash_is_of_what_trained():
    """Same preset, different steps reached: different hashes (the equal-budget check can fail)."""
    from bench.tasks import budget as B
    from bench.tasks.config import load_task_config
    from bench.tasks.tts import TTSTask

    cfg = load_task_config("tts", "smoke")
    shapes = TTSTask().shapes(cfg)
    n = B.budget(cfg, shapes)["n_params"]
    full = {s: {"n_params": n[s], "curve": {"step": [0, cfg.train.steps - 1]}} for s in shapes}
    short = {**full, "nar": {"n_params": n["nar"], "curve": {"step": [0, 49]}}}
    a, b = B.record(cfg, shapes, full), B.record(cfg, shapes, short)
    assert a["steps_reached"] == cfg.train.steps and a["stop_reason"] == "steps"
    assert b["steps_reached"] == 50 and b["stop_reason"] == "stopped-early" and a["hash"] != b["hash"]
    assert B.record(cfg, shapes, full)["hash"] == a["hash"]


def test_a_rerun_of_the_committed_smoke_tts_run_has_its_budget_hash():
    """Fields added to the train config later (guided attention, input noise, text dropout) sit at their neutral
    value in the smoke preset: the budget leaves them out, so a rerun is comparable with the committed record."""
    from bench.tasks import budget as B
    from bench.tasks.config import load_task_config
    from bench.tasks.tts import TTSTask

    rec = results.load(ROOT / "results" / "records" / "smoke" / "tts__xcodec.jsonl")[0]
    cfg = load_task_config("tts", "smoke")
    shapes = TTSTask().shapes(cfg)
    metas = {s: {"n_params": v["n_params"], "steps_reached": v["steps_reached"]}
             for s, v in rec["budget"]["stages"].items()}
    assert B.record(cfg, shapes, metas)["hash"] == rec["budget"]["hash"]
    assert "text_dropout" not in B.budget(cfg, shapes)["train"]
    dropped = load_task_config("tts", "smoke", ["train.text_dropout=0.1"])
    assert B.record(dropped, shapes, metas)["hash"] != rec["budget"]["hash"]  # a real change still counts
