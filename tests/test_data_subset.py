"""Stratified test subsets: a limited test set covers every held-out voice, seeded and in manifest order."""

import json
from collections import Counter

import numpy as np

from bench.data import subset
from bench.data.subset import describe, stratified


def _rows(spk_sizes: dict[str, int]) -> list[dict]:
    return [{"id": f"{s}-{i}", "speaker": s} for s, n in spk_sizes.items() for i in range(n)]


def test_limited_subset_covers_every_voice_with_an_equal_share():
    rows = _rows({"m7": 12, "rms": 12, "slt": 12})  # manifest order: all of one voice first
    sub = stratified(rows, 6, "speaker")
    assert Counter(r["speaker"] for r in sub) == {"m7": 2, "rms": 2, "slt": 2}
    assert [rows.index(r) for r in sub] == sorted(rows.index(r) for r in sub)  # manifest order kept
    assert stratified(rows, 6, "speaker") == sub  # deterministic
    assert stratified(rows, 6, "speaker", seed=1) != sub  # the seed picks which
    uneven = stratified(_rows({"a": 1, "b": 10, "c": 10}), 7, "speaker")
    assert Counter(r["speaker"] for r in uneven) == {"a": 1, "b": 3, "c": 3}  # a small voice gives its share


def test_no_limit_or_no_grouping_field():
    rows = _rows({"a": 3, "b": 3})
    assert stratified(rows, 0, "speaker") == rows and stratified(rows, 10, "speaker") == rows
    plain = stratified([{"id": str(i)} for i in range(10)], 4, "speaker")  # no field: plain seeded sample
    assert len(plain) == 4 and len({r["id"] for r in plain}) == 4
    assert describe(6, 0) == "all" == describe(6, 6) and describe(36, 6) == "stratified:seed=0,limit=6"
    h = subset.test_set_hash
    assert h("d", ["b", "a"]) == h("d", ["a", "b"]) != h("e", ["a", "b"])


def test_eval_codec_limit_is_stratified_over_speakers(tmp_path, monkeypatch):
    import bench.data
    from bench.audio import write
    from bench.codec_eval import test_clips

    rows = []
    for spk in ("m7", "rms", "slt"):
        for i in range(4):
            rid = f"{spk}-{i}"
            write(tmp_path / f"{rid}.wav", np.zeros(1600, dtype=np.float32), 16000)
            rows.append({"id": rid, "path": f"{rid}.wav", "duration": 0.1, "sr": 16000, "split": "test",
                         "speaker": spk})
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(bench.data, "ensure_built", lambda recipe, preset, data_dir=None: tmp_path / "manifest.jsonl")
    clips, data = test_clips("smoke", limit=3)
    assert sorted(c["speaker"] for c in clips) == ["m7", "rms", "slt"]
    assert data["items"] == 3 and data["speakers"] == 3 and data["subset"] == "stratified:seed=0,limit=3"
    assert data["test_set_hash"] == subset.test_set_hash(data["build_hash"], [c["id"] for c in clips])
