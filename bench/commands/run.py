"""Verbs ``bench tokenize`` and ``bench run`` (task runners). Option parsing only; work is in bench.tasks."""

from __future__ import annotations

from pathlib import Path

import typer


def _split(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    @app.command("tokenize")
    def tokenize_cmd(
        codec: str = typer.Option(..., "--codec", help="Codec name (see `bench codecs`)."),
        recipe: str = typer.Option(..., "--recipe", help="Data recipe: speech, music, sound, ..."),
        preset: str = typer.Option("smoke", "--preset", help="Data preset."),
        codec_preset: str = typer.Option(None, "--codec-preset", help="Trained-here codec preset (default: --preset)."),
        device: str = typer.Option("cpu", "--device"),
        batch_size: int = typer.Option(8, "--batch-size"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="Data root (default $BENCH_DATA or ./data)."),
    ) -> None:
        """Encode a recipe once with a codec into the token cache (resumable; reused by every task run)."""
        from bench.tasks.tokens import tokenize

        c = tokenize(codec, recipe, preset, codec_preset, data_dir=data_dir, device=device, batch_size=batch_size)
        typer.echo(f"{c.dir}  ({len(c.index)} clips, {c.n_q} codebooks at {c.frame_rate:g} Hz)")

    @app.command("run")
    def run_cmd(
        codec: str = typer.Option(..., "--codec", help="Codec name, comma list, or 'all'."),
        task: str = typer.Option(..., "--task", help="tts, music, sound, or a comma list."),
        preset: str = typer.Option("smoke", "--preset", help="smoke (CI) | cpu (make bench) | small | paper."),
        force: bool = typer.Option(False, "--force", help="Rerun a finished run from scratch."),
        set_: list[str] = typer.Option([], "--set", help="Override a task config value: --set train.steps=50. "
                                       "The run files under its own preset variant (smoke+set-<hash>)."),
        device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
        nproc: int = typer.Option(1, "--nproc", help="LM training processes (torchrun DDP)."),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="Data root (default $BENCH_DATA or ./data)."),
        results_dir: Path | None = typer.Option(None, "--results-dir", help="Results root (default ./results)."),
        until: str = typer.Option(None, "--until", help="Stop after tokenize | train | generate (GPU half)."),
    ) -> None:
        """Train the task's LM over the codec's tokens, generate, decode, score and write records."""
        from bench.cli import _fail
        from bench.codecs import CODECS
        from bench.tasks import TASKS
        from bench.tasks.runner import UNTIL, run, run_matrix

        if until is not None and until not in UNTIL:
            _fail(f"--until {until!r}: choose one of {', '.join(UNTIL)}")
        tasks = _split(task)
        codecs = CODECS.names() if codec == "all" else _split(codec)
        if not tasks or not codecs:
            _fail("--task and --codec need at least one name each")
        for t in tasks:  # every name of a matrix is checked (did you mean ...?) before any cell starts
            TASKS.meta(t)
        for c in codecs:
            CODECS.meta(c)
        kw = dict(overrides=set_, device=device, force=force, data_dir=data_dir, results_dir=results_dir, nproc=nproc,
                  until=until)
        if len(tasks) == 1 and len(codecs) == 1:
            run(tasks[0], codecs[0], preset, **kw)
            return
        status = run_matrix(tasks, codecs, preset, **kw)
        for (t, c), s in status.items():
            typer.echo(f"{t:<6} {c:<24} {s}")
        if any(s != "ok" for s in status.values()):
            raise typer.Exit(1)
