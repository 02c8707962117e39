"""Built-in plugin registrations (lazy import paths) and the rows the listing verbs print."""

from __future__ import annotations

from pathlib import Path

from bench.codecs import CODECS
from bench.metrics import METRICS
from bench.tasks import TASKS

# name -> "module:Class". Imported only when used.
BUILTIN_CODECS: dict[str, str] = {
    "xcodec": "bench.codecs.xcodec.plugin:XCodec",
    "xcodec-acoustic": "bench.codecs.xcodec.plugin:XCodecAcoustic",
    "encodec-24khz": "bench.codecs.encodec:EncodecPublished",
    "encodec@here": "bench.codecs.encodec:EncodecHere",
    "dac-16khz": "bench.codecs.dac:DAC16kPublished",
    "dac-24khz": "bench.codecs.dac:DAC24kPublished",
    "dac-44khz": "bench.codecs.dac:DAC44kPublished",
    "dac@here": "bench.codecs.dac:DACHere",
    "speechtokenizer": "bench.codecs.speechtokenizer:SpeechTokenizerPublished",
    "speechtokenizer@here": "bench.codecs.speechtokenizer:SpeechTokenizerHere",
}
BUILTIN_TASKS: dict[str, str] = {
    "tts": "bench.tasks.tts:TTSTask",
    "music": "bench.tasks.music:MusicTask",
    "sound": "bench.tasks.sound:SoundTask",
}


def _builtin_metrics() -> dict[str, str]:
    # The metrics package owns its catalogue (backend name -> "module:Class").
    try:
        from bench.metrics.catalog import BUILTIN
    except ModuleNotFoundError:
        return {}
    return dict(BUILTIN)


BUILTIN_METRICS: dict[str, str] = _builtin_metrics()


def register_builtins() -> None:
    for reg, table in ((CODECS, BUILTIN_CODECS), (TASKS, BUILTIN_TASKS), (METRICS, BUILTIN_METRICS)):
        for name, target in table.items():
            if name not in reg:
                reg.register(name, target)


register_builtins()


def codec_rows(data_dir: Path | None = None) -> list[dict]:
    rows = []
    for name in CODECS.names():
        try:
            rows.append(CODECS.get(name)(data_dir=data_dir).summary())
        except Exception as e:  # noqa: BLE001 - a broken plugin is listed, not hidden
            rows.append({"name": name, "weights": f"error: {e}"})
    return rows


def task_rows() -> list[dict]:
    rows = []
    for name in TASKS.names():
        try:
            t = TASKS.get(name)
            rows.append(
                {"name": name, "recipe": t.recipe, "conditioning": t.conditioning,
                 "metrics": ", ".join(t.metrics), "presets": ", ".join(t.presets())}
            )
        except Exception as e:  # noqa: BLE001 - a broken plugin is listed, not hidden
            rows.append({"name": name, "recipe": f"error: {e}"})
    return rows


def metric_rows() -> list[dict]:
    rows = []
    for name in METRICS.names():
        try:
            b = METRICS.get(name)
            ok, why = b.available()
            rows.append({"name": name, "metric": b.metric, "level": b.level, "tier": b.tier,
                         "available": "yes" if ok else "no", "why": why})
        except Exception as e:  # noqa: BLE001 - a broken plugin is listed, not hidden
            rows.append({"name": name, "available": "no", "why": f"error: {e}"})
    return rows
