"""Task plugins, imported as ``bench.tasks``; third parties use the ``bench.tasks`` entry-point group."""

from bench.registry import Registry

from .base import Task

TASKS: Registry[type[Task]] = Registry("tasks")

__all__ = ["TASKS", "Task"]
