"""Render the leaderboard (markdown, HTML, CSV, JSON) from sections built by ``tables``."""

from __future__ import annotations

import html as _html
import json
from dataclasses import dataclass, field
from pathlib import Path

from bench.codec_eval import COLLAPSED_PERPLEXITY, HEALTHY_PERPLEXITY
from bench.report.tables import Cell, CodebookUse, Row, Section, Table

DASH = "—"


@dataclass
class Header:
    command: str  # the command that regenerates the file
    date: str
    n_records: int
    n_files: int
    superseded: int = 0
    skipped: list[str] = field(default_factory=list)


def fmt(x: float | None) -> str:
    if x is None:
        return DASH
    a = abs(x)
    if a >= 100:
        return f"{x:.1f}"
    if a >= 10:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_cell(c: Cell | None, md: bool = True) -> str:
    if c is None or c.value is None:
        return DASH
    s = fmt(c.value)
    if c.bold:
        s = f"**{s}**" if md else f"<b>{s}</b>"
    if c.ci_low is not None and c.ci_high is not None:
        s += f" [{fmt(c.ci_low)}, {fmt(c.ci_high)}]"
    return s


def _codec_label(r: Row) -> str:
    return "clean reference" if r.is_reference else r.codec


def _head(t: Table) -> list[str]:
    head = ["codec"] + (["decode"] if t.show_decode else []) + ["kbps", "frame rate (Hz)", "n_q", "origin", "teacher"]
    head += [f"{c.label} {c.arrow}".strip() for c in t.columns]
    if any(r.mean_rank is not None for r in t.rows):
        head.append("mean rank ↓")
    return head


def _cells(t: Table, r: Row, md: bool) -> list[str]:
    out = [_codec_label(r)] + ([r.decode or DASH] if t.show_decode else [])
    if r.is_reference:
        out += [DASH] * 5
    else:
        out += [DASH if r.kbps is None else f"{r.kbps:.4g}", DASH if r.frame_rate is None else f"{r.frame_rate:g}",
                DASH if r.n_q is None else str(r.n_q), r.origin or DASH, r.teacher or DASH]
    out += [fmt_cell(r.cells.get(c.key), md) for c in t.columns]
    if any(x.mean_rank is not None for x in t.rows):
        out.append(DASH if r.mean_rank is None else f"{r.mean_rank:.2f}")
    return out


def _n_line(t: Table) -> str:
    ns = sorted({c.n for r in t.rows for c in r.cells.values()})
    return f"n = {ns[0]}" if len(ns) == 1 else f"n = {ns[0]}–{ns[-1]} per cell"


def fmt_p(p: float | None) -> str:
    if p is None:
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


CONTRAST_HEAD = ["contrast", "planned as", "metric", "A − B [95% CI]", "items (speakers)", "p", "p (Holm)",
                 "verdict"]


def _contrast_cells(t: Table, c) -> list[str]:
    with_n_q = t.kind == "codec"
    who = f"{c.a.label(with_n_q)} − {c.b.label(with_n_q)}"
    d = c.diff
    if d is None:
        return [who, c.kind, c.column.label, DASH, "0", DASH, DASH, "not tested (no per-item values to pair)"]
    if not c.significant(t.alpha):
        verdict = "no significant difference"
    else:
        better = c.a_better()
        verdict = DASH if better is None else f"{(c.a if better else c.b).label(with_n_q)} better"
    n = f"{d.n}" + (f" ({d.n_groups})" if d.n_groups else "")
    return [who, c.kind, f"{c.column.label} {c.column.arrow}".strip(),
            f"{fmt(d.diff)} [{fmt(d.ci_low)}, {fmt(d.ci_high)}]", n, fmt_p(d.p_value), fmt_p(c.p_holm), verdict]


def _contrasts_md(t: Table) -> list[str]:
    if not t.contrasts:
        return []
    methods = sorted({c.diff.method for c in t.contrasts if c.diff})
    return ["", f"Planned contrasts ({len(t.contrasts)}; paired bootstrap on the items both rows scored"
            + (f": {'; '.join(methods)}" if methods else "")
            + f"; p-values Holm-adjusted over this table; a verdict where p (Holm) < {t.alpha:g} and the 95% CI "
            "excludes 0):", "",
            *_md_table(CONTRAST_HEAD, [_contrast_cells(t, c) for c in t.contrasts])]


