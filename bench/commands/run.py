"""Verbs ``bench tokenize`` and ``bench run`` (task runners). Option parsing only; work is in bench.tasks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer


def _split(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def cell_command(task: str, codec: str, preset: str, overrides: list[str], *, device: str = "cpu",
                 force: bool = False, data_dir: Path | None = None, results_dir: Path | None = None, nproc: int = 1,
                 until: str | None = None) -> list[str]:
    """The ``bench run`` command line of one cell, with the matrix's options."""
    cmd = [sys.executable, "-m", "bench.cli", "run", "--codec", codec, "--task", task, "--preset", preset,
           "--device", device, "--nproc", str(nproc)]
    for o in overrides:
        cmd += ["--set", o]
    if force:
        cmd.append("--force")
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    if results_dir is not None:
        cmd += ["--results-dir", str(results_dir)]
    if until is not None:
        cmd += ["--until", until]
    return cmd


def run_cells(tasks: list[str], codecs: list[str], preset: str, overrides: list[str],
              **kw) -> dict[tuple[str, str], str]:
    """Every (task, codec) of a local matrix, each in a fresh ``bench run`` process, one after another; a failed
    cell is reported and the matrix goes on. Returns {(task, codec): "ok" | "failed: exit N"}.

    Why processes: in one process a later cell's torch steps ran ~20-40% slower once an earlier cell's scoring
    had loaded the ASR (CTranslate2 brings its own OpenMP runtime; the make bench of 9cc3ce1,
    results/make_bench.json), so a cell's timings and budget would depend on its place in the matrix."""
    status = {}
    for t in tasks:
        for c in codecs:
            cmd = cell_command(t, c, preset, overrides, **kw)
            typer.echo(f"run: {t}/{c}: {' '.join(cmd[1:])}")
            rc = subprocess.run(cmd).returncode
            status[(t, c)] = "ok" if rc == 0 else f"failed: exit {rc}"
            if rc != 0:
                typer.echo(f"run: {t}/{c} failed (exit {rc}); the matrix goes on")
    return status


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
        launcher: str = typer.Option("local", "--launcher", help="local (here, one cell after another, each in "
                                     "its own process) | slurm (submitit) | submitit-local (submitit's jobs "
                                     "here) | ray."),
        launcher_config: Path | None = typer.Option(None, "--launcher-config", help="YAML file of launcher options "
                                                    "(the options below, and slurm: extra sbatch options)."),
        partition: str | None = typer.Option(None, "--partition", help="slurm partition."),
        gpus_per_node: int | None = typer.Option(None, "--gpus-per-node", help="GPUs per job; >1 trains with "
                                                 "torchrun inside the job."),
        nodes: int | None = typer.Option(None, "--nodes", help="Nodes per job (1: a cell's DDP is one node's)."),
        time_limit: str | None = typer.Option(None, "--time", help="Time limit per job: minutes or H:MM:SS "
                                              "(default 24:00:00)."),
        parallel: int | None = typer.Option(None, "--parallel", help="Jobs at once (slurm array parallelism; "
                                            "submitit-local and ray default 1)."),
        ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster (auto, ray://host:10001); "
                                               "default a local instance."),
        wait: bool | None = typer.Option(None, "--wait/--no-wait", help="Wait for every job (default: yes, "
                                         "except slurm)."),
    ) -> None:
        """Train the task's LM over the codec's tokens, generate, decode, score and write records.

        With --launcher other than local each codec trains in one job and each cell runs in its own job after
        it; finished cells are not submitted and `bench status` shows the matrix (docs/GUIDE.md)."""
        from bench.cli import _fail
        from bench.codecs import CODECS
        from bench.tasks import TASKS
        from bench.tasks.config import load_task_config
        from bench.tasks.runner import UNTIL, run

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
        for t in tasks:  # and every task's config with the --set values, before any cell's process starts
            load_task_config(t, preset, set_)
        launch_opts = dict(partition=partition, gpus_per_node=gpus_per_node, nodes=nodes, time=time_limit,
                           array_parallelism=parallel, address=ray_address, wait=wait)
        if launcher != "local" or launcher_config is not None or any(v is not None for v in launch_opts.values()):
            from bench.launch import launch, load_options

            opts = load_options(launcher, launcher_config, **launch_opts)
            if launcher != "local":
                if until is not None:
                    _fail(f"--until with --launcher {launcher}: a launched cell runs to the end — drop --until")
                states = launch(tasks, codecs, preset, set_, options=opts, device=device, nproc=nproc, force=force,
                                data_dir=data_dir, results_dir=results_dir)
                for key, s in states.items():
                    typer.echo(f"{key:<32} {s}")
                if any(s == "failed" for s in states.values()):
                    raise typer.Exit(1)
                return
        kw = dict(overrides=set_, device=device, force=force, data_dir=data_dir, results_dir=results_dir, nproc=nproc,
                  until=until)
        if len(tasks) == 1 and len(codecs) == 1:
            run(tasks[0], codecs[0], preset, **kw)
            return
        status = run_cells(tasks, codecs, preset, set_, device=device, force=force, data_dir=data_dir,
                           results_dir=results_dir, nproc=nproc, until=until)
        for (t, c), s in status.items():
            typer.echo(f"{t:<6} {c:<24} {s}")
        if any(s != "ok" for s in status.values()):
            raise typer.Exit(1)

    @app.command("status")
    def status_cmd(
        preset: str | None = typer.Option(None, "--preset", help="A preset (with its --set variants) or one "
                                          "variant (smoke+set-<hash>); default every launched matrix."),
        lines: int = typer.Option(10, "--lines", help="Log lines shown for each failed job."),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="Data root (default $BENCH_DATA or ./data)."),
        fmt: str = typer.Option("table", "--format", help="table (for people) | tsv | json (for scripts)."),
    ) -> None:
        """Show launched matrices: per job its stage reached, job id, state, wall time and log; the last lines
        of each failed job's log (read from <data>/launch/<preset>/matrix.json)."""
        import json

        from bench.cli import FORMATS, _fail, _table
        from bench.launch import state

        if fmt not in FORMATS:
            _fail(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
        found = state.presets(data_dir)
        chosen = [p for p in found if preset is None or p == preset or p.startswith(preset + "+")]
        if not chosen:
            where = f"preset {preset!r}" if preset else "any preset"
            _fail(f"no launched matrix for {where} under {state.state_path('<preset>', data_dir).parent.parent} — "
                  "launch one with `bench run --launcher ...`" + (f" (launched: {', '.join(found)})" if found else ""))
        all_rows = [{"preset": p, **r} for p in chosen for r in state.rows(state.state_path(p, data_dir), lines)]
        if fmt == "json":
            typer.echo(json.dumps(all_rows, indent=2, default=str))
            return
        cols = ["cell", "stage", "job", "state", "wall", "log"]
        for p in chosen:
            folder = state.state_path(p, data_dir).parent
            rows = [{**r, "wall": state.fmt_wall(r["wall_s"]), "log": state.short(r["log"], folder)}
                    for r in all_rows if r["preset"] == p]
            _table(rows, cols, f"matrix {p} ({folder})", fmt)
            if fmt != "table":
                continue
            for r in rows:  # plain lines, never folded: a traceback reads as it was written
                if "log_tail" in r:
                    typer.echo(f"{r['cell']} {r['state']}: {r['error'] or ''} ({r['log']}, last lines)")
                    for ln in r["log_tail"]:
                        typer.echo(f"  {ln}")
