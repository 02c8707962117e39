"""The rows the listing verbs (``bench codecs``, ``tasks``, ``metrics``) print, one per registered plugin.

Registration itself lives with each plugin package (``bench.codecs``, ``bench.tasks``, ``bench.metrics``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.codecs import CODECS
from bench.metrics import METRICS
from bench.registry import Registry
from bench.tasks import TASKS


def _rows(reg: Registry, row: Callable[[str], dict], broken: Callable[[str, Exception], dict]) -> list[dict]:
    """One row per registered name; a plugin that fails to load or describe itself is listed, not hidden."""
    out = []
    for name in reg.names():
        try:
            out.append(row(name))
        except Exception as e:  # noqa: BLE001 - see above
            out.append(broken(name, e))
    return out


def codec_rows(data_dir: Path | None = None) -> list[dict]:
    return _rows(CODECS, lambda name: CODECS.get(name)(data_dir=data_dir).summary(),
                 lambda name, e: {"name": name, "weights": f"error: {e}"})


def _task_row(name: str) -> dict:
    t = TASKS.get(name)
    return {"name": name, "recipe": t.recipe, "conditioning": t.conditioning, "metrics": ", ".join(t.metrics),
            "presets": ", ".join(t.presets())}


def task_rows() -> list[dict]:
    return _rows(TASKS, _task_row, lambda name, e: {"name": name, "recipe": f"error: {e}"})


def _metric_row(name: str) -> dict:
    b = METRICS.get(name)
    ok, why = b.available()
    return {"name": name, "metric": b.metric, "level": b.level, "tier": b.tier, "available": "yes" if ok else "no",
            "why": why}


def metric_rows() -> list[dict]:
    return _rows(METRICS, _metric_row, lambda name, e: {"name": name, "available": "no", "why": f"error: {e}"})
