"""The leaderboard's content as plain data: sections -> tables -> rows x metric columns.

Grouping rule: a section is one (schema version, preset); a table is one task (LM runs) or one
recipe (codec reconstruction); a column is one metric backend *identity*. Numbers from different
schema versions, presets or backends never share a table or a column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.codec_eval import health, is_collapsed
from bench.report.contrasts import Contrast, load_plan, mark_best, plan_contrasts
from bench.report.integrity import partition

REFERENCE = "reference"
# Records of this pseudo-backend are codec bookkeeping (kbps, real-time factors, token statistics), not scores.
DIAGNOSTICS_BACKEND = "bench.codec_eval"
# Held-out NLL of the task LMs (tasks/readiness.py): one table per task, one row per codec.
READINESS_BACKEND = "bench.lm_readiness"

METRIC_LABELS = {
    "wer": "WER", "cer": "CER", "spk": "speaker sim", "mos": "MOS", "pesq": "PESQ", "stoi": "STOI",
    "sisdr": "SI-SDR", "mel": "mel L1", "fad": "FAD", "dwer": "dWER", "nll_bps": "held-out NLL (bits/s)",
    "ppl": "held-out perplexity", "text_bps": "text use (bits/s)",
}
# Error rates whose corpus aggregate differs from the familiar mean of per-utterance rates: labelled "corpus".
CORPUS_LABELLED = ("wer", "cer", "dwer")
# Column order: the headline metric first; unknown metrics after, alphabetically.
METRIC_ORDER = ("wer", "dwer", "cer", "spk", "mos", "fad", "pesq", "stoi", "sisdr", "mel")
PRESET_ORDER = ("smoke", "small", "paper")


def _rank_of(name: str, order: tuple[str, ...]) -> tuple[int, str]:
    return (order.index(name) if name in order else len(order), name)


@dataclass
class Column:
    key: str  # backend identity + scorer signature: numbers scored or aggregated differently never share one
    metric: str
    backend: str  # registry name, e.g. "wer/faster-whisper-tiny.en"
    label: str
    higher_is_better: bool | None
    ranked: bool = True  # enters the mean rank (the metric catalog says which do, and why not)
    rank_reason: str = ""
    signature: str | None = None  # sacrebleu-style scorer signature, printed under the table

    @property
    def arrow(self) -> str:
        return {True: "↑", False: "↓"}.get(self.higher_is_better, "")


@dataclass
class Cell:
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    per_item: dict | None = None
    bold: bool = False
    aggregate: str | None = None  # "corpus" (ratio of sums) | "mean"; None for records that do not say


@dataclass
class Row:
    codec: str
    decode: str | None
    n_q: int | None
    kbps: float | None
    frame_rate: float | None
    origin: str | None
    teacher: str | None
    cells: dict[str, Cell] = field(default_factory=dict)
    mean_rank: float | None = None

    @property
    def is_reference(self) -> bool:
        return self.codec == REFERENCE

    def label(self, with_n_q: bool = False) -> str:
        if self.is_reference:
            return "clean reference"
        extra = [x for x in (self.decode, f"n_q={self.n_q}" if with_n_q and self.n_q is not None else None) if x]
        return self.codec + (f" ({', '.join(extra)})" if extra else "")


@dataclass
class Table:
    kind: str  # "task" | "codec"
    name: str  # task name, or the recipe for codec tables
    columns: list[Column]
    rows: list[Row]
    contrasts: list[Contrast] = field(default_factory=list)  # planned, Holm-adjusted over the table
    notes: list[str] = field(default_factory=list)
    split: str | None = None  # why these rows are a table of their own (integrity split), e.g. "data build abc"
    alpha: float = 0.05
    collapsed: frozenset[str] = frozenset()  # codecs whose level-1 codebook collapsed: never the "best" row

    @property
    def show_decode(self) -> bool:
        return len({r.decode for r in self.rows if not r.is_reference}) > 1


@dataclass
class CodebookUse:
    """Level-1 code statistics of one codec over its evaluation clips (``bench eval-codec`` records)."""

    codec: str
    perplexity: float
    usage: float | None  # share of the level-1 codebook used at all
    n: int  # clips

    @property
    def collapsed(self) -> bool:
        return is_collapsed(self.perplexity)

    @property
    def state(self) -> str:
        return health(self.perplexity)


def codebook_use(diag) -> list[CodebookUse]:
    """One entry per codec from its newest ``perplexity@level1`` / ``usage@level1`` records."""
    out = []
    for codec, cdf in diag.groupby("codec", sort=True):
        ppl = cdf[cdf["metric"] == "perplexity@level1"]
        if ppl.empty or _none(ppl.iloc[-1]["value"]) is None:
            continue
        usage = cdf[cdf["metric"] == "usage@level1"]
        out.append(CodebookUse(str(codec), float(ppl.iloc[-1]["value"]),
                               None if usage.empty else _none(usage.iloc[-1]["value"]), int(ppl.iloc[-1]["n"])))
    return out


@dataclass
class Section:
    schema_version: int
    preset: str
    tables: list[Table]
    hardware: list[str]
    n_diagnostics: int  # codec bookkeeping records left out of the tables (they are in --format csv)
    git_shas: list[str]
    backends: dict[str, dict]  # backend identity -> backend dict
    codebooks: list[CodebookUse] = field(default_factory=list)

    def collapsed(self) -> list[CodebookUse]:
        return [c for c in self.codebooks if c.collapsed]

    def without_lm(self) -> list[CodebookUse]:
        """Codecs below the healthy level-1 perplexity with no row in any task table: why no LM ran over them."""
        tasked = {r.codec for t in self.tables if t.kind == "task" for r in t.rows}
        return [c for c in self.codebooks if c.state != "ok" and c.codec not in tasked]


def _none(x: Any) -> Any:
    """pandas turns None into NaN in numeric columns; the report wants None back."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return x


