"""Regression gate: fails on an injected regression, passes on noise within tolerance, updates explicitly."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.report.gate import check, make_baseline, tolerance
from bench.report.load import load_results

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture
def results(tmp_path) -> Path:
    shutil.copytree(FIX / "records", tmp_path / "records")
    return tmp_path


def _edit(results: Path, file: str, backend: str, fn) -> None:
    """Apply ``fn`` to the newest record of ``backend`` in ``file`` (as a new run would rewrite it)."""
    p = results / "records/smoke" / file
    recs = [json.loads(x) for x in p.read_text().splitlines()]
    i = max(i for i, r in enumerate(recs) if r["backend"]["name"] == backend)
    fn(recs[i])
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))


def _baseline(results: Path) -> dict:
    return make_baseline(load_results(results).frame, "smoke")


def test_unchanged_records_pass(results):
    findings = check(load_results(results).frame, _baseline(results))
    assert findings and all(f.status == "ok" for f in findings)


def test_injected_regression_fails_and_noise_passes(results):
    base = _baseline(results)
    wer = next(e for e in base["entries"]
               if e["codec"] == "encodec-24khz" and e["backend"] == "wer/faster-whisper-base")
    tol = tolerance(wer, wer, base["tolerance"])
    assert tol > 0.02  # CI half-widths about 0.023 each, combined

    _edit(results, "tts__encodec-24khz.jsonl", "wer/faster-whisper-base",
          lambda r: r.update(value=r["value"] + tol / 2))
    assert all(f.status == "ok" for f in check(load_results(results).frame, base))

    _edit(results, "tts__encodec-24khz.jsonl", "wer/faster-whisper-base", lambda r: r.update(value=r["value"] + tol))
    bad = [f for f in check(load_results(results).frame, base) if f.failing]
    assert [f.status for f in bad] == ["regressed"] and "encodec-24khz" in bad[0].label


def test_improvement_missing_and_new_cells(results):
    base = _baseline(results)
    _edit(results, "tts__xcodec.jsonl", "mos/dnsmos-ovrl", lambda r: r.update(value=r["value"] + 1.0))
    (results / "records/smoke/music__xcodec.jsonl").unlink()
    _edit(results, "tts__dac-16khz.jsonl", "spk/resemblyzer", lambda r: r.update(run_id="x", task="sound"))
    got = {f.status for f in check(load_results(results).frame, base) if f.status != "ok"}
    assert got == {"improved", "missing", "new"}
    got = {f.status for f in check(load_results(results).frame, base, allow_improvements=True) if f.status != "ok"}
    assert got == {"missing", "new"}


def test_deterministic_metric_uses_floor(results):
    base = _baseline(results)
    fad = next(e for e in base["entries"] if e["task"] == "music" and e["codec"] == "xcodec")
    assert fad["ci_low"] is None and tolerance(fad, fad, base["tolerance"]) == pytest.approx(0.005 * 2.5)
    base["tolerance"]["per_metric"] = {"fad": {"abs_floor": 0.5}}
    _edit(results, "../smoke/music__xcodec.jsonl", "fad/logmel", lambda r: r.update(value=2.9))
    assert all(f.status == "ok" for f in check(load_results(results).frame, base))


def test_cli_check_update_then_fail_with_readable_diff(results):
    runner = CliRunner()
    bl = results / "baselines/smoke.json"
    r = runner.invoke(app, ["check", "--against", str(bl), "--results-dir", str(results)])
    assert r.exit_code == 2 and "--update" in r.output
    r = runner.invoke(app, ["check", "--against", str(bl), "--results-dir", str(results), "--update"])
    assert r.exit_code == 0 and bl.is_file()
    doc = json.loads(bl.read_text())
    assert doc["preset"] == "smoke" and all(e["codec"] for e in doc["entries"])
    before = bl.read_text()
    _edit(results, "tts__dac-16khz.jsonl", "wer/faster-whisper-tiny.en", lambda r: r.update(value=0.9))
    r = runner.invoke(app, ["check", "--against", str(bl), "--results-dir", str(results)])
    assert r.exit_code == 1, r.output
    assert "regressed" in r.output and "tts: dac-16khz (ar+nar) wer" in r.output and "0.5161 -> 0.9" in r.output
    assert bl.read_text() == before  # a failing check never touches the baseline


def test_a_cell_scored_another_way_is_incomparable_not_a_pass(results):
    """Same number, other scorer: the gate names the changed identity instead of comparing values."""
    base = _baseline(results)
    for e in base["entries"]:
        if e["backend"] == "wer/faster-whisper-tiny.en":
            e["scorer_sig"] = "wer:old|agg:mean"
    from bench.results import upgrade_v1

    def rescored(r: dict) -> None:
        v2 = upgrade_v1(r)
        v2["scorer"] = {k: None for k in ("ci", "n_boot", "seed", "items", "clusters")} | {
            "aggregate": "corpus", "signature": "wer:new|agg:corpus"}
        r.clear()
        r.update(v2)

    _edit(results, "tts__dac-16khz.jsonl", "wer/faster-whisper-tiny.en", rescored)
    findings = check(load_results(results).frame, base)
    bad = [f for f in findings if f.status == "incomparable"]
    assert len(bad) == 1 and "dac-16khz" in bad[0].label and "wer:old|agg:mean -> wer:new|agg:corpus" in bad[0].why
    assert bad[0].failing
