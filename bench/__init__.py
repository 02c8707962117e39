"""codec-bench: which audio tokenizer should an audio language model use?

The user's top-level folders ``codecs/`` and ``tasks/`` are imported as ``bench.codecs`` and
``bench.tasks`` (a top-level ``codecs`` would shadow the standard library). An installed
distribution maps them through setuptools ``package-dir``; in a source checkout that is not
installed (or installed editable and imported from the repo root) we add the repo root to this
package's search path so the same names resolve to the same folders.
"""

from __future__ import annotations

import os
from pathlib import Path

__version__ = "0.1.0"

_root = Path(__file__).resolve().parent.parent
if (_root / "pyproject.toml").is_file() and (_root / "codecs" / "__init__.py").is_file():
    __path__.append(str(_root))  # type: ignore[name-defined]

# Offline by default: without this, hub-backed imports (laion_clap via frechet_audio_distance,
# transformers) retry the network for minutes. Users opt in with BENCH_ONLINE=1.
if os.environ.get("BENCH_ONLINE") != "1":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
