"""Planned contrasts and report integrity: what a table tests, how p is adjusted, which rows may share a table."""

import numpy as np
import pandas as pd
import pytest

from bench.metrics.stats import holm
from bench.report.contrasts import Plan, plan_contrasts
from bench.report.integrity import IncomparableRecords, check_comparable, partition
from bench.report.tables import Cell, Column, Row, Table

IDS = [f"u{i:02d}" for i in range(40)]
SPK = [f"spk{i % 4}" for i in range(40)]
PLAN = Plan(reference=(("xcodec", "xcodec-acoustic"),), vs_best=True, alpha=0.05, n_boot=500, seed=0)


def _cell(vals, num=None, den=None) -> Cell:
    per_item = {"ids": IDS[: len(vals)], "values": list(map(float, vals)), "groups": SPK[: len(vals)]}
    agg = "mean"
    if num is not None:
        per_item |= {"num": list(num), "den": list(den)}
        agg = "corpus"
    return Cell(float(np.mean(vals)), None, None, len(vals), per_item, aggregate=agg)


def _table(values: dict[tuple[str, str], np.ndarray], kind: str = "task") -> tuple[Table, Column]:
    col = Column("wer-id", "wer", "wer/x", "WER (x)", False)
    rows = []
    for (codec, decode), v in values.items():
        rows.append(Row(codec, decode, 4, 2.0, 50.0, "trained-here", None, {col.key: _cell(v)}))
    return Table(kind, "tts", [col], rows), col


def _wer(mean: float, seed: int) -> np.ndarray:
    return np.clip(np.random.default_rng(seed).normal(mean, 0.05, 40), 0, None)


def test_reference_pair_at_equal_decode_and_every_codec_against_the_best():
    t, _ = _table({("xcodec", "ar"): _wer(0.2, 0), ("xcodec", "ar+nar"): _wer(0.15, 1),
                   ("xcodec-acoustic", "ar"): _wer(0.4, 2), ("xcodec-acoustic", "ar+nar"): _wer(0.35, 3),
                   ("dac", "ar+nar"): _wer(0.5, 4)})
    cs = plan_contrasts(t, PLAN)
    got = {(c.kind, c.a.codec, c.a.decode, c.b.codec, c.b.decode) for c in cs}
    assert ("reference", "xcodec", "ar", "xcodec-acoustic", "ar") in got
    assert ("reference", "xcodec", "ar+nar", "xcodec-acoustic", "ar+nar") in got
    # best is xcodec (ar+nar): dac at the same decode is tested; the acoustic twin is already a reference contrast
    assert ("vs best", "xcodec", "ar+nar", "dac", "ar+nar") in got
    assert len(cs) == 3
    assert all(c.a.codec != c.b.codec for c in cs)  # never two rows of one codec


def test_p_values_are_holm_adjusted_over_the_table():
    t, _ = _table({("xcodec", "ar"): _wer(0.2, 0), ("xcodec-acoustic", "ar"): _wer(0.22, 2),
                   ("dac", "ar"): _wer(0.21, 4), ("encodec", "ar"): _wer(0.6, 5)})
    cs = plan_contrasts(t, PLAN)
    raw = [c.diff.p_value for c in cs]
    assert [c.p_holm for c in cs] == pytest.approx(holm(raw))
    assert all(c.p_holm >= p for c, p in zip(cs, raw, strict=True))
    enc = next(c for c in cs if c.b.codec == "encodec")
    assert enc.significant(0.05) and enc.a_better() is True


def test_no_verdict_where_the_rows_own_ci_includes_zero():
    from dataclasses import replace

    t, _ = _table({("xcodec", "ar"): _wer(0.2, 0), ("xcodec-acoustic", "ar"): _wer(0.6, 2)})
    [c] = plan_contrasts(t, PLAN)
    assert c.significant(0.05) and c.diff.ci_high < 0
    c.diff = replace(c.diff, ci_high=0.01)  # p still tiny, the interval now reaches zero
    assert c.p_holm < 0.05 and not c.significant(0.05)


def test_best_is_bold_only_when_it_beats_every_codec_after_adjustment():
    clear, col = _table({("xcodec", "ar"): _wer(0.1, 0), ("dac", "ar"): _wer(0.5, 1), ("encodec", "ar"): _wer(0.6, 2)})
    tie, col2 = _table({("xcodec", "ar"): _wer(0.30, 0), ("dac", "ar"): _wer(0.30, 0)[::-1],
                        ("encodec", "ar"): _wer(0.6, 2)})
    from bench.report.contrasts import mark_best

    for t in (clear, tie):
        mark_best(t, plan_contrasts(t, PLAN), 0.05)
    assert next(r for r in clear.rows if r.codec == "xcodec").cells[col.key].bold
    assert not any(r.cells[col2.key].bold for r in tie.rows)


def test_corpus_metric_contrast_is_a_difference_of_ratios_of_sums():
    col = Column("wer-id", "wer", "wer/x", "corpus WER (x)", False)
    den = np.arange(1, 41)  # long items weigh more in a corpus figure
    num_a, num_b = np.round(den * 0.1), np.round(den * 0.3)
    a = Row("xcodec", "ar", 4, 2.0, 50.0, None, None, {col.key: _cell(num_a / den, num_a, den)})
    b = Row("xcodec-acoustic", "ar", 4, 2.0, 50.0, None, None, {col.key: _cell(num_b / den, num_b, den)})
    (c,) = plan_contrasts(Table("task", "tts", [col], [a, b]), PLAN)
    assert c.diff.diff == pytest.approx(num_a.sum() / den.sum() - num_b.sum() / den.sum())
    assert c.diff.n == 40 and c.diff.n_groups == 4


