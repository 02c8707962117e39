"""The leaderboard of a fixed record set matches a golden file; grouping, bolding and None rules."""

import json
import os
import shutil
from pathlib import Path

import pytest

from bench.report.build import write_report
from bench.report.load import load_results
from bench.report.tables import build_sections

FIX = Path(__file__).parent / "fixtures"
GOLDEN = FIX / "golden/leaderboard_fixtures.md"


def _render(tmp_path, **kw) -> str:
    out = write_report(FIX, out=tmp_path / "LB.md", plots=False, date="2025-01-02",
                       command="bench report --results-dir tests/fixtures", **kw)
    return out.read_text()


def test_report_matches_golden(tmp_path):
    text = _render(tmp_path)
    if os.environ.get("BENCH_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "leaderboard changed; review and rerun with BENCH_UPDATE_GOLDEN=1"


def _table(preset, kind, name):
    s = next(s for s in build_sections(load_results(FIX).frame) if s.preset == preset)
    return next(t for t in s.tables if (t.kind, t.name) == (kind, name))


def test_bold_only_when_the_best_beats_every_other_codec_after_holm():
    t = _table("smoke", "task", "tts")
    col = {c.backend: c for c in t.columns}
    row = {(r.codec, r.decode): r for r in t.rows}
    wer = col["wer/faster-whisper-tiny.en"].key
    assert row[("xcodec", "ar+nar")].cells[wer].bold  # 0.15 against 0.45 and 0.50: clear
    spk = col["spk/resemblyzer"].key
    spk_tests = [c for c in t.contrasts if c.column.key == spk]
    assert spk_tests and not all(c.significant(t.alpha) for c in spk_tests)  # speaker sim: near ties
    assert not any(r.cells[spk].bold for r in t.rows if spk in r.cells)
    fad = next(c.key for c in t.columns if c.backend == "fad/logmel")
    assert all(c.diff is None for c in t.contrasts if c.column.key == fad)  # no per-item values: not tested
    assert not any(r.cells[fad].bold for r in t.rows if fad in r.cells)
    assert not t.rows[0].cells[wer].bold  # the reference is never "best"
    assert all(c.a.codec != c.b.codec for c in t.contrasts)  # never xcodec against xcodec


def test_mean_rank_is_none_for_partial_coverage():
    t = _table("smoke", "task", "tts")
    ranks = {(r.codec, r.decode): r.mean_rank for r in t.rows}
    assert ranks[("dac-16khz", "ar+nar")] is None  # no MOS
    assert ranks[("xcodec", "ar")] is None  # WER only
    assert ranks[("reference", None)] is None
    assert ranks[("xcodec", "ar+nar")] is not None and ranks[("encodec-24khz", "ar+nar")] is not None


def test_presets_and_backends_are_never_mixed(tmp_path):
    text = _render(tmp_path)
    assert text.index("## Preset `smoke`") < text.index("## Preset `small`")
    small = text.split("## Preset `small`")[1]
    assert "0.109" in small and "0.175" not in small
    t = _table("smoke", "task", "tts")
    assert len({c.backend for c in t.columns if c.metric == "wer"}) == 2  # two WER backends, two columns


def test_same_backend_name_with_two_identities_gets_two_columns(tmp_path):
    shutil.copytree(FIX / "records", tmp_path / "records")
    p = tmp_path / "records/smoke/tts__dac-16khz.jsonl"
    lines = p.read_text().splitlines()
    r = json.loads(lines[0])
    r["backend"]["version"] = "2.0.0"
    p.write_text("\n".join(lines + [json.dumps(r)]) + "\n")
    s = next(s for s in build_sections(load_results(tmp_path).frame) if s.preset == "smoke")
    t = next(t for t in s.tables if t.name == "tts")
    labels = [c.label for c in t.columns if c.backend == "wer/faster-whisper-tiny.en"]
    assert len(labels) == 2 and any("v2.0.0" in x for x in labels) and any("v1.1.0" in x for x in labels)


@pytest.mark.parametrize("fmt", ["csv", "json", "html"])
def test_other_formats(tmp_path, fmt):
    out = write_report(FIX, fmt=fmt, out=tmp_path / f"LB.{fmt}", plots=False, date="2025-01-02")
    text = out.read_text()
    if fmt == "csv":
        import pandas as pd

        df = pd.read_csv(out)
        assert len(df) == len(load_results(FIX).frame) and {"codec", "value", "ci_low", "backend_id"} <= set(df)
    elif fmt == "json":
        doc = json.loads(text)
        assert [s["preset"] for s in doc["sections"]] == ["smoke", "small"]
    else:
        assert text.count("<table>") >= 4 and "<b>" in text and "p (Holm)" in text  # tables, then contrasts


def test_partial_and_empty_results(tmp_path):
    (tmp_path / "records/smoke").mkdir(parents=True)
    shutil.copy(FIX / "records/smoke/music__xcodec.jsonl", tmp_path / "records/smoke/")
    text = write_report(tmp_path, plots=True, date="d").read_text()
    assert "Task `music`" in text and "tts" not in text
    empty = write_report(tmp_path / "none", plots=True, date="d").read_text()
    assert "No records found" in empty


def _diag(codec: str, metric: str, value: float, time: str) -> dict:
    from bench.results import make_record

    return make_record(backend={"name": "bench.codec_eval"}, codec=codec, config_hash="c", kind="codec",
                       metric=metric, value=value, n=20, preset="smoke", run_id=f"codec-eval-{codec}", task=None,
                       time=time, higher_is_better=None, extra={"level": 1})


def test_collapsed_codebooks_are_flagged_beside_their_numbers(tmp_path):
    """Level-1 perplexity from eval-codec's bookkeeping records: a codec under the threshold is marked
    collapsed in a codebook-use table and under every table it has rows in; the newest record counts."""
    from bench.codec_eval import COLLAPSED_PERPLEXITY

    shutil.copytree(FIX / "records", tmp_path / "records")
    recs = [_diag("xcodec", "perplexity@level1", 250.0, "2025-01-01T00:00:00+00:00"),
            _diag("xcodec", "usage@level1", 0.5, "2025-01-01T00:00:00+00:00"),
            _diag("encodec-24khz", "perplexity@level1", 300.0, "2025-01-01T00:00:00+00:00"),
            _diag("encodec-24khz", "perplexity@level1", COLLAPSED_PERPLEXITY - 2.9, "2025-01-03T00:00:00+00:00")]
    (tmp_path / "records/smoke/codec_stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    s = next(s for s in build_sections(load_results(tmp_path).frame) if s.preset == "smoke")
    assert [(c.codec, c.perplexity, c.usage, c.collapsed) for c in s.codebooks] == [
        ("encodec-24khz", COLLAPSED_PERPLEXITY - 2.9, None, True), ("xcodec", 250.0, 0.5, False)]
    text = write_report(tmp_path, plots=False, date="d").read_text()
    smoke = text.split("## Preset `small`")[0]
    assert "| encodec-24khz | 1.100 | — | 20 | **collapsed** |" in smoke
    assert "| xcodec | 250.0 | 50.0% | 20 | ok |" in smoke
    note = "**Collapsed codebooks:** `encodec-24khz` (level-1 perplexity 1.100)"
    # encodec-24khz has rows in the smoke codec, music and tts tables: the note sits under each of them
    assert smoke.count(note) == 3
    assert "Collapsed" not in text.split("## Preset `small`")[1]  # the small section has no such codec
    doc = json.loads(write_report(tmp_path, fmt="json", plots=False, date="d").read_text())
    smoke_doc = next(x for x in doc["sections"] if x["preset"] == "smoke")
    assert [c["collapsed"] for c in smoke_doc["codebooks"]] == [True, False]
    assert [c["state"] for c in smoke_doc["codebooks"]] == ["collapsed", "ok"]


def test_a_low_codebook_without_task_rows_is_named_as_the_reason_no_lm_ran(tmp_path):
    """Under the healthy perplexity a codec is "low"; one with no task rows is named under the codebook table
    with its perplexity (issue #16: a peer's LMs run only above it). A low codec with task rows is not."""
    from bench.codec_eval import HEALTHY_PERPLEXITY, health

    assert [health(p) for p in (1.0, 3.99, 4.0, HEALTHY_PERPLEXITY - 0.1, HEALTHY_PERPLEXITY, 500.0)] == [
        "collapsed", "collapsed", "low", "low", "ok", "ok"]
    shutil.copytree(FIX / "records", tmp_path / "records")
    recs = [_diag("dac@here", "perplexity@level1", 12.5, "2025-01-01T00:00:00+00:00"),
            _diag("xcodec", "perplexity@level1", 20.0, "2025-01-01T00:00:00+00:00"),
            _diag("encodec@here", "perplexity@level1", 80.0, "2025-01-01T00:00:00+00:00")]
    (tmp_path / "records/smoke/codec_stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    smoke = write_report(tmp_path, plots=False, date="d").read_text().split("## Preset `small`")[0]
    assert "| dac@here | 12.50 | — | 20 | low |" in smoke and "| encodec@here | 80.00 | — | 20 | ok |" in smoke
    note = next(x for x in smoke.splitlines() if x.startswith("No task LM was trained over"))
    assert "`dac@here` (12.50, low)" in note
    assert "xcodec" not in note and "encodec@here" not in note  # xcodec has task rows; encodec@here is healthy
    assert smoke.count("No task LM was trained over") == 1


@pytest.mark.slow  # several seconds (issue #14: the default suite stays fast); CI runs it
def test_two_reports_at_once_both_write_their_figures(tmp_path):
    """Plot files are written through unique temp names: two concurrent `bench report` never collide."""
    import subprocess
    import sys

    shutil.copytree(FIX / "records", tmp_path / "records")
    bench = str(Path(sys.executable).parent / "bench")
    procs = [subprocess.Popen([bench, "report", "--results-dir", str(tmp_path), "--out", str(tmp_path / f"LB{i}.md")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert list((tmp_path / "plots").glob("**/*.png"))
    assert not list((tmp_path / "plots").glob("**/.*"))  # no orphan temp files
