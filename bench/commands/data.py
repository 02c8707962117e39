"""``bench data build|info|check``: option parsing only; the work is in bench.data."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    from bench.cli import DataDir, SetOpt, _fail, console
    from bench.data import RECIPES  # names only: importing bench.data loads no recipe
    from bench.errors import debugging, describe

    @data_app.command("build")
    def build_cmd(
        recipe: str = typer.Argument(..., help=" | ".join(RECIPES.names())),
        preset: str = typer.Option("smoke", "--preset", "-p", help="smoke | cpu | small | paper (or a recipe's own)"),
        data_dir: Path | None = DataDir,
        overrides: list[str] = SetOpt,
        force: bool = typer.Option(False, "--force", help="Rewrite manifest and stats even if marked done."),
    ) -> None:
        """Build a dataset (resumable; a finished build is a no-op) and print its stats."""
        import time

        from bench import data

        t0 = time.time()
        try:
            manifest = data.build(recipe, preset, data_dir, overrides, force=force)
        except (data.RecipeError, ValueError, RuntimeError) as e:  # a recipe's own checks raise plain errors
            if debugging():
                raise
            _fail(describe(e) or str(e))
        console.print(f"[green]ready[/green] {manifest}  ({time.time() - t0:.1f} s)")
        _print_stats(console, data.info(recipe, preset, data_dir))

    @data_app.command("info")
    def info_cmd(
        recipe: str = typer.Argument(...),
        preset: str = typer.Option("smoke", "--preset", "-p"),
        data_dir: Path | None = DataDir,
    ) -> None:
        """Print a built dataset's stats (hours, clips, speakers/pieces/classes, splits, histogram)."""
        from bench import data

        try:
            stats = data.info(recipe, preset, data_dir)
        except data.RecipeError as e:
            _fail(describe(e) or str(e))
        console.print(f"{data.dataset_dir(recipe, preset, data_dir)}")
        _print_stats(console, stats)

    @data_app.command("presets")
    def presets_cmd() -> None:
        """List recipes and their presets."""
        from bench import data

        for r in data.RECIPES.names():
            console.print(f"{r}: {', '.join(data.presets(r))}")


def _print_stats(console, stats: dict) -> None:
    from rich.table import Table

    g = stats.get("group_key", "speaker")
    console.print(f"clips {stats['clips']}  hours {stats['hours']} ({stats['minutes']} min)  "
                  f"{g}s {stats.get(g + 's')}  "
                  f"disk {stats.get('disk_mb')} MB  skipped {stats.get('skipped', 0)}")
    t = Table(title="splits")
    for c in ("split", "clips", "hours", f"{g}s"):
        t.add_column(c)
    for split, s in stats["splits"].items():
        t.add_row(split, str(s["clips"]), str(s["hours"]), str(s.get(f"{g}s")))
    console.print(t)
    hist = stats.get("duration_histogram", {})
    console.print("durations: " + "  ".join(f"{k}:{v}" for k, v in hist.items() if v))
    for key in ("class_balance",):
        if key in stats:
            console.print(f"{key}: {stats[key]}")
