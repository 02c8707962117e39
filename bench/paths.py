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