ERRORS_HEAD = ["codec", "metric", "S", "D", "I", "reference units", "corpus rate", "mean per-item rate"]


def _errors_rows(t: Table) -> list[list[str]]:
    """S/D/I totals behind each corpus WER/CER cell, and the per-item mean as the secondary figure."""
    out = []
    for col in t.columns:
        for r in t.rows:
            c = r.cells.get(col.key)
            p = c.per_item if c is not None else None
            if c is None or c.aggregate != "corpus" or not p or not all(k in p for k in ("sub", "del", "ins", "den")):
                continue
            vals = [v for v in p["values"] if v is not None]
            out.append([r.label(t.kind == "codec"), col.label, *(str(int(sum(p[k]))) for k in ("sub", "del", "ins")),
                        str(int(sum(p["den"]))), fmt(c.value), fmt(sum(vals) / len(vals) if vals else None)])
    return out


def _errors_md(t: Table) -> list[str]:
    rows = _errors_rows(t)
    if not rows:
        return []
    return ["", "Errors behind the corpus figures (substitutions, deletions, insertions over all scored items; "
            "per-item transcripts are in the records):", "", *_md_table(ERRORS_HEAD, rows)]


def _signature_lines(t: Table) -> list[str]:
    sigs = [f"`{c.signature}`" for c in t.columns if c.signature]
    return ["", "Scorer signatures: " + "; ".join(sigs)] if sigs else []


def _title(t: Table) -> str:
    if t.kind == "task":
        title = f"Task `{t.name}` (LM over codec tokens)"
    elif t.kind == "readiness":
        title = f"LM-readiness, task `{t.name}` (held-out NLL of the equal-budget LMs on the valid split)"
    elif t.kind == "codec":
        title = f"Codec reconstruction (`{t.name}`)"
    else:
        title = f"Other scored audio (`bench score`, task `{t.name}`)"
    return title + (f": {t.split}" if t.split else "")


def _header_md(h: Header, sections: list[Section]) -> list[str]:
    presets = ", ".join(f"`{s.preset}`" for s in sections) or DASH
    hw = sorted({x for s in sections for x in s.hardware})
    out = [
        "# codec-bench leaderboard",
        "",
        f"Generated {h.date} by `{h.command}` from {h.n_records} records in {h.n_files} files "
        f"(regenerate with that command; do not edit by hand).",
        "",
        f"- presets: {presets}",
        f"- hardware: {', '.join(hw) or DASH}",
        f"- record git SHAs: {', '.join(sorted({x for s in sections for x in s.git_shas})) or DASH}",
        f"- schema versions: {', '.join(sorted({f'v{s.schema_version}' for s in sections})) or DASH}",
    ]
    if h.superseded:
        out.append(f"- {h.superseded} older record(s) superseded by newer ones for the same cell")
    if h.skipped:
        out.append(f"- **{len(h.skipped)} malformed record(s) skipped** (`--skip-invalid`): "
                   + "; ".join(h.skipped[:5]) + (" ..." if len(h.skipped) > 5 else ""))
    out += [
        "",
        "How to read: each cell is the metric over the test items with its 95% bootstrap CI in brackets (corpus "
        "WER/CER: errors summed over items divided by reference words summed; other metrics: the mean; CIs resample "
        "speakers, then items, where speakers are known). Under each table, its planned contrasts: the study's "
        "question (X-Codec against its acoustic-only twin, at equal decode and n_q) and every codec against the "
        "best of each ranked metric, paired on the same items, with Holm-adjusted p-values over the table. "
        "**Bold** marks the best codec only where it beats every other codec in its column after that adjustment. "
        "`—` means not measured. Mean rank is over the ranked metrics only (the notes say which are left out and "
        "why) and is `—` for a row missing any of them. Tables never mix schema versions, presets, metric backends "
        "or scorer signatures, and never put rows of different data builds, test sets or training budgets together: "
        "such rows get a table of their own.",
        "",
    ]
    return out


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    esc = [[x.replace("|", "\\|") for x in r] for r in [head] + rows]
    return ["| " + " | ".join(esc[0]) + " |", "|" + "|".join("---" for _ in head) + "|"] + \
        ["| " + " | ".join(r) + " |" for r in esc[1:]]


