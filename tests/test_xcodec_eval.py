"""Codec evaluation helpers: n_q points, token statistics, records and the side-by-side table."""

from __future__ import annotations

import numpy as np
import pytest

from bench.codec_eval import _record, n_q_points, table_rows, token_stats, write_records
from bench.results import load


def test_n_q_points_follow_the_published_set():
    assert n_q_points(4) == [1, 2, 3, 4]
    assert n_q_points(8) == [1, 2, 3, 4, 8]
    assert n_q_points(12) == [1, 2, 3, 4, 8, 12]
    assert n_q_points(1) == [1]


def test_token_stats_usage_and_perplexity():
    uniform = [np.arange(16).reshape(1, 16), np.arange(16).reshape(1, 16)]
    st = token_stats(uniform, 16)[0]
    assert st["usage"] == 1.0 and abs(st["perplexity"] - 16) < 1e-9
    collapsed = token_stats([np.zeros((2, 10), dtype=np.int64)], 1024)
    assert [s["usage"] for s in collapsed] == [1 / 1024] * 2 and collapsed[0]["perplexity"] == 1.0


def test_records_round_trip_and_table(tmp_path):
    common = {"run_id": "r", "kind": "codec", "task": None, "codec": "xcodec", "preset": "smoke", "config_hash": "h"}
    recs = [_record(common, f"pesq@nq{k}", 1.0 + k, 3, {"n_q": k}) for k in (1, 4)]
    recs.append(_record(common, "rtf_encode", 0.5, 3))
    ref = {**common, "codec": "reference", "kind": "reference"}
    recs.append(_record(ref, "wer@clean", 0.1, 3))
    path = write_records(recs, "smoke", "xcodec", results_dir=tmp_path)
    assert path == tmp_path / "records" / "smoke" / "codec__xcodec.jsonl"
    assert load(path) == recs
    rows = table_rows(recs)
    assert rows[0]["codec"].startswith("reference") and rows[0]["wer"] == 0.1
    assert [(r["n_q"], r["pesq"], r["rtf_encode"]) for r in rows[1:]] == [(1, 2.0, 0.5), (4, 5.0, 0.5)]


def test_paired_wer_between_codecs():
    from bench.codec_eval import paired_wer

    def rec(codec, vals):
        common = {"run_id": codec, "kind": "codec", "task": None, "codec": codec, "preset": "smoke",
                  "config_hash": "h"}
        per_item = {"per_item": {"ids": [f"u{i}" for i in range(len(vals))], "values": vals}}
        return _record(common, "wer@nq1", float(np.mean(vals)), len(vals), per_item)

    rng = np.random.default_rng(0)
    good = list(rng.uniform(0.0, 0.2, 40))
    bad = [v + 0.5 for v in good]
    (c,) = paired_wer([rec("xcodec", good), rec("xcodec-acoustic", bad)])
    assert (c["a"], c["b"]) == ("xcodec", "xcodec-acoustic")
    assert abs(c["diff"] + 0.5) < 1e-9 and c["significant"] and c["n"] == 40  # diff = a - b


def test_collapsed_codecs_are_named_with_a_warning(capsys):
    from bench.codec_eval import COLLAPSED_PERPLEXITY, collapsed, print_comparisons

    recs = []
    for codec, ppl in (("a", 1.05), ("b", COLLAPSED_PERPLEXITY), ("c", 63.0)):
        common = {"run_id": codec, "kind": "codec", "task": None, "codec": codec, "preset": "smoke", "config_hash": "h"}
        recs += [_record(common, "perplexity@level1", ppl, 3, {"level": 1}),
                 _record(common, "perplexity@level2", 0.5, 3, {"level": 2})]  # only level 1 decides
    assert collapsed(recs) == {"a": 1.05}
    print_comparisons(recs)
    out = capsys.readouterr().out
    assert "warning: a: level-1 codebook collapsed (perplexity 1.05 < 4)" in out and "warning: b" not in out


def test_codec_budget_states_steps_reached_and_the_wall_clock_stop(tmp_path):
    """A codec stopped by train.max_minutes says so; its budget hash is of the config in its checkpoint."""
    from bench.codec_eval import codec_budget
    from bench.codecs import WeightsStatus
    from bench.config import config_hash
    from bench.train.checkpoint import save

    cfg = {"n_q": 4, "train": {"steps": 2000, "max_minutes": 30.0}}
    save(tmp_path / "ckpt.pt", {"config": cfg, "step": 1234, "generator": {}})

    class Trained:
        def weights(self):
            return WeightsStatus("trained-here", "smoke-abc", True, str(tmp_path / "ckpt.pt"))

    class Published:
        def weights(self):
            return WeightsStatus("published", "facebook/encodec_24khz", True)

    assert codec_budget(Trained()) == {"hash": config_hash(cfg), "steps": 2000, "steps_reached": 1234,
                                       "stop_reason": "wall_clock"}
    assert codec_budget(Published()) is None


def test_paired_wer_is_a_difference_of_corpus_wers_when_counts_are_recorded():
    from bench.codec_eval import paired_wer

    den = [2, 20, 4, 10] * 5  # short items with many errors must not dominate
    num_a, num_b = [2, 0, 1, 1] * 5, [0, 4, 0, 2] * 5

    def rec(codec, num):
        common = {"run_id": codec, "kind": "codec", "task": None, "codec": codec, "preset": "smoke",
                  "config_hash": "h"}
        per = {"ids": [f"u{i}" for i in range(20)], "values": [n / d for n, d in zip(num, den, strict=True)],
               "num": num, "den": den, "groups": [f"s{i % 4}" for i in range(20)]}
        return _record(common, "wer@nq1", sum(num) / sum(den), 20, {"per_item": per})

    (c,) = paired_wer([rec("xcodec", num_a), rec("xcodec-acoustic", num_b)])
    assert abs(c["diff"] - (sum(num_a) - sum(num_b)) / sum(den)) < 1e-9  # corpus: 20/180 - 30/180
    assert np.mean([n / d for n, d in zip(num_a, den, strict=True)]) > np.mean([n / d for n, d in zip(num_b, den,
                                                                                                     strict=True)])


def test_the_wer_probe_follows_the_asr_backend_and_an_unknown_one_fails_before_any_work(tmp_path):
    from bench.codec_eval import ASR, asr_metrics, evaluate

    assert asr_metrics(ASR) == ["wer/faster-whisper-tiny.en", "dwer/faster-whisper-tiny.en"]
    assert asr_metrics("faster-whisper-base") == ["wer/faster-whisper-base", "dwer/faster-whisper-base"]
    assert asr_metrics("openai-whisper-tiny.en") == ["wer/openai-whisper-tiny.en"]  # no dWER backend of its own
    with pytest.raises(ValueError, match="--asr 'whisper-huge'.*faster-whisper-base"):
        evaluate(["xcodec"], "smoke", data_dir=tmp_path / "nothing-built", asr="whisper-huge")
    assert not (tmp_path / "nothing-built").exists()
