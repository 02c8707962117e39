"""The rows the listing verbs (``bench codecs``, ``tasks``, ``metrics``) print, one per registered plugin.

Registration itself lives with each plugin package (``bench.codecs``, ``bench.tasks``, ``bench.metrics``).
"""

from __future__ import annotations

from pathlib import Path

from bench.codecs import CODECS
from bench.metrics import METRICS
from bench.tasks import TASKS


def codec_rows(data_dir: Path | None = None) -> list[dict]:
    rows = []
    for name in CODECS.names():
        try:
            rows.append(CODECS.get(name)(data_dir=data_dir).summary())
        except Exception as e:  # noqa: BLE001 - a broken plugin is listed, not hidden
            rows.append({"name": name, "weights": f"error: {e}"})
    return rows


def task_rows() -> list[dict]:
    rows = []
    for name in TASKS.names():
        try:
            t = TASKS.get(name)
            rows.append(
                {"name": name, "recipe": t.recipe, "conditioning": t.conditioning,
                 "metrics": ", ".join(t.metrics), "presets": ", ".join(t.presets())}
            )
        except Exception as e:  # noqa: BLE001 - a broken plugin is listed, not hidden
            rows.append({"name": name, "recipe": f"error: {e}"})
    return rows


def metric_rows() -> list[dict]:
    rows = []
    for name in METRICS.names():
        try:
            b = METRICS.get(name)
            ok, why = b.available()
            rows.append({"name": name, "metric": b.metric, "level": b.level, "tier": b.tier,
                         "available": "yes" if ok else "no", "why": why})
        except Exception as e:  # noqa: BLE001 - a broken plugin is listed, not hidden
            rows.append({"name": name, "available": "no", "why": f"error: {e}"})
    return rows
