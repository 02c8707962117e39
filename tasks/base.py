"""The task protocol: an LM experiment over one codec's tokens, identical across codecs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


class Task(ABC):
    name: ClassVar[str] = ""
    recipe: ClassVar[str] = ""  # data recipe it trains and tests on
    conditioning: ClassVar[str] = ""  # what the LM is conditioned on
    metrics: ClassVar[tuple[str, ...]] = ()  # metric names it reports

    @classmethod
    def presets(cls) -> list[str]:
        return sorted(p.stem.split(".", 1)[1] for p in CONFIG_DIR.glob(f"{cls.name}.*.yaml"))

    @classmethod
    def preset_path(cls, preset: str) -> Path:
        p = CONFIG_DIR / f"{cls.name}.{preset}.yaml"
        if not p.is_file():
            raise FileNotFoundError(f"task {cls.name!r} has no preset {preset!r}; presets: {cls.presets()}")
        return p

    @abstractmethod
    def run(self, codec: str, preset: str, **options: Any) -> list[dict[str, Any]]:
        """Train (or resume), generate, decode and score; return the records written."""
