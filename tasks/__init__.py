"""Task plugins, imported as ``bench.tasks``; third parties use the ``bench.tasks`` entry-point group."""

from bench.registry import Registry

from .base import Task

TASKS: Registry[type[Task]] = Registry("tasks", protocol=Task)

# the built-ins, registered by this package (name -> "module:Class", imported on first use)
BUILTIN: dict[str, str] = {
    "tts": "bench.tasks.tts:TTSTask",
    "music": "bench.tasks.music:MusicTask",
    "sound": "bench.tasks.sound:SoundTask",
}
for _name, _target in BUILTIN.items():
    TASKS.register(_name, _target)

__all__ = ["BUILTIN", "TASKS", "Task"]
