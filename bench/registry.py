"""One generic registry, instantiated once per plugin kind (codecs, tasks, metric backends).

Each plugin package registers its own built-ins when it is imported (``bench.codecs``, ``bench.tasks``,
``bench.metrics``), lazily as ``"module:attr"`` strings, so listing names never imports torch; third-party
packages add entries through the entry-point group ``bench.<kind>``. A registry made with a ``protocol``
class refuses, on first use, an entry that is a class but not a subclass of it.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


class Registry(Generic[T]):
    def __init__(self, kind: str, group: str | None = None, protocol: type | None = None) -> None:
        self.kind = kind
        self.group = group or f"bench.{kind}"
        self.protocol = protocol
        self._entries: dict[str, T | str] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._plugins_loaded = False

    # -- registration -------------------------------------------------------------------
    def register(self, name: str, target: T | str | None = None, **meta: Any) -> Callable[[T], T] | None:
        """``register("x", "pkg.mod:Cls")`` (lazy) or ``@register("x")`` as a decorator."""
        if target is not None:
            self._add(name, target, meta)
            return None

        def deco(obj: T) -> T:
            self._add(name, obj, meta)
            return obj

        return deco

    def _add(self, name: str, target: T | str, meta: dict[str, Any]) -> None:
        if name in self._entries and self._entries[name] is not target:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if not isinstance(target, str):
            self._conforms(name, target)
        self._entries[name] = target
        self._meta[name] = meta

    def _conforms(self, name: str, obj: Any) -> None:
        """A class entry must implement the kind's protocol (factories and instances are taken as they are)."""
        if self.protocol is not None and isinstance(obj, type) and not issubclass(obj, self.protocol):
            raise TypeError(f"{self.kind} {name!r}: {obj.__module__}.{obj.__qualname__} does not subclass "
                            f"{self.protocol.__module__}.{self.protocol.__qualname__}")

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)
        self._meta.pop(name, None)

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name not in self._entries:
                self._entries[ep.name] = ep.value  # "module:attr", resolved on first get()
                self._meta[ep.name] = {"plugin": ep.dist.name if ep.dist else "?"}

    # -- lookup -------------------------------------------------------------------------
    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)

    def meta(self, name: str) -> dict[str, Any]:
        self._check(name)
        return dict(self._meta.get(name, {}))

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _check(self, name: str) -> None:
        self._load_plugins()
        if name not in self._entries:
            known = sorted(self._entries)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(known) or '(none)'}")

    def get(self, name: str) -> T:
        """The registered object (class or factory), importing it on first use."""
        self._check(name)
        target = self._entries[name]
        if isinstance(target, str):
            mod, _, attr = target.partition(":")
            obj: Any = importlib.import_module(mod)
            for part in attr.split("."):
                obj = getattr(obj, part)
            self._conforms(name, obj)
            self._entries[name] = obj
            target = obj
        return target  # type: ignore[return-value]
