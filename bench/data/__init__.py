"""Data recipes: speech, grammar, speech-real, music, sound, and folder/manifest corpora.

``ensure_built(recipe, preset)`` is what other areas call: it returns
``<data root>/datasets/<recipe>/<preset>/manifest.jsonl``, building it first if it is missing or was
built from a different config. Presets are YAML files ``configs/<recipe>.<preset>.yaml``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from bench.registry import Registry

CONFIG_DIR = Path(__file__).with_name("configs")
RECIPE_VERSION = 1  # bump when a recipe's output changes for an unchanged config

# recipe name -> "module:ConfigClass" (the recipe's module builds it; imported on first use). The same
# Registry as codecs, tasks and metrics: one lookup, one "did you mean" message, entry points ``bench.recipes``.
RECIPES: Registry[type] = Registry("recipes")
for _name, _target in {
    "speech": "bench.data.speech:SpeechConfig",
    "grammar": "bench.data.grammar:GrammarConfig",
    "speech-real": "bench.data.speech_real:SpeechRealConfig",
    "music": "bench.data.music:MusicConfig",
    "sound": "bench.data.sound:SoundConfig",
    "folder": "bench.data.folder:FolderConfig",
}.items():
    RECIPES.register(_name, _target)


class RecipeError(ValueError):
    """Unknown recipe or preset, or a preset that cannot be built here; the message says what to do."""


def presets(recipe: str) -> list[str]:
    return sorted(p.name[len(recipe) + 1:-5] for p in CONFIG_DIR.glob(f"{recipe}.*.yaml")
                  if "." not in p.name[len(recipe) + 1:-5])


def _recipe(recipe: str):
    if recipe not in RECIPES:
        import difflib

        near = difflib.get_close_matches(recipe, RECIPES.names(), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise RecipeError(f"unknown recipe {recipe!r}{hint}; available: {', '.join(RECIPES.names())}")
    cls = RECIPES.get(recipe)
    return importlib.import_module(cls.__module__), cls


def load_config(recipe: str, preset: str, overrides: tuple[str, ...] | list[str] = ()) -> Any:
    from bench.config import load_preset, load_yaml

    mod, cls = _recipe(recipe)
    path = CONFIG_DIR / f"{recipe}.{preset}.yaml"
    if not path.is_file():
        raise RecipeError(f"recipe {recipe!r} has no preset {preset!r}; available: {', '.join(presets(recipe))}")
    pointer = load_yaml(path).get("real_corpus")
    if pointer:  # a paper-scale preset that only names the real corpus it needs
        raise RecipeError(f"{recipe}/{preset}: {pointer}")
    return load_preset(cls, path, overrides)


def dataset_dir(recipe: str, preset: str, data_dir: str | os.PathLike | None = None) -> Path:
    from bench import paths

    return paths.dataset_dir(recipe, preset, data_dir)


def _hash(recipe: str, cfg: Any) -> str:
    from bench.config import config_hash, to_dict

    return config_hash({"recipe": recipe, "version": RECIPE_VERSION, "config": to_dict(cfg)})


def build(recipe: str, preset: str, data_dir: str | os.PathLike | None = None,
          overrides: tuple[str, ...] | list[str] = (), force: bool = False) -> Path:
    """Build (or finish building) a dataset; a finished build of the same config returns at once."""
    from filelock import FileLock

    from bench.config import to_dict
    from bench.data import builder
    from bench.paths import cache_path

    mod, _ = _recipe(recipe)
    cfg = load_config(recipe, preset, overrides)
    out = dataset_dir(recipe, preset, data_dir)
    out.mkdir(parents=True, exist_ok=True)
    h = _hash(recipe, cfg)
    with FileLock(str(out / ".build.lock")):
        if not force and builder.is_done(out, h):
            return out / "manifest.jsonl"
        cache = cache_path(root=data_dir)
        plan = mod.plan(cfg, out, cache)
        return builder.build(out, plan.specs, sr=plan.sr, cfg_hash=h, config=to_dict(cfg),
                             target_rms_db=plan.target_rms_db, desc=f"{recipe}/{preset}",
                             finalize_rows=plan.finalize_rows, extra_stats=plan.extra_stats,
                             group_key=plan.group_key)


def ensure_built(recipe: str, preset: str, data_dir: str | os.PathLike | None = None,
                 overrides: tuple[str, ...] | list[str] = ()) -> Path:
    """Path of ``manifest.jsonl`` for (recipe, preset), building it first if needed."""
    return build(recipe, preset, data_dir, overrides)


def info(recipe: str, preset: str, data_dir: str | os.PathLike | None = None) -> dict:
    """The dataset's ``stats.json`` (raises RecipeError if it was never built)."""
    import json

    p = dataset_dir(recipe, preset, data_dir) / "stats.json"
    if not p.is_file():
        raise RecipeError(f"{recipe}/{preset} is not built yet: run `bench data build {recipe} --preset {preset}`")
    return json.loads(p.read_text())
