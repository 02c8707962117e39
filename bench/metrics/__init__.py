"""Metric backends, registered as ``<metric>/<backend>`` (e.g. ``wer/faster-whisper-tiny.en``).

The package registers its built-in catalogue (``catalog.BUILTIN``) here; third-party backends register
through the ``bench.metrics`` entry-point group.
"""

from bench.registry import Registry

from .base import BackendUnavailable, Item, ItemMetric, MetricBackend, SetMetric
from .catalog import BUILTIN

METRICS: Registry[type[MetricBackend]] = Registry("metrics", protocol=MetricBackend)

for _name, _target in BUILTIN.items():
    METRICS.register(_name, _target)

__all__ = ["BUILTIN", "METRICS", "BackendUnavailable", "Item", "ItemMetric", "MetricBackend", "SetMetric"]
