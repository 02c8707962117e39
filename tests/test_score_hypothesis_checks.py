"""`bench score` checks every hypothesis before scoring (issue #18): a bad file is dropped with its reason, named
in the records and on the console, and left out of n; the good file beside it is scored with the right value."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

SR = 16000


@pytest.fixture(autouse=True)
def _isolated_data(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))


def _tone(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    amp, freq, phase = rng.uniform(0.05, 0.2, 4), rng.uniform(100, 3000, 4), rng.uniform(0, 6, 4)
    x = sum(amp[k] * np.sin(2 * np.pi * freq[k] * t + phase[k]) for k in range(4))
    return (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _noisy(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    n = np.random.default_rng(100 + seed).standard_normal(len(x))
    n *= np.sqrt(np.mean(x**2) / np.mean(n**2)) * 10 ** (-snr_db / 20)
    return (x + n).astype(np.float32)


@pytest.fixture
def case(tmp_path):
    """A manifest of two 1 s clips at 16 kHz ('good', 'bad') and a hypothesis folder holding a good 'good'."""
    from bench.audio import write

    root, hyp = tmp_path / "ds", tmp_path / "hyp"
    refs = {}
    for i, uid in enumerate(["good", "bad"]):
        refs[uid] = _tone(1.0, i)
        write(root / "audio" / f"{uid}.wav", refs[uid], SR)
    rows = [{"id": u, "path": f"audio/{u}.wav", "duration": 1.0, "sr": SR, "split": "test"} for u in refs]
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write(hyp / "good.wav", _noisy(refs["good"], 15, 0), SR)
    return root / "manifest.jsonl", hyp, refs


def _expected_sisdr(manifest, hyp) -> float:
    from bench.audio import load
    from bench.metrics.signal import si_sdr

    return si_sdr(load(hyp / "good.wav", checks=None)[0], load(manifest.parent / "audio" / "good.wav", checks=None)[0])


def _float_wav(path, x, sr=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(x, dtype=np.float32), sr, subtype="FLOAT")  # keeps NaN/Inf (bench's writer clips)


def _with_nan(refs, hyp):
    x = refs["bad"].copy()
    x[100] = np.nan
    _float_wav(hyp / "bad.wav", x)


def _with_inf(refs, hyp):
    x = refs["bad"].copy()
    x[100] = np.inf
    _float_wav(hyp / "bad.wav", x)


def _silent(refs, hyp):
    lsb = np.random.default_rng(0).choice([-1.0, 0.0, 1.0], SR) / 2**15  # +-1 LSB of 16-bit hiss: RMS -95 dBFS
    _float_wav(hyp / "bad.wav", lsb)


def _wrong_rate(refs, hyp):
    from bench.audio import resample, write

    write(hyp / "bad.wav", resample(refs["bad"], SR, 8000), 8000)  # the right audio at 8 kHz


def _ten_ms(refs, hyp):
    from bench.audio import write

    write(hyp / "bad.wav", refs["bad"][: SR // 100], SR)


def _short(refs, hyp):
    from bench.audio import write

    write(hyp / "bad.wav", refs["bad"][: int(0.7 * SR)], SR)  # 0.3 s short of a 1 s reference (tolerance 0.1 s)


def _long(refs, hyp):
    from bench.audio import write

    write(hyp / "bad.wav", np.tile(refs["bad"], 10), SR)  # 10 s for a 1 s reference


def _missing(refs, hyp):
    pass


def _extra(refs, hyp):
    from bench.audio import write

    write(hyp / "stray.wav", refs["bad"], SR)  # no manifest id 'stray'; 'bad' is then also missing


def _corrupt(refs, hyp):
    (hyp / "bad.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot audio at all" * 3)


def _truncated(refs, hyp):
    from bench.audio import write

    write(hyp / "bad.wav", refs["bad"], SR)
    data = (hyp / "bad.wav").read_bytes()
    (hyp / "bad.wav").write_bytes(data[: len(data) // 2])  # the header still declares the whole data chunk


# kind -> (make the bad file, {reason: [ids]} expected in the record, words expected in the detail)
KINDS = {
    "nan": (_with_nan, {"non_finite": ["bad"]}, "NaN or Inf"),
    "inf": (_with_inf, {"non_finite": ["bad"]}, "NaN or Inf"),
    "silent": (_silent, {"silent": ["bad"]}, "all silent"),
    "wrong_rate": (_wrong_rate, {"sample_rate": ["bad"]}, "8000 Hz, manifest rate 16000 Hz"),
    "ten_ms": (_ten_ms, {"too_short": ["bad"]}, "too short (0.010 s"),
    "too_short": (_short, {"too_short": ["bad"]}, "0.700 s vs reference 1.000 s"),
    "too_long": (_long, {"too_long": ["bad"]}, "10.000 s vs reference 1.000 s"),
    "missing": (_missing, {"missing": ["bad"]}, "no bad"),
    "extra": (_extra, {"missing": ["bad"], "extra": ["stray"]}, "matches no manifest id"),
    "corrupt": (_corrupt, {"unreadable": ["bad"]}, "not decodable"),
    "truncated": (_truncated, {"unreadable": ["bad"]}, "truncated"),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_bad_hypothesis_is_dropped_and_good_one_scored(kind, case, monkeypatch):
    import bench.audio
    from bench.metrics.folder import score_folder

    manifest, hyp, refs = case
    make, want, words = KINDS[kind]
    make(refs, hyp)
    resampled = []
    real = bench.audio.resample
    monkeypatch.setattr(bench.audio, "resample", lambda x, a, b: resampled.append((a, b)) or real(x, a, b))
    [rec] = score_folder("sisdr", manifest, hyp, codec="c")
    assert rec["extra"]["dropped"] == want
    assert rec["extra"]["n_dropped"] == {k: len(v) for k, v in want.items()}
    assert any(words in d for d in rec["extra"]["dropped_why"].values()), rec["extra"]["dropped_why"]
    # only the good file is scored, and scored right
    assert rec["n"] == 1 and rec["per_item"]["ids"] == ["good"]
    assert rec["value"] == pytest.approx(_expected_sisdr(manifest, hyp), abs=1e-3) and 14 < rec["value"] < 16
    assert resampled == []  # nothing (the reference above all) was resampled to a hypothesis's rate


def test_console_lists_drops_and_records_validate(case, tmp_path):
    from typer.testing import CliRunner

    from bench.cli import app
    from bench.results import load

    manifest, hyp, refs = case
    _wrong_rate(refs, hyp)
    out = tmp_path / "rec.jsonl"
    res = CliRunner().invoke(app, ["score", "--metric", "sisdr,mel", "--ref", str(manifest), "--hyp-dir", str(hyp),
                                   "--out", str(out)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "1 dropped" in res.output and "sample_rate" in res.output and "8000 Hz" in res.output
    recs = load(out)  # validated on load
    assert [r["metric"] for r in recs] == ["sisdr", "mel"]
    assert all(r["n"] == 1 and r["extra"]["dropped"] == {"sample_rate": ["bad"]} for r in recs)


def test_nothing_left_to_score_is_an_error(case):
    from typer.testing import CliRunner

    from bench.cli import app

    manifest, hyp, refs = case
    _silent(refs, hyp)
    (hyp / "good.wav").write_bytes(b"junk")
    res = CliRunner().invoke(app, ["score", "--metric", "sisdr", "--ref", str(manifest), "--hyp-dir", str(hyp)],
                             env={"COLUMNS": "200"})
    out = res.output.replace("\n", "")
    assert res.exit_code == 2 and "nothing left to score" in out
    assert "unreadable 1 (good)" in out and "silent 1 (bad)" in out


def test_no_reference_metrics_skip_the_length_check(case):
    """WER/MOS compare no samples with the reference: a long output is charged by the metric, not dropped."""
    from bench.data.manifest import read_manifest
    from bench.metrics.folder import check_hypotheses

    manifest, hyp, refs = case
    _long(refs, hyp)
    rows = read_manifest(manifest)
    kept, dropped = check_hypotheses(rows, hyp, manifest, with_ref=False, check_length=False)
    assert [k.row["id"] for k in kept] == ["good", "bad"] and dropped == {} and kept[1].ref is None
    kept, dropped = check_hypotheses(rows, hyp, manifest, with_ref=False, check_length=True)
    assert [k.row["id"] for k in kept] == ["good"] and list(dropped) == ["too_long"]
