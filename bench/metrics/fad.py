"""Frechet Audio Distance: Gaussian fits to frame embeddings of two clip sets, Frechet distance between them.

Offline embedders: log-mel frames (no weights) and Whisper tiny.en encoder frames (faster-whisper).
Paper-tier: VGGish and CLAP through ``frechet-audio-distance`` when their weights are present locally.
Each backend exposes ``embed(audio, sr) -> [frames, dim]``; ``bench.metrics.scoring.fad`` caches those
per clip and adds the bootstrap CI over clips.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from bench.audio import resample

from .base import SetMetric
from .weights import LocalWeights, have_modules, pkg_version, weights_hash


class _FAD(SetMetric):
    metric: ClassVar[str] = "fad"
    higher_is_better: ClassVar[bool] = False


class FADLogmel(_FAD):
    """64 log-mel bands at 16 kHz, 25 ms window, 10 ms hop: each frame is one 64-d embedding."""

    backend = "logmel"
    SR, N_MELS = 16000, 64

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return have_modules("librosa", "scipy")

    def identity(self) -> dict[str, Any]:
        return {"name": f"{self.metric}/{self.backend}", "model": "log-mel 64 bands, 16 kHz, 25/10 ms (no weights)",
                "version": f"librosa {pkg_version('librosa')}; scipy {pkg_version('scipy')}", "weights_hash": "none"}

    def embed(self, audio: np.ndarray, sr: int) -> np.ndarray:
        import librosa

        x = resample(np.asarray(audio, dtype=np.float32), sr, self.SR)
        m = librosa.feature.melspectrogram(y=x, sr=self.SR, n_fft=400, hop_length=160, n_mels=self.N_MELS)
        return np.log(np.maximum(m, 1e-6)).T.astype(np.float32)


class FADWhisperEncoder(_FAD):
    """Whisper tiny.en encoder states (384-d, 50 Hz) from faster-whisper, unpadded input."""

    backend = "whisper-encoder"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        from .asr import WERFasterWhisperTinyEn

        return WERFasterWhisperTinyEn.available()

    def identity(self) -> dict[str, Any]:
        from .asr import WERFasterWhisperTinyEn

        ident = WERFasterWhisperTinyEn().identity()
        return {"name": f"{self.metric}/{self.backend}", "model": "whisper-tiny.en encoder (CTranslate2), unpadded",
                "version": ident["version"].split("; beam")[0] + f"; scipy {pkg_version('scipy')}",
                "weights_hash": ident["weights_hash"]}

    def embed(self, audio: np.ndarray, sr: int) -> np.ndarray:
        from .asr import WERFasterWhisperTinyEn

        return WERFasterWhisperTinyEn().encode(resample(np.asarray(audio, dtype=np.float32), sr, 16000))


# -- paper-faithful, through frechet-audio-distance ---------------------------------------------------
@lru_cache(maxsize=2)
def _fadlib(model_name: str, ckpt_dir: str, sr: int):
    from frechet_audio_distance import FrechetAudioDistance

    return FrechetAudioDistance(ckpt_dir=ckpt_dir, model_name=model_name, sample_rate=sr, verbose=False)


class _FADLib(LocalWeights, _FAD):
    tier: ClassVar[str] = "paper"  # type: ignore[assignment]
    key: ClassVar[str] = ""
    lib_model: ClassVar[str] = ""
    required: ClassVar[tuple[str, ...]] = ()
    rate: ClassVar[int] = 16000
    what: ClassVar[str] = ""

    modules: ClassVar[tuple[str, ...]] = ("frechet_audio_distance", "torch")

    def identity(self) -> dict[str, Any]:
        d = self._path()
        return {"name": f"{self.metric}/{self.backend}", "model": self.lib_model,
                "version": f"frechet-audio-distance {pkg_version('frechet-audio-distance')}",
                "weights_hash": weights_hash(*(d / r for r in self.required if (d / r).is_file()))}

    def embed(self, audio: np.ndarray, sr: int) -> np.ndarray:
        lib = _fadlib(self.lib_model, str(self._path()), self.rate)
        x = resample(np.asarray(audio, dtype=np.float32), sr, self.rate)
        e = lib.get_embeddings([x], sr=self.rate)
        return np.asarray(e, dtype=np.float32).reshape(-1, e.shape[-1])


class FADVggish(_FADLib):
    backend, key, lib_model, rate = "vggish", "vggish", "vggish", 16000
    required = ("harritaylor_torchvggish_master/hubconf.py", "checkpoints/vggish-10086976.pth")
    what = ("a torch hub dir holding harritaylor_torchvggish_master/ (clone of github.com/harritaylor/torchvggish) "
            "and checkpoints/vggish-10086976.pth")


class FADClap(_FADLib):
    backend, key, lib_model, rate = "clap", "clap", "clap", 48000
    required = ("630k-audioset-best.pt",)
    what = ("630k-audioset-best.pt from huggingface.co/lukewys/laion_clap "
            "(plus the roberta-base tokenizer in the HF cache)")
