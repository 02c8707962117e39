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


# The data root's layout: each kind of artefact, as docs/ARCHITECTURE.md lists it (a test checks both agree).
# Every folder below is built by the function of the same kind; nothing else joins these names by hand.
LAYOUT: dict[str, str] = {
    "datasets": "datasets/<recipe>/<preset>/",
    "codecs": "codecs/<codec-name>/<preset>-<confighash>/",
    "tokens": "tokens/<codec-name>/<codec-id>/<recipe>-<preset>-<datahash>/",
    "runs": "runs/<task>/<preset>/<codec-name>-<confighash>/",
    "cache": "cache/",
    "launch": "launch/<preset>/",
}


def dataset_dir(recipe: str, preset: str, root: str | os.PathLike | None = None) -> Path:
    return data_root(root) / "datasets" / recipe / preset


def codec_run_dir(codec: str, preset: str, config_hash: str, root: str | os.PathLike | None = None) -> Path:
    """A trained-here codec's run: checkpoints, tensorboard, ``ckpt.pt``."""
    return codec_runs(codec, root) / f"{preset}-{config_hash}"


def codec_runs(codec: str, root: str | os.PathLike | None = None) -> Path:
    """The folder holding every run of one trained-here codec."""
    return data_root(root) / "codecs" / codec


def token_dir(codec: str, codec_id: str, recipe: str, preset: str, data_hash: str,
              root: str | os.PathLike | None = None) -> Path:
    return data_root(root) / "tokens" / codec / codec_id / f"{recipe}-{preset}-{data_hash}"


def task_run_dir(task: str, preset: str, codec: str, config_hash: str, root: str | os.PathLike | None = None) -> Path:
    """A task run: config, log, LM checkpoints, generated codes, samples, scores."""
    return data_root(root) / "runs" / task / preset / f"{codec}-{config_hash}"


def records_dir(preset: str | None = None, root: str | os.PathLike | None = None) -> Path:
    """Every preset's records (``preset`` None), or one preset (variant)'s folder of them."""
    d = results_root(root) / "records"
    return d / preset if preset else d


def records_file(preset: str, kind: str, codec: str, root: str | os.PathLike | None = None) -> Path:
    """One codec's records of a preset (variant): ``kind`` is the task (``tts``...) or ``codec`` for
    ``bench eval-codec``'s, ``reference`` rows under the codec name ``reference``."""
    return records_dir(preset, root) / f"{kind}__{codec}.jsonl"


def cache_path(*parts: str, root: str | os.PathLike | None = None) -> Path:
    """A path under ``cache/`` (teacher features, metric scores, embeddings, converted models, weights); not
    created (see :func:`sub` for folders made on demand)."""
    return data_root(root).joinpath("cache", *parts)


def launch_dir(preset: str, root: str | os.PathLike | None = None) -> Path:
    """A launched matrix of one preset (variant): ``matrix.json`` (each job's id, state and log, what
    ``bench status`` reads), ``logs/`` (one log per job) and ``submitit/`` (the scheduler's own files)."""
    return data_root(root) / "launch" / preset


def use_root(env: str, path: str | os.PathLike) -> Path:
    """Make ``path`` (absolute) the root named by ``env`` (:data:`ENV_DATA` or :data:`ENV_RESULTS`) for this
    process and its children. The CLI calls it for ``--data-dir`` / ``--results-dir``, so code that asks
    :func:`data_root` with no override (score, embedding, teacher and model caches) lands under it too."""
    if env not in (ENV_DATA, ENV_RESULTS):
        raise ValueError(f"use_root: {env!r} is not {ENV_DATA} or {ENV_RESULTS}")
    p = Path(path).expanduser().resolve()
    os.environ[env] = str(p)
    return p
