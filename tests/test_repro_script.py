"""scripts/repro.py's comparison: which stage differs between two replicas, and by how much in the records."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("repro", Path(__file__).resolve().parent.parent / "scripts" / "repro.py")
repro = importlib.util.module_from_spec(spec)
spec.loader.exec_module(repro)


def _rep(codec_hash: str, value: float) -> dict:
    return {"data": {"a.flac": "1", "manifest.jsonl": "2"}, "codec": {"xcodec/w": codec_hash},
            "records": {"tts|xcodec|wer@ar|smoke": str(value)}, "_values": {"tts|xcodec|wer@ar|smoke": value}}


def test_identical_replicas_report_every_stage_identical():
    rows = repro.compare(_rep("h", 0.5), _rep("h", 0.5))
    assert [r["stage"] for r in rows] == ["data", "codec", "records"]
    assert all(r["identical"] and r["differ"] == 0 for r in rows)
    assert rows[-1]["max_abs_diff"] == 0.0


def test_a_differing_stage_and_the_size_of_a_record_difference_are_reported():
    rows = {r["stage"]: r for r in repro.compare(_rep("h1", 0.5), _rep("h2", 0.75))}
    assert rows["data"]["identical"]
    assert not rows["codec"]["identical"] and rows["codec"]["first_differences"] == ["xcodec/w"]
    assert rows["records"]["differ"] == 1 and rows["records"]["max_abs_diff"] == 0.25


def test_an_artefact_present_in_one_replica_only_differs():
    a, b = _rep("h", 0.5), _rep("h", 0.5)
    b["data"]["extra.flac"] = "3"
    rows = {r["stage"]: r for r in repro.compare(a, b)}
    assert rows["data"]["differ"] == 1 and rows["data"]["artefacts"] == 3


def test_file_digests_change_with_content(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"abc")
    d1 = repro._files(tmp_path, "*.npy")
    (tmp_path / "x.npy").write_bytes(b"abd")
    assert d1 != repro._files(tmp_path, "*.npy") and list(d1) == ["x.npy"]


def _script(name: str):
    s = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent.parent / "scripts" / f"{name}.py")
    m = importlib.util.module_from_spec(s)
    s.loader.exec_module(m)
    return m


def test_ci_tolerances_are_a_margin_over_the_largest_measured_difference_per_metric():
    ci = _script("ci_baseline")
    a = {**_rep("h", 0.5), "records": {"tts|xcodec|wer@ar|v": "1", "tts|reference|wer@ar|v": "2",
                                       "tts|xcodec|nll_bps@ar|v": "3", "tts|xcodec|spk@ar|v": "4",
                                       "tts|xcodec|ppl@level0|v": "5"},
         "_values": {"tts|xcodec|wer@ar|v": 0.9, "tts|reference|wer@ar|v": 0.5, "tts|xcodec|nll_bps@ar|v": 300.0,
                     "tts|xcodec|spk@ar|v": 0.7, "tts|xcodec|ppl@level0|v": 40.0}}
    b = {**a, "records": {**a["records"], "tts|xcodec|wer@ar|v": "x", "tts|reference|wer@ar|v": "y",
                          "tts|xcodec|nll_bps@ar|v": "z", "tts|xcodec|ppl@level0|v": "w"},
         "_values": {**a["_values"], "tts|xcodec|wer@ar|v": 1.1, "tts|reference|wer@ar|v": 0.45,
                     "tts|xcodec|nll_bps@ar|v": 300.0001, "tts|xcodec|ppl@level0|v": 42.0}}
    floors = ci.per_metric_floors({"stages": repro.compare(a, b)}, 3.0, 1e-3)
    assert floors["wer"]["abs_floor"] == 0.6  # 3 x the larger of 0.2 (xcodec) and 0.05 (reference)
    assert floors["nll_bps"]["abs_floor"] == 1e-3  # a tiny difference keeps the default floor
    assert "spk" not in floors  # identical in both replicas: no override
    assert floors["ppl@level0"]["abs_floor"] == 6.0  # a codebook level stays part of the metric's name
    assert set(floors) == {"wer", "nll_bps", "ppl@level0"}  # decode variants fold into their metric
    assert ci._sets("python scripts/repro.py --preset smoke --set train.steps=30 --set a=b") == ["train.steps=30",
                                                                                                  "a=b"]
