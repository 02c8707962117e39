"""Where generated artefacts live: one git-ignored data root for datasets, checkpoints, caches."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA = "BENCH_DATA"
ENV_RESULTS = "BENCH_RESULTS"


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def data_root(override: str | os.PathLike | None = None) -> Path:
    """``--data-dir`` flag > ``$BENCH_DATA`` > ``./data`` (relative to the current directory)."""
    p = Path(override or os.environ.get(ENV_DATA) or "data")
    return p.expanduser().resolve()


def results_root(override: str | os.PathLike | None = None) -> Path:
    """``--results-dir`` flag > ``$BENCH_RESULTS`` > ``./results``."""
    p = Path(override or os.environ.get(ENV_RESULTS) or "results")
    return p.expanduser().resolve()


def sub(kind: str, *parts: str, root: str | os.PathLike | None = None) -> Path:
    """A folder under the data root, e.g. ``sub("datasets", "speech", "smoke")``; created on demand."""
    p = data_root(root).joinpath(kind, *parts)
    p.mkdir(parents=True, exist_ok=True)
    return p


def use_root(env: str, path: str | os.PathLike) -> Path:
    """Make ``path`` (absolute) the root named by ``env`` (:data:`ENV_DATA` or :data:`ENV_RESULTS`) for this
    process and its children. The CLI calls it for ``--data-dir`` / ``--results-dir``, so code that asks
    :func:`data_root` with no override (score, embedding, teacher and model caches) lands under it too."""
    if env not in (ENV_DATA, ENV_RESULTS):
        raise ValueError(f"use_root: {env!r} is not {ENV_DATA} or {ENV_RESULTS}")
    p = Path(path).expanduser().resolve()
    os.environ[env] = str(p)
    return p
