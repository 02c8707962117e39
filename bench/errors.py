"""How the CLI reports a failure the user can fix: one line ``error: <file>: <what> — <fix>``, exit code 2.

:func:`describe` turns the project's named errors (the exception classes defined under ``bench.*``:
``RecordError``, ``ManifestError``, ``WeightsUnavailable``, ``BackendUnavailable``, ``UnknownNameError``,
...), a ``FileNotFoundError`` for an unknown preset, OS errors (no permission, read-only file system,
disk full, missing path) and a file that is not UTF-8 text into that line. Anything else is a bug and
keeps its traceback. ``bench --debug`` or ``BENCH_DEBUG=1`` re-raises even the named errors.

No import here pulls in a heavy library: the classes are matched by name along the exception's MRO.
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

EXIT_CODE = 2
DEBUG_ENV = "BENCH_DEBUG"

# The project's named errors (class name, defined in a ``bench.*`` module) -> how to fix. Matched along the
# MRO, so a subclass inherits its parent's advice; a class not listed here but defined under bench.* and
# derived from one of these is covered too.
FIXES: dict[str, str] = {
    "RecordError": "fix or delete that line (`bench report --skip-invalid` skips malformed records)",
    "ManifestError": "fix that line, or rebuild the dataset with `bench data build`",
    "AudioError": "replace or drop that clip, or rebuild the dataset with `bench data build --force`",
    "ConfigError": "fix the preset file or the --set value",
    "RecipeError": "`bench data presets` lists recipes and presets",
    "BudgetError": "the task preset's budget and `bench codecs` (codebooks, rates) must agree",
    "WeightsUnavailable": "`bench codecs` shows each codec's weight status",
    "BackendUnavailable": "`bench metrics` shows which backends run here and why not",
    "TeacherUnavailable": "`bench codecs` shows each codec's teacher",
    "EngineUnavailable": "`bench data presets` lists recipes that need no engine",
    "PackageUnavailable": "install the package, or unpack it where the message says",
    "ScoreError": "see `bench score --help`",
    "NotTrainable": "`bench codecs` shows where each codec's weights come from",
    "IncomparableRecords": "compare records of one preset and scorer (`bench report` shows what each row used)",
}
_KIND_LISTING = {"codecs": "bench codecs", "tasks": "bench tasks", "metrics": "bench metrics"}  # registry kinds


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _named(exc: BaseException) -> str | None:
    """The first class of ``exc``'s MRO that is one of the project's named errors."""
    for cls in type(exc).__mro__:
        if cls.__module__.startswith("bench.") and (cls.__name__ in FIXES or cls.__name__ == "UnknownNameError"):
            return cls.__name__
    return None


def utf8_error_at(path: str | os.PathLike) -> tuple[int, int, int] | None:
    """(line, column, byte) of the first bytes in ``path`` that are not UTF-8, 1-based; None if all decode."""
    try:
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    return lineno, e.start + 1, raw[e.start]
    except OSError:
        return None
    return None


def not_utf8(path: str | os.PathLike) -> str:
    """``<file>:<line>: not UTF-8 text (byte 0x.. at column c)`` (the line where it can be found)."""
    at = utf8_error_at(path)
    if at is None:
        return f"{path}: not UTF-8 text"
    line, col, byte = at
    return f"{path}:{line}: not UTF-8 text (byte 0x{byte:02x} at column {col})"


def _open_file_in_traceback(exc: BaseException) -> str | None:
    """The name of the file object the failing code was reading or writing (innermost frame first)."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for v in list(frame.f_locals.values()):
            name = getattr(v, "name", None) if isinstance(v, io.IOBase) else None
            if isinstance(name, str) and not name.startswith("<"):  # not <stdout>
                return name
    return None


_OS_WHAT_FIX = {
    errno.EACCES: ("permission denied", "make it writable, or point --data-dir / --results-dir elsewhere"),
    errno.EPERM: ("operation not permitted", "make it writable, or point --data-dir / --results-dir elsewhere"),
    errno.EROFS: ("read-only file system", "point --data-dir / --results-dir at a writable folder"),
    errno.ENOSPC: ("no space left on device", "free space or point --data-dir at a larger disk, then rerun "
                   "(finished stages are kept)"),
    errno.EDQUOT: ("disk quota exceeded", "free space or point --data-dir at a larger disk, then rerun"),
    errno.ENOENT: ("no such file or directory", "check the path"),
    errno.ENOTDIR: ("not a directory", "check the path"),
    errno.EISDIR: ("is a directory", "give a file, not a folder"),
}


def _os_error(e: OSError) -> str | None:
    if e.errno is None:  # raised with a message only, e.g. FileNotFoundError("task 'x' has no preset 'y'; ...")
        if not isinstance(e, FileNotFoundError):
            return None
        msg = str(e)
        fix = "pick one of those it lists" if ("known" in msg or "presets:" in msg) else "check the name"
        return f"{msg} — {fix}"
    known = e.errno in _OS_WHAT_FIX
    what, fix = _OS_WHAT_FIX.get(e.errno, (e.strerror or str(e), "check the path and its permissions"))
    where = e.filename if e.filename is not None else _open_file_in_traceback(e)
    if where is None:
        return f"{what} — {fix}" if known else None  # e.g. a refused connection: not a path the user gave
    if e.filename2 is not None:
        where = f"{where} -> {e.filename2}"
    return f"{where}: {what} — {fix}"


def describe(exc: BaseException) -> str | None:
    """The one-line message (without ``error: ``) for an error the user can fix; None for anything else."""
    msg = _describe(exc)
    return None if msg is None else " ".join(part.strip() for part in msg.splitlines() if part.strip())


def _describe(exc: BaseException) -> str | None:
    if isinstance(exc, UnicodeDecodeError):
        name = _open_file_in_traceback(exc)
        if name is not None and Path(name).is_file():
            return f"{not_utf8(name)} — re-save it as UTF-8 (or regenerate it)"
        return f"input is not UTF-8 text ({exc.reason} at byte {exc.start}) — re-save it as UTF-8"
    if isinstance(exc, OSError):
        return _os_error(exc)
    name = _named(exc)
    if name is None:
        return None
    msg = str(exc).strip() or type(exc).__name__
    if name == "UnknownNameError":  # "unknown codecs 'x'. Did you mean 'y'? Known: ..." (the registry's kind)
        what, _, rest = msg.partition(". ")
        words = what.split(" ", 2)
        if len(words) == 3 and words[0] == "unknown" and words[1] in _KIND_LISTING:
            what = f"unknown {words[1].removesuffix('s')} {words[2]}"
            rest = rest or f"`{_KIND_LISTING[words[1]]}` lists them"
        return f"{what} — {rest[0].lower() + rest[1:]}" if rest else what
    if "—" in msg:  # the message already says how to fix it
        return msg
    return f"{msg} — {FIXES[name]}"
