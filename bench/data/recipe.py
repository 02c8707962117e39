"""What a recipe hands the build engine: the clips to make and how to finish the manifest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.data.builder import ClipSpec


@dataclass
class Plan:
    specs: list[ClipSpec]
    sr: int
    target_rms_db: float | None = -20.0
    finalize_rows: Callable[[list[dict]], list[dict]] | None = None
    group_key: str = "speaker"  # what stats count: speaker | piece | label
    extra_stats: dict[str, Any] = field(default_factory=dict)
