import json
import multiprocessing as mp

import pytest

from bench import results
from bench.results import RecordError


def _rec(i=0, **kw):
    base = dict(run_id=f"r{i}", kind="task", task="tts", codec="xcodec", preset="smoke", metric="wer",
                backend={"name": "wer/faster-whisper-tiny.en", "model": "tiny.en"}, value=0.1 * i, n=10,
                config_hash="abc", extra={"i": i})
    base.update(kw)
    return results.make_record(**base)


def test_make_record_fills_bookkeeping_and_round_trips(tmp_path):
    r = _rec(1)
    for k in ("git_sha", "hardware", "time", "schema_version"):
        assert r[k]
    p = results.append(tmp_path / "r.jsonl", [r, _rec(2)])
    back = results.load(p)
    assert back == [r, _rec(2) | {"time": back[1]["time"], "git_sha": back[1]["git_sha"]}]


@pytest.mark.parametrize(
    "mutate, msg",
    [
        (lambda r: r.pop("metric"), "missing field 'metric'"),
        (lambda r: r.update(n="ten"), "field 'n'"),
        (lambda r: r.update(schema_version=99), "schema_version 99"),
        (lambda r: r.update(surprise=1), "unknown fields"),
        (lambda r: r.update(value=float("nan")), "NaN"),
        (lambda r: r.update(backend={}), "backend has no 'name'"),
    ],
)
def test_validation_names_file_and_line(tmp_path, mutate, msg):
    good, bad = _rec(1), _rec(2)
    mutate(bad)
    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(RecordError) as e:
        results.load(p)
    assert f"{p}:2" in str(e.value) and msg in str(e.value)


def test_invalid_json_line_is_reported(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps(_rec(1)) + "\n{not json\n")
    with pytest.raises(RecordError, match=r"r.jsonl:2: not valid JSON"):
        results.load(p)


def _writer(path, wid, n):
    for i in range(n):
        results.append(path, [_rec(i, run_id=f"w{wid}-{i}", extra={"pad": "x" * 5000})])


def test_two_concurrent_writers_never_corrupt(tmp_path):
    p = tmp_path / "shared.jsonl"
    procs = [mp.get_context("fork").Process(target=_writer, args=(p, w, 40)) for w in range(2)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join()
        assert pr.exitcode == 0
    recs = results.load(p)
    assert len(recs) == 80
    assert {r["run_id"] for r in recs} == {f"w{w}-{i}" for w in range(2) for i in range(40)}


def test_torn_last_line_does_not_swallow_next_append(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps(_rec(1)) + "\n" + '{"partial": ')
    results.append(p, [_rec(2)])
    lines = p.read_text().splitlines()
    assert lines[1] == '{"partial": ' and json.loads(lines[2])["run_id"] == "r2"
    with pytest.raises(RecordError, match=":2: not valid JSON"):  # reported, never dropped silently
        results.load(p)
