"""``bench report`` as one plain function: load records, build tables, draw plots, write the file.

Crash-consistent: the figures and the leaderboard are written to temp files and renamed into place
together at the end, so a report killed part-way leaves the previous report's files as they were.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from bench.atomic import STALE_S, all_or_nothing, clean_temps, write_text
from bench.report.leaderboard import Header, render_html, render_md, to_csv, to_json
from bench.report.load import load_results
from bench.report.tables import build_sections

FORMATS = ("md", "csv", "json", "html")


def write_report(results_dir: str | Path, fmt: str = "md", preset: str | None = None, out: str | Path | None = None,
                 plots: bool = True, skip_invalid: bool = False, date: str | None = None,
                 command: str | None = None, data_root: Path | None = None, n_boot: int = 1000) -> Path:
    """Write ``<results_dir>/LEADERBOARD.<fmt>`` (or ``out``); plots under ``<results_dir>/plots/``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {FORMATS}")
    results_dir = Path(results_dir)
    loaded = load_results(results_dir, preset=preset, skip_invalid=skip_invalid, data_root=data_root)
    out = Path(out) if out else results_dir / f"LEADERBOARD.{fmt}"
    # temp files of a report killed outright (no lock guards a results folder: only stale ones go)
    clean_temps(out.parent, targets=[out.name], older_than=STALE_S)
    clean_temps(results_dir / "plots", recursive=True, older_than=STALE_S)
    if fmt == "csv":
        return write_text(out, to_csv(loaded.frame))
    sections = build_sections(loaded.frame, n_boot=n_boot)
    header = Header(
        command=command or _default_command(results_dir, fmt, preset),
        date=date or _dt.date.today().isoformat(),
        n_records=len(loaded.frame),
        n_files=len(loaded.files),
        superseded=loaded.superseded,
        skipped=loaded.skipped,
    )
    with all_or_nothing():  # every figure and the leaderboard land together, the leaderboard last
        figs = {}
        if plots and fmt in ("md", "html") and sections:
            from bench.report.plots import render_all

            figs = render_all(sections, loaded.frame, results_dir / "plots", out.resolve().parent, data_root)
        text = {"md": render_md, "html": render_html}.get(fmt)
        written = write_text(out, text(sections, header, figs) if text else to_json(sections, header))
    return written


def _default_command(results_dir: Path, fmt: str, preset: str | None) -> str:
    cmd = "bench report"
    if results_dir.resolve() != Path("results").resolve():
        cmd += f" --results-dir {results_dir}"
    if fmt != "md":
        cmd += f" --format {fmt}"
    if preset:
        cmd += f" --preset {preset}"
    return cmd
