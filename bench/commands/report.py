"""Report verbs: ``bench report``, ``bench compare``, ``bench check`` (option parsing only).

Malformed records (``RecordError``), records that may not be compared (``IncomparableRecords``) and
unreadable files end in the CLI's one error line (:mod:`bench.errors`), exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

ResultsDir = typer.Option(None, "--results-dir", help="Results root (default $BENCH_RESULTS or ./results).")


def _results(d: Path | None) -> Path:
    from bench.paths import results_root

    return results_root(d)


FORMATS = ("md", "csv", "json", "html")  # bench.report.build.FORMATS (not imported here: it pulls in pandas)


def register(app: typer.Typer, data_app: typer.Typer) -> None:  # noqa: ARG001 - data verbs live elsewhere
    @app.command("report")
    def report_cmd(
        results_dir: Path | None = ResultsDir,
        fmt: str = typer.Option("md", "--format", help="md | csv | json | html"),
        preset: str | None = typer.Option(None, "--preset", help="Only this preset (default: every preset found)."),
        out: Path | None = typer.Option(None, "--out", help="Output file (default <results-dir>/LEADERBOARD.<fmt>)."),
        plots: bool = typer.Option(True, "--plots/--no-plots", help="Draw figures under <results-dir>/plots/."),
        skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Skip malformed records (listed in header)."),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="Data root: run dirs for curves/per-item files."),
    ) -> None:
        """Write the leaderboard (and plots) from results/records/."""
        from bench.cli import _fail

        if fmt not in FORMATS:
            _fail(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
        from bench.paths import data_root
        from bench.report.build import write_report

        path = write_report(_results(results_dir), fmt, preset, out, plots, skip_invalid, data_root=data_root(data_dir))
        typer.echo(f"wrote {path}")

    @app.command("compare")
    def compare_cmd(
        a: str = typer.Argument(..., help="Codec A."),
        b: str = typer.Argument(..., help="Codec B."),
        task: str = typer.Option(..., "--task", help="Task name, or 'codec' for reconstruction records."),
        metric: str | None = typer.Option(None, "--metric", help="Metric (e.g. wer) or backend name."),
        preset: str | None = typer.Option(None, "--preset"),
        results_dir: Path | None = ResultsDir,
    ) -> None:
        """Paired differences A − B with 95% CIs, per metric (paired bootstrap over shared items)."""
        from bench.report.compare import compare, only_in, render
        from bench.report.load import load_results

        frame = load_results(_results(results_dir), preset=preset).frame
        rows = compare(frame, a, b, task, metric)
        if not rows:
            typer.echo(f"error: no {task!r} cells measured for both {a!r} and {b!r}", err=True)
            raise typer.Exit(1)
        typer.echo(render(rows, a, b), nl=False)
        xa, xb = only_in(frame, a, b, task, metric)
        for who, xs in ((a, xa), (b, xb)):
            if xs:
                typer.echo(f"only {who}: {', '.join(xs)}")

    @app.command("check")
    def check_cmd(
        against: Path = typer.Option(..., "--against", help="Baseline file, e.g. results/baselines/smoke.json."),
        update: bool = typer.Option(False, "--update", help="Rewrite the baseline from the current records."),
        preset: str | None = typer.Option(None, "--preset", help="Preset (default: the baseline's, or its file stem)."),
        allow_improvements: bool = typer.Option(False, "--allow-improvements", help="Pass good-direction moves."),
        results_dir: Path | None = ResultsDir,
    ) -> None:
        """Regression gate: exit 1 when a metric moves beyond its CI-derived tolerance."""
        import json

        from bench.cli import _fail
        from bench.report.gate import check, make_baseline, render, write_baseline
        from bench.report.load import load_results

        old = None
        if against.is_file():
            try:
                old = json.loads(against.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                _fail(f"{against}:{e.lineno}: not valid JSON ({e.msg}) — fix it, or rewrite it with --update")
        preset = preset or (old or {}).get("preset") or against.stem
        frame = load_results(_results(results_dir), preset=preset).frame
        if update:
            doc = make_baseline(frame, preset, old)
            if old is not None:
                typer.echo(render(check(frame, old), against), nl=False)
            write_baseline(against, doc)
            typer.echo(f"wrote {against} ({len(doc['entries'])} cells, preset {preset})")
            return
        if old is None:
            _fail(f"{against}: no baseline there — create it with --update")
        findings = check(frame, old, allow_improvements)
        typer.echo(render(findings, against), nl=False)
        if any(f.failing for f in findings):
            raise typer.Exit(1)
