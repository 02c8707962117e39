"""Records shaped as the task runner writes them today: ``metric@variant``, ``extra.variant``, reference rows,
per-item values in ``<run dir>/scores.jsonl`` and training curves in TensorBoard."""

import json
from pathlib import Path

import pytest

from bench.report.build import write_report
from bench.report.load import load_results
from bench.report.tables import build_sections
from bench.results import make_record

IDS = ["a", "b", "c", "d", "e", "f"]


def _rec(codec, kind, metric, variant, value, run_id):
    hib = metric.startswith("spk")
    backend = "wer/faster-whisper-tiny.en" if metric.startswith("wer") else "spk/resemblyzer"
    return make_record(run_id=run_id, kind=kind, task="tts", codec=codec, preset="smoke", metric=metric,
                       backend={"name": backend},
                       value=value, n=6, ci_low=value - 0.01, ci_high=value + 0.01, higher_is_better=hib,
                       config_hash="h", extra={"variant": variant, "kbps": 1.5, "frame_rate": 50.0, "n_q": 2})


def _write_tb(path: Path, losses: list[float]) -> None:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    w = EventFileWriter(str(path))
    for step, v in enumerate(losses):
        w.add_event(Event(step=step * 10, wall_time=0.0, summary=Summary(value=[Summary.Value(tag="loss",
                                                                                             simple_value=v)])))
    w.close()


@pytest.fixture
def roots(tmp_path):
    res, data = tmp_path / "results", tmp_path / "data"
    recs = {"xcodec": [], "encodec-24khz": [], "reference": []}
    for codec, wer in (("xcodec", 0.2), ("encodec-24khz", 0.6)):
        rid = f"tts/smoke/{codec}-h"
        for v in ("ar", "ar+nar"):
            recs[codec].append(_rec(codec, "task", f"wer@{v}", v, wer, rid))
        run = data / "runs" / rid
        run.mkdir(parents=True)
        rows = [{"id": i, "wer/faster-whisper-tiny.en@ar": wer + 0.01 * k, "wer/faster-whisper-tiny.en@ar+nar": wer,
                 "wer/faster-whisper-tiny.en@reference": 0.05} for k, i in enumerate(IDS)]
        (run / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        _write_tb(run / "tb" / "ar", [5.0, 4.0, 3.5, 3.2])
        _write_tb(run / "tb" / "nar", [4.0, 3.0, 2.5, 2.4])
    for v in ("ar", "ar+nar"):
        recs["reference"].append(_rec("reference", "reference", f"wer@{v}", "reference", 0.05, "tts/smoke/reference-h"))
    for codec, rs in recs.items():
        p = res / "records/smoke" / f"tts__{codec}.jsonl"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("".join(json.dumps(r) + "\n" for r in rs))
    return res, data


def test_variant_suffix_becomes_decode_and_reference_is_one_row(roots):
    res, data = roots
    frame = load_results(res, data_root=data).frame
    assert set(frame.metric) == {"wer"} and set(frame.decode.dropna()) == {"ar", "ar+nar"}
    t = build_sections(frame)[0].tables[0]
    labels = [(r.codec, r.decode) for r in t.rows]
    assert labels.count(("reference", None)) == 1 and ("xcodec", "ar") in labels and ("xcodec", "ar+nar") in labels


def test_side_file_per_item_values_enable_significance(roots):
    res, data = roots
    frame = load_results(res, data_root=data).frame
    x = frame[(frame.codec == "xcodec") & (frame.decode == "ar")].iloc[0]
    assert x.per_item["ids"] == IDS and x.per_item["values"][1] == pytest.approx(0.21)
    ref = frame[frame.codec == "reference"].iloc[0]
    assert ref.per_item["values"] == [0.05] * 6
    assert load_results(res).frame.per_item.isna().all()  # without the data root: no side files, no pairing


def test_report_draws_tensorboard_curves(roots):
    res, data = roots
    text = write_report(res, date="d", data_root=data).read_text()
    assert "plots/smoke/train_tts.png" in text and (res / "plots/smoke/train_tts.png").stat().st_size > 10_000
    assert "| xcodec (ar) − encodec-24khz (ar) | vs best |" in text  # the planned contrast names the variants


def test_codec_eval_records_as_bench_codec_eval_writes_them(tmp_path):
    def rec(codec, kind, metric, value, extra, backend="pesq/pesq-wb", hib=True):
        return make_record(run_id="ce", kind=kind, task=None, codec=codec, preset="smoke", metric=metric,
                           backend={"name": backend}, value=value, n=4, higher_is_better=hib, config_hash="c",
                           extra=extra)

    recs = [rec("xcodec", "codec", f"pesq@nq{k}", 1.0 + k, {"n_q": k, "kbps": 0.5 * k, "origin": "trained-here"})
            for k in (1, 2)]
    recs += [rec("xcodec", "codec", "kbps@nq1", 0.5, {"n_q": 1}, backend="bench.codec_eval", hib=None),
             rec("xcodec", "codec", "entropy@level1", 9.1, {"level": 1}, backend="bench.codec_eval", hib=None),
             rec("reference", "reference", "wer@clean", 0.05, {}, backend="wer/faster-whisper-tiny.en", hib=False)]
    p = tmp_path / "records/smoke/codec__xcodec.jsonl"
    p.parent.mkdir(parents=True)
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    frame = load_results(tmp_path).frame
    assert frame.decode.isna().all() and "entropy@level1" in set(frame.metric)
    s = build_sections(frame)[0]
    assert s.n_diagnostics == 2 and [t.kind for t in s.tables] == ["codec"]
    rows = [(r.codec, r.n_q) for r in s.tables[0].rows]
    assert rows == [("reference", None), ("xcodec", 1), ("xcodec", 2)]
    assert "2 codec bookkeeping records" in write_report(tmp_path, date="d", plots=False).read_text()
