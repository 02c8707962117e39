"""Metric backends, registered as ``<metric>/<backend>`` (e.g. ``wer/faster-whisper-tiny.en``).

Third-party backends register through the ``bench.metrics`` entry-point group.
"""

from bench.registry import Registry

from .base import BackendUnavailable, Item, MetricBackend

METRICS: Registry[type[MetricBackend]] = Registry("metrics")

__all__ = ["METRICS", "BackendUnavailable", "Item", "MetricBackend"]
