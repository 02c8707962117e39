"""Regression gate: compare current records with a committed baseline, metric by metric.

A cell moves "beyond tolerance" when ``|current − baseline| > tol`` with

    tol = max(k · sqrt(hw_base² + hw_cur²),  abs_floor,  rel_floor · |baseline|)

where ``hw`` is the half-width of each side's 95% CI (the CI of a difference of two independent
means, scaled by ``k``), and the floors keep deterministic metrics (no CI) from failing on
round-off. Defaults live in the baseline file (``tolerance``) so a change to them is a reviewed diff;
``per_metric`` overrides them for one metric name. The baseline changes only through ``--update``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.atomic import write_json
from bench.report.tables import _none
from bench.results import CELL_KEY, cell_key

BASELINE_VERSION = 1
DEFAULT_TOLERANCE = {"k": 1.0, "abs_floor": 1e-3, "rel_floor": 0.005, "per_metric": {}}
# A baseline holds one preset: its entries are keyed by the rest of the one cell key.
_KEY_FIELDS = tuple(k for k in CELL_KEY if k != "preset")


def entry_key(e: dict) -> str:
    """``kind=task | task=tts | ...``: the cell key as the baseline file spells it (unset fields left out)."""
    cell = cell_key(e)._asdict()
    return " | ".join(f"{k}={cell[k]}" for k in _KEY_FIELDS if cell[k] is not None)


def entry_label(e: dict) -> str:
    """Readable name of a cell: ``tts: dac-16khz (ar+nar) wer [wer/faster-whisper-tiny.en model=...]``."""
    where = "codec eval" + (f" {e['task']}" if e.get("task") else "") if e["kind"] == "codec" else str(e.get("task"))
    variant = ", ".join(x for x in (e.get("decode"), f"n_q={e['n_q']}" if e["kind"] == "codec" and e.get("n_q")
                                    else None) if x)
    return f"{where}: {e['codec']}{f' ({variant})' if variant else ''} {e['metric']} [{e['backend_id']}]"


def _entries(frame, preset: str) -> dict[str, dict]:
    out = {}
    if frame is None or frame.empty:
        return out
    for r in frame[frame["preset"] == preset].to_dict("records"):
        e = {k: _none(r.get(k)) for k in (*_KEY_FIELDS, "backend", "value", "ci_low", "ci_high", "n",
                                           "higher_is_better", "schema_version", *_IDENTITY)}
        if e["n_q"] is not None:
            e["n_q"] = int(e["n_q"])
        out[entry_key(e)] = e
    return out


def make_baseline(frame, preset: str, old: dict | None = None) -> dict[str, Any]:
    """Baseline document for ``preset``: every current cell, keeping the old file's tolerance settings."""
    tol = (old or {}).get("tolerance", DEFAULT_TOLERANCE)
    entries = _entries(frame, preset)
    return {"baseline_version": BASELINE_VERSION, "preset": preset, "tolerance": tol,
            "entries": [entries[k] for k in sorted(entries)]}


def _half_width(e: dict) -> float:
    lo, hi = e.get("ci_low"), e.get("ci_high")
    return 0.0 if lo is None or hi is None else (hi - lo) / 2


def tolerance(base: dict, cur: dict, settings: dict) -> float:
    s = {**DEFAULT_TOLERANCE, **settings}
    s = {**s, **s.get("per_metric", {}).get(base["metric"], {})}
    ci = s["k"] * math.hypot(_half_width(base), _half_width(cur))
    return max(ci, s["abs_floor"], s["rel_floor"] * abs(base["value"] or 0.0))


# What a cell was measured on and how: a baseline cell whose value came from other data, items, budget or
# scorer is not a baseline for this one, whatever the numbers say.
_IDENTITY = ("data_hash", "test_set_hash", "budget_hash", "scorer_sig")


def _incomparable(b: dict, c: dict) -> str | None:
    """The first identity field both sides know and disagree on, e.g. "scorer_sig: a -> b"."""
    for k in _IDENTITY:
        if b.get(k) is not None and c.get(k) is not None and b[k] != c[k]:
            return f"{k} {b[k]} -> {c[k]}"
    return None


@dataclass
class Finding:
    key: str
    label: str
    status: str  # ok | regressed | improved | changed | missing | new | incomparable
    base: float | None = None
    cur: float | None = None
    tol: float | None = None
    why: str | None = None  # for "incomparable": the identity field that differs

    @property
    def failing(self) -> bool:
        return self.status in ("regressed", "improved", "changed", "missing", "incomparable")


def check(frame, baseline: dict, allow_improvements: bool = False) -> list[Finding]:
    preset = baseline["preset"]
    cur = _entries(frame, preset)
    base = {entry_key(e): e for e in baseline.get("entries", [])}
    settings = baseline.get("tolerance", {})
    out = []
    for key in sorted(set(base) | set(cur)):
        b, c = base.get(key), cur.get(key)
        label = entry_label(b or c)
        if b is None:
            out.append(Finding(key, label, "new", None, c["value"]))
            continue
        if c is None or (c["value"] is None and b["value"] is not None):
            out.append(Finding(key, label, "missing", b["value"], None))
            continue
        if b["value"] is None:
            out.append(Finding(key, label, "ok" if c["value"] is None else "new", None, c["value"]))
            continue
        why = _incomparable(b, c)
        if why:
            out.append(Finding(key, label, "incomparable", b["value"], c["value"], why=why))
            continue
        tol = tolerance(b, c, settings)
        delta = c["value"] - b["value"]
        if abs(delta) <= tol:
            status = "ok"
        elif b.get("higher_is_better") is None:
            status = "changed"
        else:
            status = "improved" if (delta > 0) == b["higher_is_better"] else "regressed"
            if status == "improved" and allow_improvements:
                status = "ok"
        out.append(Finding(key, label, status, b["value"], c["value"], tol))
    return out


def render(findings: list[Finding], baseline_path: str | Path) -> str:
    bad = [f for f in findings if f.failing]
    new = [f for f in findings if f.status == "new"]
    n_ok = sum(f.status == "ok" for f in findings)
    lines = [f"checked {len(findings)} cells against {baseline_path}: {n_ok} within tolerance, "
             f"{len(bad)} failing, {len(new)} new"]
    sym = {"regressed": "-", "improved": "+", "changed": "~", "missing": "!", "new": "?", "incomparable": "x"}
    for f in bad + new:
        if f.why:
            what = f"measured on something else than the baseline ({f.why})"
        elif f.base is not None and f.cur is not None:
            what = f"{f.base:.4g} -> {f.cur:.4g} (Δ {f.cur - f.base:+.4g}, tolerance ±{f.tol:.3g})"
        elif f.status == "missing":
            what = f"baseline {f.base} -> no current record"
        else:
            what = f"not in baseline (current {f.cur})"
        lines.append(f"{sym[f.status]} {f.status:12s} {f.label}: {what}")
    if bad:
        lines.append("If the change is intended, run `bench check --against "
                     f"{baseline_path} --update` and commit the baseline diff.")
    return "\n".join(lines) + "\n"


def write_baseline(path: str | Path, doc: dict) -> Path:
    return write_json(path, doc)  # atomic: temp file + rename