def _frame(rows: list[dict]) -> pd.DataFrame:
    base = {"kind": "task", "task": "music", "per_item": None, "test_set_hash": "t1", "budget_hash": "b1"}
    return pd.DataFrame([base | r for r in rows])


def test_rows_of_two_data_builds_are_split_and_the_reference_joins_its_own():
    df = _frame([{"codec": "xcodec", "data_hash": "aaa"}, {"codec": "xcodec-acoustic", "data_hash": "bbb"},
                 {"codec": "reference", "data_hash": "aaa", "budget_hash": None}])
    parts = partition(df, "task")
    assert len(parts) == 2
    (why_a, a), (why_b, b) = parts
    assert "data build `aaa`" in why_a and "data build `bbb`" in why_b
    assert sorted(a["codec"]) == ["reference", "xcodec"] and list(b["codec"]) == ["xcodec-acoustic"]


def test_one_build_one_table_and_budget_matters_only_for_lm_tables():
    same = _frame([{"codec": "xcodec", "data_hash": "a"}, {"codec": "dac", "data_hash": "a"}])
    assert [w for w, _ in partition(same, "task")] == [None]
    budgets = _frame([{"codec": "xcodec", "data_hash": "a"}, {"codec": "dac", "data_hash": "a", "budget_hash": "b2"}])
    assert len(partition(budgets, "task")) == 2 and len(partition(budgets, "codec")) == 1


def test_test_set_falls_back_to_the_scored_ids():
    df = _frame([{"codec": "xcodec", "data_hash": "a", "test_set_hash": None, "per_item": {"ids": ["1", "2"]}},
                 {"codec": "dac", "data_hash": "a", "test_set_hash": None, "per_item": {"ids": ["1", "3"]}}])
    parts = partition(df, "task")
    assert len(parts) == 2 and all("test set" in w for w, _ in parts)


def test_compare_refuses_records_of_different_builds():
    with pytest.raises(IncomparableRecords, match="data build"):
        check_comparable({"data_hash": "a", "test_set_hash": "t"}, {"data_hash": "b", "test_set_hash": "t"},
                         "task", "xcodec vs dac")
    check_comparable({"data_hash": "a", "test_set_hash": "t"}, {"data_hash": "a", "test_set_hash": "t"}, "task", "ok")


def _readiness(codec: str, bps: float, seed: int) -> list[dict]:
    from bench.results import make_record

    rng = np.random.default_rng(seed)
    secs = rng.uniform(2, 4, 20)
    bits = secs * rng.normal(bps, 5, 20)
    per = {"ids": IDS[:20], "values": list(bits / secs), "num": list(bits), "den": list(secs), "groups": SPK[:20]}
    common = {"run_id": f"tts-{codec}", "kind": "task", "task": "tts", "codec": codec, "preset": "cpu",
              "backend": {"name": "bench.lm_readiness", "version": "1"}, "n": 20, "higher_is_better": False,
              "config_hash": "h", "budget": {"hash": "b"}, "data": {"build_hash": "d", "test_set_hash": "v"}}
    value = float(bits.sum() / secs.sum())
    out = [make_record(**common, metric=f"nll_bps@{st}", variant={"decode": st}, value=value, per_item=per,
                       scorer={"aggregate": "corpus", "signature": "nll_bps|v1"}) for st in ("ar", "nar")]
    out.append(make_record(**common, metric="ppl@level0", variant={"decode": None}, value=50.0, per_item=per,
                           scorer={"aggregate": "corpus", "signature": "ppl"}))
    return out


def test_lm_readiness_is_one_table_one_row_per_codec_with_its_contrast():
    from bench.report.load import flatten
    from bench.report.tables import build_sections

    recs = _readiness("xcodec", 300, 0) + _readiness("xcodec-acoustic", 330, 1)
    frame = pd.DataFrame([flatten(r) for r in recs])
    (section,) = build_sections(frame)
    (t,) = [t for t in section.tables if t.kind == "readiness"]
    assert [r.codec for r in t.rows] == ["xcodec", "xcodec-acoustic"]
    assert sorted(c.metric for c in t.columns) == ["nll_bps@ar", "nll_bps@nar", "ppl@level0"]
    tested = {c.column.metric for c in t.contrasts}
    assert tested == {"nll_bps@ar", "nll_bps@nar"}  # perplexity is shown, not tested (log units)
    assert all(c.kind == "reference" and c.diff.n_groups == 4 for c in t.contrasts)


def test_a_collapsed_codec_is_never_the_best_row():
    t, col = _table({("xcodec", "ar"): _wer(0.3, 0), ("encodec", "ar"): _wer(0.05, 1), ("dac", "ar"): _wer(0.5, 2)})
    t.collapsed = frozenset({"encodec"})
    cs = [c for c in plan_contrasts(t, PLAN) if c.kind == "vs best"]
    assert {c.a.codec for c in cs} == {"xcodec"} and {c.b.codec for c in cs} == {"encodec", "dac"}
