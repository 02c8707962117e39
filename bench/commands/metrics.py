"""``bench metrics [validate]``: option parsing only; the listing is bench.listing's, the work metrics_validate's."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    from bench.cli import DataDir, FormatOpt, _fail, _table, console
    from bench.errors import debugging, describe

    metrics_app = typer.Typer(invoke_without_command=True, no_args_is_help=False,
                              help="List metric backends; `bench metrics validate` checks the offline ones.")

    @metrics_app.callback()
    def metrics_cmd(ctx: typer.Context, fmt: str = FormatOpt) -> None:
        """List metric backends and whether each can run here (and if not, why)."""
        if ctx.invoked_subcommand is not None:
            return
        from bench.listing import metric_rows

        _table(metric_rows(), ["name", "metric", "level", "tier", "available", "why"], "metric backends", fmt)

    @metrics_app.command("validate")
    def validate_cmd(
        recipe: str = typer.Option("speech", "--recipe", "-r", help="A recipe whose clips have text and speakers."),
        preset: str = typer.Option("smoke", "--preset", "-p"),
        split: str = typer.Option("test", "--split", help="Which clips (validation; --speed always uses test)."),
        asr: list[str] = typer.Option(["wer/faster-whisper-tiny.en", "wer/faster-whisper-base"], "--asr",
                                      help="WER backend(s) to validate; repeat for several."),
        speed: bool = typer.Option(False, "--speed", help="Time every offline backend instead (s per s of audio)."),
        n: int = typer.Option(8, "--n", min=1, help="--speed: clips timed per backend."),
        only: list[str] = typer.Option([], "--only", help="--speed: these backends only (repeat)."),
        out: Path | None = typer.Option(None, "--out", help="JSON document path (default: results/metrics/"
                                        "validation_<recipe>-<preset>.json, or throughput_cpu.json with --speed)."),
        data_dir: Path | None = DataDir,
    ) -> None:
        """What the offline scorers say about clean speech: each WER backend's corpus WER (overall and per voice),
        DNSMOS of the clean audio, resemblyzer's speaker EER over the voices. With --speed: seconds of compute
        per second of audio of every offline backend on this CPU. One thread throughout; builds the recipe first
        if needed."""
        from bench import data, metrics_validate
        from bench.atomic import write_json
        from bench.metrics.base import BackendUnavailable
        from bench.paths import repo_root

        metrics_validate.one_thread()
        cmd = f"bench metrics validate --recipe {recipe} --preset {preset}"
        try:
            if speed:
                cmd += f" --speed --n {n}" + "".join(f" --only {o}" for o in only)
                doc = metrics_validate.speed(recipe, preset, n, only, data_dir, log=console.print)
                dest = out or repo_root() / "results" / "metrics" / "throughput_cpu.json"
            else:
                cmd += f" --split {split}" + "".join(f" --asr {a}" for a in asr)
                doc = metrics_validate.validate(recipe, preset, split, asr, data_dir, log=console.print)
                dest = out or repo_root() / "results" / "metrics" / f"validation_{recipe}-{preset}.json"
        except (data.RecipeError, ValueError, KeyError, BackendUnavailable) as e:
            if debugging():
                raise
            _fail(describe(e) or str(e))
        write_json(dest, {"command": cmd, **doc})
        console.print(f"wrote {dest}")

    app.add_typer(metrics_app, name="metrics")