def _get(r, k: str) -> Any:
    """A frame column that older frames (or hand-made test frames) may lack."""
    return _none(r[k]) if k in r else None


def column_key(r) -> str:
    """Metric + backend identity + scorer signature (one backend can report several metrics, e.g. readiness)."""
    sig = _get(r, "scorer_sig")
    key = f"{r['metric']} | {r['backend_id']}"
    return f"{key} | {sig}" if sig else key


def _rank_rule(metric: str) -> tuple[bool, str]:
    from bench.metrics.catalog import ranked

    return ranked(metric)


def _columns(df) -> list[Column]:
    cols: dict[str, Column] = {}
    names_per_backend: dict[str, set[str]] = {}
    for _, r in df.iterrows():
        names_per_backend.setdefault(f"{r['metric']} {r['backend']}", set()).add(column_key(r))
    for _, r in df.sort_values(["metric", "backend", "backend_id"]).iterrows():
        key = column_key(r)
        if key in cols:
            continue
        short = r["backend"].split("/", 1)[-1]
        if len(names_per_backend[f"{r['metric']} {r['backend']}"]) > 1:  # two identities: say which is which
            info = r["backend_info"]
            if _get(r, "aggregate"):
                short += f", {_get(r, 'aggregate')}"
            short += " " + (f"v{info['version']}" if info.get("version") else f"#{str(info.get('weights_hash'))[:8]}")
        hib = _none(r["higher_is_better"])
        base, _, part = str(r["metric"]).partition("@")
        label = METRIC_LABELS.get(base, base) + (f" {part}" if part else "")
        if _get(r, "aggregate") == "corpus" and base in CORPUS_LABELLED:
            label = f"corpus {label}"
        ok, why = _rank_rule(base)
        cols[key] = Column(key, r["metric"], r["backend"], f"{label} ({short})", None if hib is None else bool(hib),
                           ok, why, _get(r, "scorer_sig"))
    return sorted(cols.values(), key=lambda c: (_rank_of(c.metric, METRIC_ORDER), c.backend, c.key))


def _rows(df, kind: str) -> list[Row]:
    rows: dict[tuple, Row] = {}
    for _, r in df.iterrows():
        decode, n_q = _none(r["decode"]), _none(r["n_q"])
        if r["codec"] == REFERENCE:
            decode = None  # the clean audio is one row, whichever decoding its columns sit beside
        key = (r["codec"], decode, n_q if kind == "codec" else None)
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(r["codec"], decode, None if n_q is None else int(n_q), _none(r["kbps"]),
                                  _none(r["frame_rate"]), _none(r["origin"]), _none(r["teacher"]))
        for attr in ("kbps", "frame_rate", "origin", "teacher"):
            if getattr(row, attr) is None and _none(r[attr]) is not None:
                setattr(row, attr, _none(r[attr]))
        row.cells[column_key(r)] = Cell(_none(r["value"]), _none(r["ci_low"]), _none(r["ci_high"]),
                                        int(r["n"]), _none(r["per_item"]), aggregate=_get(r, "aggregate"))
    ref = [r for r in rows.values() if r.is_reference]
    rest = sorted((r for r in rows.values() if not r.is_reference),
                  key=lambda r: (r.kbps is None, r.kbps or 0.0, r.codec, r.decode or "", r.n_q or 0))
    return ref + rest


def _ordered(rows: list[Row], col: Column) -> list[Row]:
    scored = [r for r in rows if not r.is_reference and col.key in r.cells and r.cells[col.key].value is not None]
    return sorted(scored, key=lambda r: r.cells[col.key].value, reverse=bool(col.higher_is_better))


