"""``bench data build|info|check|presets``: option parsing only; the work is in bench.data and bench.data_check."""

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

    @data_app.command("check")
    def check_cmd(
        recipe: str = typer.Argument(..., help="A speech-like recipe whose clips have text: speech | grammar | "
                                     "speech-real | folder."),
        preset: str = typer.Option("smoke", "--preset", "-p"),
        metric: list[str] = typer.Option(["wer/faster-whisper-tiny.en"], "--metric", "-m",
                                         help="WER backend(s) (bench metrics); repeat for several."),
        per_voice: int = typer.Option(12, "--per-voice", min=0, help="Clips per voice (first by id; 0 = all)."),
        flag: float = typer.Option(0.5, "--flag", help="Flag voices whose corpus WER is above this."),
        out: Path | None = typer.Option(None, "--out", help="Write the JSON document here, a markdown table beside "
                                        "it (default: results/data/asr_check_<recipe>-<preset>.json)."),
        data_dir: Path | None = DataDir,
    ) -> None:
        """Per-voice ASR intelligibility of a built recipe: corpus WER of each voice's clean clips (held-out
        voices on test clips, training voices on valid/train clips) with the benchmark's own WER backends, the
        held-out voices pooled, voices above --flag flagged. Builds the recipe first if needed."""
        from bench import data
        from bench.atomic import write_json, write_text
        from bench.data_check import check, markdown
        from bench.paths import repo_root

        try:
            doc = check(recipe, preset, metric, per_voice, flag, data_dir, log=console.print)
        except (data.RecipeError, ValueError) as e:
            if debugging():
                raise
            _fail(describe(e) or str(e))
        dest = out or repo_root() / "results" / "data" / f"asr_check_{recipe}-{preset}.json"
        write_json(dest, doc)
        write_text(dest.with_suffix(".md"), markdown(doc))
        for m, d in doc["metrics"].items():
            p = d["heldout_pooled"]
            if p:
                console.print(f"{m}: held-out voices pooled WER {p['wer']:.3f} [{p['ci'][0]:.3f}, {p['ci'][1]:.3f}]")
            if d["flagged"]:
                console.print(f"{m}: flagged (WER > {flag:g}): {', '.join(d['flagged'])}")
        console.print(f"wrote {dest} and {dest.with_suffix('.md').name}")

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