CODEBOOK_HEAD = ["codec", "perplexity", "codes used", "clips",
                 f"state (collapsed: perplexity < {COLLAPSED_PERPLEXITY:g}; low: < {HEALTHY_PERPLEXITY:g})"]


def _codebook_cells(c: CodebookUse, md: bool) -> list[str]:
    flag = ("**collapsed**" if md else "<b>collapsed</b>") if c.collapsed else c.state
    return [c.codec, fmt(c.perplexity), DASH if c.usage is None else f"{c.usage:.1%}", str(c.n), flag]


def _codebook_md(s: Section) -> list[str]:
    if not s.codebooks:
        return []
    return ["### Codebook use (level 1, `bench eval-codec`)", "",
            *_md_table(CODEBOOK_HEAD, [_codebook_cells(c, True) for c in s.codebooks]), "", *_no_lm_note(s)]


def _no_lm_note(s: Section) -> list[str]:
    skipped = s.without_lm()
    if not skipped:
        return []
    who = ", ".join(f"`{c.codec}` ({fmt(c.perplexity)}, {c.state})" for c in skipped)
    return [f"No task LM was trained over {who}: a level-1 perplexity under {HEALTHY_PERPLEXITY:g} at this "
            "preset's budget (scripts/run_peers.py runs a peer's tasks only above it).", ""]


def _collapse_note(s: Section, t: Table) -> list[str]:
    names = {r.codec for r in t.rows}
    hit = [c for c in s.collapsed() if c.codec in names]
    if not hit:
        return []
    who = ", ".join(f"`{c.codec}` (level-1 perplexity {fmt(c.perplexity)})" for c in hit)
    return ["", f"**Collapsed codebooks:** {who}: these rows measure a codec that passes almost nothing on."]


def render_md(sections: list[Section], header: Header, plots: dict | None = None) -> str:
    """``plots``: {(preset, table kind, table name): [relative paths]} to embed under each table."""
    plots = plots or {}
    out = _header_md(header, sections)
    if not sections:
        out += ["No records found under `results/records/`.", ""]
    for s in sections:
        out += [f"## Preset `{s.preset}` (schema v{s.schema_version})", ""]
        out.append(f"Hardware: {', '.join(s.hardware)}. Metric backends:")
        out.append("")
        for bid in s.backends:
            out.append(f"- `{bid}`")
        out.append("")
        if s.n_diagnostics:
            out += [f"{s.n_diagnostics} codec bookkeeping records (kbps, real-time factors, token statistics) are "
                    "not tabulated here beyond the level-1 codebook use at the end of this section; "
                    "`bench report --format csv` lists them.", ""]
        for t in s.tables:
            out += [f"### {_title(t)}", ""]
            out += _md_table(_head(t), [_cells(t, r, True) for r in t.rows])
            out += ["", f"{_n_line(t)}."]
            if t.split:
                out += ["", f"These rows are a table of their own: they differ from the other `{t.name}` rows in "
                        f"{t.split.split(' `')[0]}, so no number here is compared with a number there."]
            out += _contrasts_md(t)
            out += _errors_md(t)
            out += _signature_lines(t)
            for note in t.notes:
                out += ["", note]
            out += _collapse_note(s, t)
            for p in plots.get((s.preset, t.kind, t.name), []):
                out += ["", f"![{Path(p).stem}]({p})"]
            out.append("")
        out += _codebook_md(s)
    return "\n".join(out).rstrip() + "\n"


def _html_row(cells: list[str]) -> str:
    """One table row; cell text is escaped except the <b> that marks a flagged or best cell."""
    esc = [_html.escape(x).replace("&lt;b&gt;", "<b>").replace("&lt;/b&gt;", "</b>") for x in cells]
    return "<tr>" + "".join(f"<td>{x}</td>" for x in esc) + "</tr>"


