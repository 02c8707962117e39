"""Codec plugins, imported as ``bench.codecs`` (the folder keeps the user's name ``codecs/``).

Built-ins are registered lazily by import path, so listing them imports no model library.
Third-party codecs register through the ``bench.codecs`` entry-point group.
"""

from bench.registry import Registry

from .base import Codec, WeightsStatus, WeightsUnavailable

CODECS: Registry[type[Codec]] = Registry("codecs")

__all__ = ["CODECS", "Codec", "WeightsStatus", "WeightsUnavailable", "get_codec"]


def get_codec(name: str, **kwargs) -> Codec:
    """Instantiate a registered codec by name (cheap: weights load on first use)."""
    return CODECS.get(name)(**kwargs)
