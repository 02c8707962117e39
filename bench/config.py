"""Configs are data: YAML presets -> frozen dataclasses, ``--set a.b=value`` overrides, stable hashes.

A config hash (sha256 of the canonical JSON of the resolved config) names every artefact, so a
rerun with the same config is a no-op and artefacts of different configs never mix.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

C = TypeVar("C")


class ConfigError(ValueError):
    pass


def canonical_json(obj: Any) -> str:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(obj: Any, n: int = 12) -> str:
    """Order-independent hash of a config (dataclass or mapping)."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:n]


def without_neutral(d: dict[str, Any], neutral: dict[tuple[str, str], Any]) -> dict[str, Any]:
    """A copy of the config dict ``d`` without each ``(section, key)`` of ``neutral`` while it holds its neutral
    value (``d`` itself is never edited)."""
    d = {k: dict(v) if isinstance(v, dict) else v for k, v in d.items()}
    for (section, key), value in neutral.items():
        if isinstance(d.get(section), dict) and key in d[section] and d[section][key] == value:
            del d[section][key]
    return d


def config_hash_neutral(d: dict[str, Any], neutral: dict[tuple[str, str], Any]) -> str:
    """:func:`config_hash` of :func:`without_neutral`: fields added after runs existed leave those runs' hashes
    (and folder names) unchanged."""
    return config_hash(without_neutral(d, neutral))


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["lm.d_model=256", "steps=10"]`` -> nested dict; values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, _, raw = item.partition("=")
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = yaml.safe_load(raw)
    return out


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, where)
            except (ConfigError, TypeError, ValueError):
                continue
        raise ConfigError(f"{where}: {value!r} does not match {tp}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        item_t = args[0] if args else Any
        return tuple(_coerce(item_t, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        return dict(value)
    if tp is Any:
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as a string
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected float, got {value!r}") from None
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got {value!r}")
    if tp in (int, str, bool) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type[C], data: Mapping[str, Any], where: str = "config") -> C:
    """Build a (nested) dataclass, rejecting unknown keys with a message naming them."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def load_preset(cls: type[C], path: str | Path, overrides: Iterable[str] = ()) -> C:
    """YAML file -> dataclass, with ``key=value`` overrides applied before validation."""
    data = deep_merge(load_yaml(path), parse_overrides(overrides))
    return from_dict(cls, data, where=str(path))


def to_dict(cfg: Any) -> dict[str, Any]:
    return json.loads(canonical_json(cfg))


def preset_variant(preset: str, overrides: Iterable[str] = ()) -> str:
    """Where a run with ``--set`` overrides files its records and run folder: ``smoke+set-<hash>``.

    The hash is of the parsed overrides (order-free), so a run that changes the config never writes
    over the preset's own records; without overrides the name is the preset itself.
    """
    parsed = parse_overrides(overrides)
    return f"{preset}+set-{config_hash(parsed, 8)}" if parsed else preset