def render_html(sections: list[Section], header: Header, plots: dict | None = None) -> str:
    plots = plots or {}
    e = _html.escape
    out = ["<!doctype html><meta charset='utf-8'><title>codec-bench leaderboard</title>",
           "<style>body{font-family:sans-serif;max-width:1400px;margin:auto}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}th{background:#eee}</style>",
           "<h1>codec-bench leaderboard</h1>",
           f"<p>Generated {e(header.date)} by <code>{e(header.command)}</code> from {header.n_records} records.</p>"]
    for s in sections:
        out.append(f"<h2>Preset {e(s.preset)} (schema v{s.schema_version})</h2>")
        out.append(f"<p>Hardware: {e(', '.join(s.hardware))}</p><ul>"
                   + "".join(f"<li><code>{e(b)}</code></li>" for b in s.backends) + "</ul>")
        for t in s.tables:
            out.append(f"<h3>{e(_title(t).replace('`', ''))}</h3><table><tr>"
                       + "".join(f"<th>{e(h)}</th>" for h in _head(t)) + "</tr>")
            out += [_html_row(_cells(t, r, False)) for r in t.rows]
            out.append(f"</table><p>{e(_n_line(t))}.</p>")
            if t.contrasts:
                out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in CONTRAST_HEAD) + "</tr>")
                out += [_html_row(_contrast_cells(t, c)) for c in t.contrasts]
                out.append("</table>")
            for p in plots.get((s.preset, t.kind, t.name), []):
                if str(p).endswith(".png"):
                    out.append(f"<img src='{e(str(p))}' style='max-width:100%'>")
        if s.codebooks:
            out.append("<h3>Codebook use (level 1)</h3><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in CODEBOOK_HEAD)
                       + "</tr>")
            out += [_html_row(_codebook_cells(c, False)) for c in s.codebooks]
            out.append("</table>")
            out += [f"<p>{e(x)}</p>" for x in _no_lm_note(s) if x]
    return "\n".join(out) + "\n"


def to_json(sections: list[Section], header: Header) -> str:
    def table(t: Table) -> dict:
        return {
            "kind": t.kind, "name": t.name,
            "columns": [{"backend_id": c.key, "metric": c.metric, "backend": c.backend,
                         "higher_is_better": c.higher_is_better} for c in t.columns],
            "rows": [{"codec": r.codec, "decode": r.decode, "n_q": r.n_q, "kbps": r.kbps, "frame_rate": r.frame_rate,
                      "origin": r.origin, "teacher": r.teacher, "mean_rank": r.mean_rank,
                      "cells": {k: {"value": c.value, "ci_low": c.ci_low, "ci_high": c.ci_high, "n": c.n,
                                    "aggregate": c.aggregate, "best_significant": c.bold}
                                for k, c in r.cells.items()}} for r in t.rows],
            "split": t.split,
            "contrasts": [{"column": c.column.key, "planned_as": c.kind, "a": c.a.label(t.kind == "codec"),
                           "b": c.b.label(t.kind == "codec"), "p_holm": c.p_holm,
                           **({} if c.diff is None else {"diff": c.diff.diff, "ci_low": c.diff.ci_low,
                                                        "ci_high": c.diff.ci_high, "p": c.diff.p_value,
                                                        "n": c.diff.n, "speakers": c.diff.n_groups,
                                                        "method": c.diff.method})}
                          for c in t.contrasts],
        }

    doc = {"generated": header.date, "command": header.command, "n_records": header.n_records,
           "sections": [{"schema_version": s.schema_version, "preset": s.preset, "hardware": s.hardware,
                         "backends": s.backends, "tables": [table(t) for t in s.tables],
                         "codebooks": [{"codec": c.codec, "perplexity_level1": c.perplexity, "usage_level1": c.usage,
                                        "n": c.n, "collapsed": c.collapsed, "state": c.state}
                                       for c in s.codebooks]}
                        for s in sections]}
    return json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n"


CSV_COLUMNS = ["schema_version", "preset", "kind", "task", "codec", "decode", "n_q", "kbps", "frame_rate", "origin",
               "teacher", "metric", "backend", "backend_id", "value", "ci_low", "ci_high", "n", "higher_is_better",
               "config_hash", "git_sha", "hardware", "time", "run_id"]


def to_csv(frame) -> str:
    """One row per kept record (tidy form, for pandas/spreadsheets)."""
    if frame is None or frame.empty:
        return ",".join(CSV_COLUMNS) + "\n"
    cols = [c for c in CSV_COLUMNS if c in frame.columns]
    return frame[cols].sort_values(["schema_version", "preset", "kind", "task", "codec", "backend_id"],
                                   na_position="first").to_csv(index=False)
