"""One writer per artefact folder: an exclusive file lock, and a log line saying whom a waiter waits for.

A second process (or thread) that asks for a held lock says so (``waiting for pid 123 on host since
12:00:01 (lock <path>)``), blocks until the holder is done, and then finds the work finished (or
resumes what a failed holder left). The holder's description sits in ``<lock>.owner`` while it holds it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def _me() -> str:
    t = threading.current_thread()
    who = f"pid {os.getpid()}" + ("" if t is threading.main_thread() else f" ({t.name})")
    return f"{who} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}"


def _holder(owner: Path) -> str:
    try:
        return owner.read_text().strip() or "another process"
    except OSError:
        return "another process"


@contextlib.contextmanager
def exclusive(lock_path: str | os.PathLike, what: str, log: Callable[[str], None] = print) -> Iterator[None]:
    """Hold ``lock_path`` (created with its folder) for the block; ``what`` names the work in the wait line."""
    from filelock import FileLock, Timeout

    from bench.atomic import write_text

    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    owner = lock_path.with_name(lock_path.name + ".owner")
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"{what}: waiting for {_holder(owner)} (lock {lock_path})")
        t0 = time.time()
        lock.acquire()
        log(f"{what}: got the lock after {time.time() - t0:.0f} s")
    try:
        write_text(owner, _me() + "\n")
        yield
    finally:
        with contextlib.suppress(OSError):
            owner.unlink()
        lock.release()
