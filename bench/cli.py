"""``bench``: a thin shell. Each verb parses options and calls one plain function elsewhere.

Heavy libraries (torch, whisper, codec packages) are imported inside the verbs that need them,
so ``bench --help`` and the listings start fast.

Two things hold for every verb, in one place (:class:`BenchGroup`): an error the user can fix prints one
line ``error: <file>: <what> — <fix>`` and exits 2 (:mod:`bench.errors`; ``--debug`` or ``BENCH_DEBUG=1``
shows the traceback), and a verb's ``--data-dir`` / ``--results-dir`` become the process's data and
results roots (``$BENCH_DATA`` / ``$BENCH_RESULTS``), so every cache, including those of code that is
handed no root, and every child process land under them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from bench import errors, paths

# parameter name -> the environment variable it sets for the whole process
_ROOT_PARAMS = {"data_dir": paths.ENV_DATA, "results_dir": paths.ENV_RESULTS}


def _root_callback(env: str, previous):
    def callback(ctx, param, value):
        if previous is not None:
            value = previous(ctx, param, value)
        if value is not None:
            paths.use_root(env, value)
        return value

    return callback


def _wire_roots(cmd) -> None:
    """Every ``--data-dir`` / ``--results-dir`` of every verb sets its root as soon as it is parsed."""
    for p in getattr(cmd, "params", ()):
        if p.name in _ROOT_PARAMS and not getattr(p, "_bench_root", False):
            p.callback = _root_callback(_ROOT_PARAMS[p.name], p.callback)
            p._bench_root = True
    for sub in (getattr(cmd, "commands", None) or {}).values():
        _wire_roots(sub)


def _print_error(msg: str) -> None:
    typer.echo(f"{typer.style('error:', fg='red')} {msg}", err=True)


class BenchGroup(TyperGroup):
    """The top-level group: one error path and one data/results root for every verb (see module doc)."""

    def main(self, *args, **kwargs):
        _wire_roots(self)
        saved = {k: os.environ.get(k) for k in (*_ROOT_PARAMS.values(), errors.DEBUG_ENV)}
        try:
            return super().main(*args, **kwargs)
        except Exception as e:
            msg = errors.describe(e)
            if msg is None or errors.debugging() or not kwargs.get("standalone_mode", True):
                raise
            _print_error(msg)
            sys.exit(errors.EXIT_CODE)
        finally:  # an in-process caller (tests, scripts) gets its environment back
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


app = typer.Typer(
    cls=BenchGroup,
    help="codec-bench: train identical LMs over each audio codec's tokens and compare them.\n\n"
    "Offline by default: everything runs on data this repo synthesizes and models it trains or a "
    "package ships. Artefacts go under the data dir (--data-dir, $BENCH_DATA, default ./data).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error (also BENCH_DEBUG=1)."),
             ) -> None:
    if debug:
        os.environ[errors.DEBUG_ENV] = "1"


data_app = typer.Typer(help="Build and inspect data recipes (speech, speech-real, music, sound, folder).")
app.add_typer(data_app, name="data")
console = Console()

DataDir = typer.Option(None, "--data-dir", help="Data root (default $BENCH_DATA or ./data).")
SetOpt = typer.Option([], "--set", help="Override a config value: --set key.sub=value (repeatable).")


FormatOpt = typer.Option("table", "--format", help="table (for people) | tsv | json (for scripts).")
FORMATS = ("table", "tsv", "json")


def _cell(v) -> str:
    return "" if v is None else str(v)


def _table(rows: list[dict], columns: list[str], title: str, fmt: str = "table") -> None:
    """A listing. The first column (the name) is never cut or wrapped, whatever the terminal width or a pipe,
    so ``bench codecs | grep xcodec`` finds every name; other columns fold. tsv/json print every value whole."""
    if fmt not in FORMATS:
        _fail(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "json":
        import json

        typer.echo(json.dumps([{c: r.get(c) for c in columns} for r in rows], indent=2, default=str))
        return
    if fmt == "tsv":
        typer.echo("\t".join(columns))
        for r in rows:
            typer.echo("\t".join(_cell(r.get(c)).replace("\t", " ").replace("\n", " ") for c in columns))
        return
    widths = _fitting(rows, columns, console.width)
    shown = list(widths)
    hidden = [c for c in columns if c not in widths]
    caption = (f"{len(hidden)} more column{'s' * (len(hidden) > 1)} ({', '.join(hidden)}): a wider terminal, "
               "or --format tsv / json" if hidden else None)
    t = Table(title=title, caption=caption)
    t.add_column(columns[0], no_wrap=True, min_width=widths[columns[0]])
    for c in shown[1:]:
        t.add_column(c.replace("_", " "), overflow="fold", min_width=widths[c])  # headers wrap between words
    for r in rows:
        t.add_row(*(_cell(r.get(c)) for c in shown))
    console.print(t)


def _fitting(rows: list[dict], columns: list[str], width: int, cap: int = 24) -> dict[str, int]:
    """The leading columns that fit ``width``, each with its least width: its longest header word and its
    longest value (up to ``cap``; longer values fold). Past that, rich would fold every column to a letter per
    line. The first column (the name) always shows, whole: its header and its longest value uncut."""
    used = 1  # the table's left border
    shown: dict[str, int] = {}
    for i, c in enumerate(columns):
        if i == 0:
            need = max([len(c)] + [len(_cell(r.get(c))) for r in rows])
        else:
            need = max([len(w) for w in c.split("_")] + [min(len(_cell(r.get(c))), cap) for r in rows])
            if used + need + 3 > width:
                break
        used += need + 3  # padding on both sides and a border
        shown[c] = need
    return shown


def _fail(msg: str) -> None:
    """One line ``error: <msg>`` on stderr and exit 2 (the same as an error raised out of a verb)."""
    _print_error(msg)
    raise typer.Exit(errors.EXIT_CODE)


# -- listings ----------------------------------------------------------------------------
@app.command("codecs")
def codecs_cmd(data_dir: Path | None = DataDir, fmt: str = FormatOpt) -> None:
    """List every registered codec: rates, codebooks, bitrate, origin, whether it decodes (encode-only tokenizers
    do not), weight status, licence and how to get them."""
    from bench.listing import codec_rows

    _table(
        codec_rows(data_dir),
        ["name", "sample_rate", "frame_rate", "n_codebooks", "codebook_size", "kbps", "origin", "decodes",
         "present", "teacher", "weights", "licence", "get"],
        "codecs",
        fmt,
    )


@app.command("tasks")
def tasks_cmd(fmt: str = FormatOpt) -> None:
    """List tasks: data recipe, conditioning, metrics and presets."""
    from bench.listing import task_rows

    _table(task_rows(), ["name", "recipe", "conditioning", "metrics", "presets"], "tasks", fmt)


# Each area owns one module under bench/commands/ that adds its verbs to the app. These modules
# import nothing heavy at module level (their verbs import lazily), so start-up stays fast.
_AREAS = ("data", "codec", "score", "run", "report", "metrics")


def _add_area_commands() -> None:
    import importlib

    for area in _AREAS:
        try:
            mod = importlib.import_module(f"bench.commands.{area}")
        except ModuleNotFoundError as e:
            if e.name != f"bench.commands.{area}":
                raise
            continue
        mod.register(app, data_app)


_add_area_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
