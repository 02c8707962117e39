"""Schema validation on load: malformed records are rejected with file:line and a clear reason."""

import json
import shutil
from pathlib import Path

import pytest

from bench import results
from bench.report.load import load_results
from bench.results import RecordError

FIX = Path(__file__).parent / "fixtures"


def _good() -> dict:
    return json.loads((FIX / "records/smoke/tts__dac-16khz.jsonl").read_text().splitlines()[0])


@pytest.mark.parametrize(
    "mutate, msg",
    [
        (lambda r: r.pop("value"), "missing field 'value'"),
        (lambda r: r.update(schema_version=99), "schema_version 99"),
        (lambda r: r.update(ci_low=0.9, ci_high=0.1), "ci_low 0.9 > ci_high 0.1"),
        (lambda r: r.update(n=-1), "'n' is negative"),
        (lambda r: r["extra"].update(per_item={"ids": ["a", "b"], "values": [0.1]}), "equal length"),
        (lambda r: r["extra"].update(per_item={"ids": ["a", "a"], "values": [0.1, 0.2]}), "duplicate ids"),
        (lambda r: r["extra"].update(per_item={"ids": ["a"], "values": ["x"]}), "not a number or null"),
        (lambda r: r["extra"].update(per_item=[1, 2]), "'ids' and 'values'"),
    ],
)
def test_malformed_record_names_file_and_line(tmp_path, mutate, msg):
    bad = _good()
    mutate(bad)
    p = tmp_path / "records/smoke/tts__x.jsonl"
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps(_good()) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(RecordError) as e:
        load_results(tmp_path)
    assert f"{p}:3" in str(e.value) and msg in str(e.value)
    with pytest.raises(RecordError, match=msg):  # the foundation loader says the same
        results.load(p)


def test_every_bad_line_is_listed_and_skip_invalid_reports_them(tmp_path):
    shutil.copytree(FIX / "records", tmp_path / "records")
    p = tmp_path / "records/smoke/tts__dac-16khz.jsonl"
    p.write_text(p.read_text() + "{oops\n" + json.dumps({**_good(), "n": "many"}) + "\n")
    with pytest.raises(RecordError) as e:
        load_results(tmp_path)
    assert "2 malformed" in str(e.value) and "not valid JSON" in str(e.value) and "field 'n'" in str(e.value)
    loaded = load_results(tmp_path, skip_invalid=True)
    assert len(loaded.skipped) == 2 and all(str(p) in s for s in loaded.skipped)


def test_fixture_set_loads_and_newest_record_supersedes_older(tmp_path):
    loaded = load_results(FIX)
    assert loaded.superseded == 1 and loaded.n_records == len(loaded.frame) + 1
    wer = loaded.frame[(loaded.frame.codec == "xcodec") & (loaded.frame.backend == "wer/faster-whisper-tiny.en")
                       & (loaded.frame.decode == "ar+nar")]
    assert len(wer) == 1 and wer.iloc[0]["time"].startswith("2025")
    assert set(loaded.frame.preset) == {"smoke", "small"}
    assert set(load_results(FIX, preset="small").frame.preset) == {"small"}


def test_missing_results_dir_is_empty_not_an_error(tmp_path):
    loaded = load_results(tmp_path / "nothing")
    assert loaded.frame.empty and loaded.files == []
