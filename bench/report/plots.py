"""Figures referenced from the leaderboard (matplotlib Agg; PNG and SVG side by side).

- ``bitrate_<task>``: bitrate vs each metric of a task (one point per codec, 95% CI bars, clean
  reference as a dashed line); ``codec_<recipe>``: the same for reconstruction over n_q (a line per codec).
- ``train_<task>``: LM training curves per codec, from ``extra.train_curve`` or ``<run_dir>/train_log.csv``.
- ``wer_items_<task>``: per-utterance WER distributions per codec, from ``extra.per_item``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from bench.atomic import atomic_path
from bench.report.tables import Column, Section, Table

MARKERS = "osD^vP*Xh<>"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "codec-bench", "font.size": 10, "axes.grid": True, "grid.alpha": 0.3})
    return plt


def codec_colors(names) -> dict[str, tuple]:
    """One colour per codec, stable across every figure (sorted names -> tab10)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    out = {n: cmap(i % 10) for i, n in enumerate(sorted(n for n in set(names) if n != "reference"))}
    out["reference"] = (0.2, 0.2, 0.2, 1.0)
    return out


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        p = out_dir / f"{stem}.{ext}"
        # atomic and unique per writer: a reader never sees half a figure, two reports never share a temp file
        with atomic_path(p) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight", format=ext,
                        metadata={"Date": None} if ext == "svg" else None)
        paths.append(p)
    return paths


def _grid(n: int):
    ncols = min(n, 3)
    return math.ceil(n / ncols), ncols


