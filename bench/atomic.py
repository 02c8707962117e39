"""Atomic file writes: write to a temp file beside the target, then rename over it.

A temp file is ``.<name>.<random><suffix>.tmp`` beside its target. An error (or Ctrl-C) inside
:func:`atomic_path` removes it; a process killed outright leaves it behind, so a stage removes such
orphans when it starts (:func:`clean_temps`). :func:`all_or_nothing` makes several writes land together.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


TEMP_SUFFIX = ".tmp"
STALE_S = 3600.0  # a temp file untouched this long has no live writer (for folders no lock guards)
_STAGED: contextvars.ContextVar[list[tuple[str, Path]] | None] = contextvars.ContextVar("atomic_staged", default=None)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path in the target's folder; on success it replaces ``path`` (at the end of the
    enclosing :func:`all_or_nothing` block, if any), else is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix + TEMP_SUFFIX)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the file should get what open() would give it
    staged = _STAGED.get()
    try:
        yield Path(tmp)
        if staged is not None:
            staged.append((tmp, path))
            tmp = None  # the block renames (or removes) it
        else:
            os.replace(tmp, path)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def all_or_nothing() -> Iterator[None]:
    """Every :func:`atomic_path` write in the block (this thread's) lands when the block ends without error:
    each file is written to its temp name as usual, and the renames over the targets follow the block, in
    the order written; an error or a kill inside the block removes the temps and leaves every target as it
    was. A target written in the block reads as its old content until the block ends. Nested blocks join
    the outer one."""
    if _STAGED.get() is not None:
        yield
        return
    staged: list[tuple[str, Path]] = []
    token = _STAGED.set(staged)
    try:
        yield
    except BaseException:
        _STAGED.reset(token)
        _remove([t for t, _ in staged])
        raise
    _STAGED.reset(token)
    try:
        while staged:
            tmp, path = staged[0]
            os.replace(tmp, path)
            staged.pop(0)
    finally:
        _remove([t for t, _ in staged])  # renames cut short: no temp outlives the block


def _remove(tmps: Iterable[str]) -> None:
    for t in tmps:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(t)


def is_temp(path: str | os.PathLike) -> bool:
    """Whether ``path`` is named as :func:`atomic_path` names its temp files."""
    name = Path(path).name
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def clean_temps(folder: str | os.PathLike, *, recursive: bool = False, targets: Iterable[str] | None = None,
                older_than: float = 0.0) -> list[Path]:
    """Remove the temp files writers killed inside :func:`atomic_path` left in ``folder`` (and below, if
    ``recursive``; only those of the target file names ``targets`` when given), last written at least
    ``older_than`` seconds ago; return them.

    Call it where no live writer can own one: under the lock of the folder's writer (``older_than=0``),
    or with ``older_than=STALE_S`` in a folder several processes write without a lock.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    prefixes = None if targets is None else tuple(f".{t}." for t in targets)
    now, out = time.time(), []
    for p in folder.rglob(f"*{TEMP_SUFFIX}") if recursive else folder.glob(f"*{TEMP_SUFFIX}"):
        if not is_temp(p) or (prefixes is not None and not p.name.startswith(prefixes)):
            continue
        try:
            st = p.lstat()
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= older_than:
                p.unlink()
                out.append(p)
        except FileNotFoundError:  # its writer renamed or removed it meanwhile
            continue
    return out


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
