"""``bench compare A B --task T``: paired differences (A − B) with 95% CIs, metric by metric."""

from __future__ import annotations

from bench.report.integrity import check_comparable
from bench.report.leaderboard import _md_table, fmt, fmt_p
from bench.report.significance import paired_diff
from bench.report.tables import METRIC_LABELS, _none
from bench.results import cell_key


def _select(frame, codec: str, task: str, metric: str | None):
    sub = frame[frame["codec"] == codec]
    sub = sub[sub["kind"] == "codec"] if task == "codec" else sub[(sub["task"] == task) & (sub["kind"] != "codec")]
    if metric:
        sub = sub[(sub["metric"] == metric) | (sub["backend"] == metric)]
    # The one cell key without the codec (the two sides) and kind (a codec may be paired with the clean
    # reference); LM runs pair across codecs whatever their n_q.
    ignore = ("codec", "kind") if task == "codec" else ("codec", "kind", "n_q")
    return {cell_key(r, ignore): r for r in sub.to_dict("records")}


def compare(frame, a: str, b: str, task: str, metric: str | None = None, n_boot: int = 1000) -> list[dict]:
    """One dict per cell both codecs have (``bench.results.cell_key`` without codec and kind).

    Raises ``IncomparableRecords`` when two such cells differ in data build, test set or budget.
    """
    if frame is None or frame.empty:
        return []
    ra, rb = _select(frame, a, task, metric), _select(frame, b, task, metric)
    rows = []
    for key in sorted(set(ra) & set(rb), key=str):
        x, y = ra[key], rb[key]
        check_comparable(x, y, "codec" if task == "codec" else "task",
                         f"{a} vs {b}, {key.preset} {x['metric']} {key.decode or ''}".rstrip())
        if _none(x.get("scorer_sig")) != _none(y.get("scorer_sig")):
            continue  # scored or aggregated differently: not one cell (both show under "only")
        hib = _none(x["higher_is_better"])
        ratio = _none(x.get("aggregate")) == "corpus" and _none(y.get("aggregate")) == "corpus"
        d = paired_diff(_none(x["per_item"]), _none(y["per_item"]), n_boot=n_boot, ratio=ratio)
        row = {"preset": key.preset, "metric": x["metric"], "backend": x["backend"], "decode": key.decode,
               "n_q": key.n_q, "a": _none(x["value"]), "b": _none(y["value"]), "higher_is_better": hib}
        if d is None:
            diff = None if row["a"] is None or row["b"] is None else row["a"] - row["b"]
            row |= {"diff": diff, "ci_low": None, "ci_high": None, "n_pairs": 0, "p": None,
                    "verdict": "not tested (no per-item values to pair)"}
        else:
            if not d.significant:
                verdict = "no significant difference"
            elif hib is None:
                verdict = "significant (direction unknown)"
            else:
                verdict = f"{a if (d.diff > 0) == hib else b} better"
            row |= {"diff": d.diff, "ci_low": d.ci_low, "ci_high": d.ci_high, "n_pairs": d.n, "verdict": verdict,
                    "p": d.p_value,
                    "a": d.mean_a, "b": d.mean_b}  # means over the paired items only
        rows.append(row)
    return rows


def only_in(frame, a: str, b: str, task: str, metric: str | None = None) -> tuple[list, list]:
    ra, rb = _select(frame, a, task, metric), _select(frame, b, task, metric)

    def name(k) -> str:
        return f"{k.preset}:{k.backend_id.split(' ')[0]}" + (f" decode={k.decode}" if k.decode else "") + (
            f" n_q={k.n_q}" if k.n_q else "")

    return sorted(name(k) for k in set(ra) - set(rb)), sorted(name(k) for k in set(rb) - set(ra))


def render(rows: list[dict], a: str, b: str) -> str:
    head = ["preset", "metric", "decode/n_q", a, b, f"{a} − {b} [95% CI]", "pairs", "p (unadjusted)", "verdict"]
    body = []
    for r in rows:
        arrow = {True: " ↑", False: " ↓"}.get(r["higher_is_better"], "")
        ci = f" [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]" if r["ci_low"] is not None else ""
        variant = "/".join(str(x) for x in (r["decode"], r["n_q"]) if x is not None) or "—"
        body.append([r["preset"], f"{METRIC_LABELS.get(r['metric'], r['metric'])} ({r['backend']}){arrow}", variant,
                     fmt(r["a"]), fmt(r["b"]), fmt(r["diff"]) + ci, str(r["n_pairs"]), fmt_p(r["p"]), r["verdict"]])
    return "\n".join(_md_table(head, body)) + "\n"