def _mean_ranks(table: Table) -> None:
    """Mean rank over the table's ranked metrics; None for any row missing one (never a partial average)."""
    cols = [c for c in table.columns if c.higher_is_better is not None and c.ranked]
    if len(cols) < 2:
        return
    ranks: dict[int, list[float]] = {}
    for col in cols:
        ranked = _ordered(table.rows, col)
        vals = [r.cells[col.key].value for r in ranked]
        for r in ranked:
            v = r.cells[col.key].value
            first = vals.index(v) + 1
            last = len(vals) - vals[::-1].index(v)
            ranks.setdefault(id(r), []).append((first + last) / 2)  # ties share the mean rank
    for r in table.rows:
        got = ranks.get(id(r), [])
        r.mean_rank = sum(got) / len(got) if not r.is_reference and len(got) == len(cols) else None
    left_out = [c for c in table.columns if c.higher_is_better is not None and not c.ranked]
    for c in left_out:
        table.notes.append(f"{c.label} does not enter the mean rank: {c.rank_reason}")


def build_table(df, kind: str, name: str, n_boot: int = 1000, split: str | None = None,
                collapsed: frozenset[str] = frozenset()) -> Table:
    plan = load_plan()
    table = Table(kind, name, _columns(df), _rows(df, kind), split=split, alpha=plan.alpha, collapsed=collapsed)
    if n_boot != plan.n_boot:
        from dataclasses import replace

        plan = replace(plan, n_boot=n_boot)
    table.contrasts = plan_contrasts(table, plan)
    mark_best(table, table.contrasts, plan.alpha)
    table.notes += _unavailable_notes(df, table)
    if kind == "readiness":  # no mean rank: fewer bits/s is better only where the codes carry the audio
        table.notes.append("Held-out NLL rewards predictable tokens, and a collapsed codebook is trivially "
                           "predictable: read each row beside its codebook use and its task scores; no mean rank.")
    else:
        _mean_ranks(table)
    return table


def _unavailable_notes(df, table: Table) -> list[str]:
    """One line per reason a cell is empty: which codec and column could not be scored, and why (the record's
    ``extra.unavailable``), so an empty cell is never read as a missing run."""
    if "unavailable" not in df.columns:
        return []
    labels = {c.key: c.label for c in table.columns}
    by_why: dict[str, set[str]] = {}
    for _, r in df.iterrows():
        why = _get(r, "unavailable")
        if why and _none(r["value"]) is None:
            by_why.setdefault(str(why), set()).add(f"`{r['codec']}` {labels.get(column_key(r), r['metric'])}")
    return [f"Not scored: {', '.join(sorted(who))}: {why}." for why, who in sorted(by_why.items())]


def _readiness_rows(sdf, ready):
    """One row per codec: the stage (``nll_bps@ar``/``@nar``) moves from the decode into the column."""
    sdf = sdf.copy()
    dec = sdf.loc[ready, "decode"]
    sdf.loc[ready, "metric"] = [m if d is None or (isinstance(d, float) and math.isnan(d)) else f"{m}@{d}"
                                for m, d in zip(sdf.loc[ready, "metric"], dec, strict=True)]
    sdf.loc[ready, "decode"] = None
    return sdf


def build_sections(frame, n_boot: int = 1000) -> list[Section]:
    if frame is None or frame.empty:
        return []
    sections = []
    groups = sorted(frame.groupby(["schema_version", "preset"]),
                    key=lambda g: (g[0][0], _rank_of(g[0][1], PRESET_ORDER)))
    for (ver, preset), sdf in groups:
        tables = []
        diag = sdf["backend"] == DIAGNOSTICS_BACKEND
        n_diag, codebooks, sdf = int(diag.sum()), codebook_use(sdf[diag].sort_values("time")), sdf[~diag]
        kind = sdf["kind"].where(sdf["kind"].isin(["codec", "reference", "task"]), "other")
        # A reference row sits with what it is the floor of: a task's table, or codec evaluation (no task).
        kind = kind.where(kind != "reference", sdf["task"].isna().map({True: "codec", False: "task"}))
        ready = sdf["backend"] == READINESS_BACKEND
        kind = kind.where(~ready, "readiness")
        sdf = _readiness_rows(sdf, ready)
        for k in ("task", "readiness", "codec", "other"):
            kdf = sdf[kind == k]
            default = "all" if k == "codec" else "(none)"
            for name, tdf in kdf.groupby(kdf["task"].fillna(default), sort=True):
                for why, part in partition(tdf, k):
                    tables.append(build_table(part, k, str(name), n_boot, split=why,
                                              collapsed=frozenset(c.codec for c in codebooks if c.collapsed)))
        backends = {r["backend_id"]: r["backend_info"] for _, r in sdf.sort_values("backend_id").iterrows()}
        sections.append(Section(int(ver), str(preset), tables, sorted(set(sdf["hardware"])), n_diag,
                                sorted(set(sdf["git_sha"])), backends, codebooks))
    return sections