def _log_x(ax, xs: list[float]) -> None:
    """Log-2 bitrate axis when bitrates span a wide range; ticks at the bitrates actually present."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    if xs and min(xs) > 0 and max(xs) / min(xs) >= 3:
        ax.set_xscale("log", base=2)
    ticks = []
    for t in sorted({round(x, 3) for x in xs}):
        if not ticks or t / ticks[-1] >= 1.2:  # labels of nearby bitrates (2 and 2.25 kbps) would overprint
            ticks.append(t)
    if 0 < len(ticks) <= 8:
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _dodge(rows, variants) -> dict[tuple, float]:
    """Multiplicative x offsets so codecs at the same bitrate do not hide each other."""
    by_rate: dict[float, list[tuple]] = {}
    for v in variants:
        rates = {round(r.kbps, 6) for r in rows if (r.codec, r.decode) == v}
        for rate in rates:
            by_rate.setdefault(rate, []).append(v)
    out = {}
    for rate, vs in by_rate.items():
        for j, v in enumerate(vs):
            out[(v, rate)] = 2 ** (0.05 * (j - (len(vs) - 1) / 2))
    return out


def _metric_title(c: Column) -> str:
    way = {True: "higher is better", False: "lower is better"}.get(c.higher_is_better, "")
    return f"{c.label}\n({way})" if way else c.label


def plot_bitrate(table: Table, colors: dict, out_dir: Path, title: str) -> list[Path]:
    plt = _plt()
    rows = [r for r in table.rows if not r.is_reference and r.kbps is not None]
    cols = [c for c in table.columns if any(c.key in r.cells and r.cells[c.key].value is not None for r in rows)]
    if not rows or not cols:
        return []
    nr, nc = _grid(len(cols))
    fig, axes = plt.subplots(nr, nc, figsize=(4.3 * nc, 3.5 * nr), squeeze=False)
    handles: dict[str, object] = {}
    variants = sorted({(r.codec, r.decode) for r in rows}, key=lambda v: (v[0], v[1] or ""))
    dodge = _dodge(rows, variants) if table.kind == "task" else {}
    for ax, col in zip(axes.flat, cols, strict=False):
        xs = []
        for vi, (codec, decode) in enumerate(variants):
            pts = sorted((r for r in rows if (r.codec, r.decode) == (codec, decode) and col.key in r.cells
                          and r.cells[col.key].value is not None), key=lambda r: r.kbps)
            if not pts:
                continue
            x = [r.kbps * dodge.get(((codec, decode), round(r.kbps, 6)), 1.0) for r in pts]
            y = [r.cells[col.key].value for r in pts]
            lo = [r.cells[col.key].ci_low for r in pts]
            hi = [r.cells[col.key].ci_high for r in pts]
            yerr = None
            if all(v is not None for v in lo + hi):
                # clipped at 0: a value outside its own CI (median-based or set-level scores) must not crash a plot
                yerr = [[max(b - a, 0.0) for a, b in zip(lo, y, strict=True)],
                        [max(b - a, 0.0) for a, b in zip(y, hi, strict=True)]]
            label = codec + (f" ({decode})" if decode and table.show_decode else "")
            h = ax.errorbar(x, y, yerr=yerr, fmt=MARKERS[vi % len(MARKERS)] + ("-" if len(pts) > 1 else ""),
                            color=colors.get(codec), capsize=3, ms=7, label=label)
            handles.setdefault(label, h)
            if table.kind == "codec":
                for r, xv, yv in zip(pts, x, y, strict=True):
                    ax.annotate(f"n_q={r.n_q}", (xv, yv), textcoords="offset points", xytext=(5, -11), fontsize=7,
                                color=colors.get(codec))
            xs += [r.kbps for r in pts]
        ref = next((r for r in table.rows if r.is_reference and col.key in r.cells), None)
        if ref is not None and ref.cells[col.key].value is not None:
            h = ax.axhline(ref.cells[col.key].value, color=colors["reference"], ls="--", lw=1.2)
            handles.setdefault("clean reference", h)
        _log_x(ax, xs)
        if xs:
            span = max(xs) / min(xs) if min(xs) > 0 else 1
            if span < 1.5:  # one bitrate only: give the points some room
                ax.set_xlim(min(xs) * 0.7, max(xs) * 1.3)
        ax.set_title(_metric_title(col), fontsize=10)
        ax.set_xlabel("bitrate (kbps)")
    for ax in list(axes.flat)[len(cols):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=12)
    order = [k for k in sorted(handles) if k != "clean reference"] + [k for k in handles if k == "clean reference"]
    ncol = min(len(handles), max(2, nc + 1))
    fig.legend([handles[k] for k in order], order, loc="lower center", ncol=ncol,
               bbox_to_anchor=(0.5, -0.02), frameon=False)
    legend_rows = math.ceil(len(handles) / ncol)
    fig.tight_layout(rect=(0, min(0.3, 0.05 * legend_rows / nr + 0.02), 1, 1))
    paths = _save(fig, out_dir, ("bitrate_" if table.kind == "task" else "codec_") + table.name)
    plt.close(fig)
    return paths


def read_train_log(path: Path) -> dict[str, list[float]] | None:
    """``train_log.csv``: header ``step,loss[,val_loss,...]``; blank cells are missing values."""
    if not path.is_file():
        return None
    out: dict[str, list[float]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                out.setdefault(k, []).append(float(v) if v not in ("", None) else math.nan)
    return out if "step" in out and "loss" in out else None


def read_tensorboard(tb_dir: Path) -> dict[str, dict[str, list[float]]]:
    """``<run dir>/tb/<stage>/events*``: the scalar ``loss`` (and ``val_loss``) of each training stage."""
    if not tb_dir.is_dir():
        return {}
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return {}
    out = {}
    for stage in sorted(p for p in tb_dir.iterdir() if p.is_dir()):
        acc = EventAccumulator(str(stage), size_guidance={"scalars": 0})
        acc.Reload()
        tags = acc.Tags().get("scalars", [])
        if "loss" not in tags:
            continue
        ev = acc.Scalars("loss")
        curve = {"step": [e.step for e in ev], "loss": [e.value for e in ev]}
        if "val_loss" in tags:
            vev = acc.Scalars("val_loss")
            curve |= {"val_step": [e.step for e in vev], "val_loss": [e.value for e in vev]}
        out[stage.name] = curve
    return out


def _curves_of(row: dict, data_root: Path | None) -> dict[str, dict]:
    """{stage: curve}: ``extra.train_curve``, else ``train_log.csv``, else TensorBoard, in the run dir."""
    curve = row.get("train_curve")
    if isinstance(curve, dict) and curve:
        # one curve ({"step", "loss", ...}) or one per training stage ({"ar": {...}, "nar": {...}})
        return {"": curve} if "step" in curve else {k: v for k, v in curve.items() if isinstance(v, dict)}
    run = Path(row["run_dir"]) if isinstance(row.get("run_dir"), str) else Path("runs") / str(row.get("run_id"))
    if not run.is_absolute():
        if data_root is None:
            return {}
        run = data_root / run
    log = read_train_log(run / "train_log.csv")
    return {"": log} if log else read_tensorboard(run / "tb")


def plot_train(frame, preset: str, task: str, colors: dict, out_dir: Path, data_root: Path | None) -> list[Path]:
    plt = _plt()
    sub = frame[(frame["preset"] == preset) & (frame["task"] == task) & (frame["kind"] != "codec")]
    curves: dict[str, dict[str, dict]] = {}
    for row in sub.to_dict("records"):
        if row["codec"] not in curves and row["codec"] != "reference":
            c = _curves_of(row, data_root)
            if c:
                curves[row["codec"]] = c
    if not curves:
        return []
    stages = sorted({s for c in curves.values() for s in c})
    styles = ["-", ":", "-.", (0, (5, 1))]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    n_lines = 0
    for codec in sorted(curves):
        for stage, c in sorted(curves[codec].items()):
            ls = styles[stages.index(stage) % len(styles)]
            name = codec + (f" [{stage}]" if stage else "")
            ax.plot(c["step"], c["loss"], color=colors.get(codec), lw=1.6, ls=ls, label=f"{name} train")
            n_lines += 1
            if "val_loss" in c:
                ax.plot(c.get("val_step", c["step"]), c["val_loss"], color=colors.get(codec), lw=1.2, ls="--",
                        label=f"{name} valid")
                n_lines += 1
    ax.set_xlabel("training step")
    ax.set_ylabel("LM cross-entropy (nats/token)")
    ax.set_title(f"{task} LM training curves ({preset})")
    if n_lines > 4:  # many curves: the legend goes outside, where it cannot hide them
        fig.set_size_inches(11.5, 4)
        ax.legend(fontsize=8, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        ax.legend(fontsize=8)
    fig.tight_layout()
    paths = _save(fig, out_dir, f"train_{task}")
    plt.close(fig)
    return paths


def plot_wer_items(table: Table, colors: dict, out_dir: Path, title: str) -> list[Path]:
    import numpy as np

    plt = _plt()
    cols = [c for c in table.columns if c.metric in ("wer", "cer")]
    panels = []
    for col in cols:
        data = []
        for r in table.rows:
            cell = r.cells.get(col.key)
            vals = [v for v in (cell.per_item or {}).get("values", []) if v is not None] if cell else []
            if vals:
                name = "clean reference" if r.is_reference else r.codec + (f" ({r.decode})" if table.show_decode
                                                                           and r.decode else "")
                data.append((name, r.codec, vals))
        if data:
            panels.append((col, data))
    if not panels:
        return []
    height = max(2.5, 0.45 * max(len(d) for _, d in panels) + 1.2)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), height), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (col, data) in zip(axes.flat, panels, strict=False):
        data = data[::-1]  # reference at the top
        ax.boxplot([d[2] for d in data], vert=False, widths=0.55, showfliers=False,
                   medianprops={"color": "black"}, boxprops={"color": "0.4"}, whiskerprops={"color": "0.4"})
        # a single hallucinating utterance (WER 15) would squeeze every box into the left edge: cap the axis
        # at the 98th percentile (at least 2) and pin the few points beyond it to the edge, counted in a note
        pooled = np.concatenate([np.asarray(d[2], dtype=float) for d in data if len(d[2])] or [np.zeros(1)])
        cap = max(2.0, float(np.percentile(pooled, 98)) * 1.1)
        for i, (_, codec, vals) in enumerate(data, 1):
            shown = np.minimum(np.asarray(vals, dtype=float), cap)
            ax.scatter(shown, i + rng.uniform(-0.15, 0.15, len(vals)), s=12, alpha=0.7, color=colors.get(codec),
                       zorder=3)
            ax.scatter([min(np.mean(vals), cap)], [i], marker="|", s=300, color="red", zorder=4)
            beyond = int(np.sum(np.asarray(vals, dtype=float) > cap))
            if beyond:
                ax.annotate(f"{beyond} > {cap:.1f} \u2192", (cap, i), xytext=(-4, 8), textcoords="offset points",
                            ha="right", fontsize=7, color="0.3")
        ax.set_yticks(range(1, len(data) + 1), [d[0] for d in data])
        ax.set_xlabel(f"per-utterance {col.label}  (red bar: mean)")
        ax.set_xlim(0, cap * 1.03)
        ax.grid(axis="y", alpha=0)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    paths = _save(fig, out_dir, f"wer_items_{table.name}")
    plt.close(fig)
    return paths


def render_all(sections: list[Section], frame, plots_dir: Path, rel_to: Path,
               data_root: Path | None = None) -> dict[tuple[str, str, str], list[str]]:
    """Write every figure; return {(preset, table kind, table name): [PNG paths relative to ``rel_to``]}."""
    colors = codec_colors(frame["codec"]) if frame is not None and not frame.empty else {}
    out: dict[tuple[str, str, str], list[str]] = {}
    for s in sections:
        d = plots_dir / s.preset
        for t in s.tables:
            if t.kind == "readiness":  # its curves are in the task's training plot (val_loss)
                continue
            what = f"{t.name} ({s.preset} preset)"
            paths = plot_bitrate(t, colors, d, f"Bitrate vs metrics: {what}" if t.kind == "task"
                                 else f"Codec reconstruction vs bitrate: {what}")
            if t.kind == "task":
                paths += plot_train(frame, s.preset, t.name, colors, d, data_root)
                paths += plot_wer_items(t, colors, d, f"Per-utterance WER: {what}")
            pngs = [p for p in paths if p.suffix == ".png"]
            out[(s.preset, t.kind, t.name)] = [str(p.relative_to(rel_to)) if p.is_relative_to(rel_to) else str(p)
                                               for p in pngs]
    return out
