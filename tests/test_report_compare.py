"""``bench compare``: paired differences with CIs and the right verdicts."""

from pathlib import Path

from typer.testing import CliRunner

from bench.cli import app
from bench.report.compare import compare
from bench.report.load import load_results

FIX = Path(__file__).parent / "fixtures"


def test_compare_pairs_items_and_names_the_winner():
    rows = {r["backend"]: r for r in compare(load_results(FIX).frame, "xcodec", "dac-16khz", "tts")}
    wer = rows["wer/faster-whisper-tiny.en"]
    assert wer["n_pairs"] == 20 and wer["ci_high"] < 0 and wer["verdict"] == "xcodec better"
    assert abs(wer["diff"] - (wer["a"] - wer["b"])) < 1e-9
    assert rows["spk/resemblyzer"]["verdict"] == "no significant difference"
    assert rows["fad/logmel"]["n_pairs"] == 0 and "not tested" in rows["fad/logmel"]["verdict"]
    assert "mos/dnsmos-ovrl" not in rows  # dac has no MOS: nothing to compare, not a zero


def test_compare_codec_eval_pairs_same_n_q_only():
    rows = compare(load_results(FIX).frame, "xcodec", "encodec-24khz", "codec", metric="pesq")
    assert sorted(r["n_q"] for r in rows) == [2, 4]


def test_cli_compare(tmp_path):
    r = CliRunner().invoke(app, ["compare", "xcodec", "encodec-24khz", "--task", "tts", "--results-dir", str(FIX)])
    assert r.exit_code == 0 and "xcodec − encodec-24khz" in r.output and "xcodec better" in r.output
    r = CliRunner().invoke(app, ["compare", "xcodec", "nope", "--task", "tts", "--results-dir", str(FIX)])
    assert r.exit_code == 1
