"""Speaker similarity: cosine between speaker embeddings of the audio and its prompt.

The prompt is ``Item.prompt_audio`` (TTS: the speaker prompt), or else ``Item.ref_audio`` (codec
reconstruction, or TTS scored against the ground-truth recording). All arrays of an Item share ``Item.sr``.
Per item the details say which pair was compared ("prompt" or "target": similarity to the prompt and to
the target recording are different numbers in the literature) and whether the VAD left too little speech
so the untrimmed audio was embedded instead.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.audio import resample
from bench.paths import cache_path

from .base import Item, ItemMetric
from .weights import LocalWeights, have_modules, pkg_version, weights_hash

SR = 16000
MIN_VOICED = SR // 10  # resemblyzer needs some speech left after its VAD: 0.1 s


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def _prompt(it: Item) -> tuple[np.ndarray, str]:
    """The audio to compare with, and which pair that is: "prompt" or "target" (the ground-truth ref_audio)."""
    if it.prompt_audio is not None:
        return it.prompt_audio, "prompt"
    if it.ref_audio is None:
        raise ValueError(f"item {it.id}: speaker similarity needs prompt_audio or ref_audio")
    return it.ref_audio, "target"


class _SpeakerBackend(ItemMetric):
    metric: ClassVar[str] = "spk"
    needs: ClassVar[tuple[str, ...]] = ("prompt_audio",)
    higher_is_better: ClassVar[bool] = True
    detail_keys: ClassVar[tuple[str, ...]] = ("pair", "vad_fallback")

    def embed_checked(self, audio: np.ndarray, sr: int) -> tuple[np.ndarray, bool]:
        """(embedding, whether the backend fell back to untrimmed audio because its VAD kept too little)."""
        return self.embed(audio, sr), False

    def embed(self, audio: np.ndarray, sr: int) -> np.ndarray:
        raise NotImplementedError

    def score_detailed(self, items: list[Item]) -> list[tuple[float | None, dict[str, Any]]]:
        out: list[tuple[float | None, dict[str, Any]]] = []
        for it in items:
            other, pair = _prompt(it)
            (a, fa), (b, fb) = self.embed_checked(it.audio, it.sr), self.embed_checked(other, it.sr)
            out.append((_cos(a, b), {"pair": pair, "vad_fallback": fa or fb}))
        return out

    def score(self, items: list[Item]) -> list[float | None]:
        return [v for v, _ in self.score_detailed(items)]


# -- resemblyzer (256-d d-vector; weights ship in the wheel) ---------------------------------------
def _resemblyzer_weights() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("resemblyzer")
    return Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"  # type: ignore[union-attr]


@lru_cache(maxsize=1)
def _voice_encoder():
    import torch
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device="cuda" if torch.cuda.is_available() else "cpu", verbose=False)


class SpkResemblyzer(_SpeakerBackend):
    backend = "resemblyzer"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = have_modules("resemblyzer", "webrtcvad", "torch")
        if not ok:
            return ok, why
        try:  # webrtcvad imports pkg_resources, removed in setuptools 81
            import pkg_resources  # noqa: F401
        except ImportError:
            return False, "resemblyzer needs pkg_resources: pip install 'setuptools<81'"
        return True, "ok"

    def identity(self) -> dict[str, Any]:
        return {"name": f"{self.metric}/{self.backend}", "model": "resemblyzer VoiceEncoder (GE2E d-vector, 256-d)",
                "version": f"resemblyzer {pkg_version('resemblyzer')}; cosine",
                "weights_hash": weights_hash(_resemblyzer_weights())}

    def embed_checked(self, audio: np.ndarray, sr: int) -> tuple[np.ndarray, bool]:
        from resemblyzer import preprocess_wav

        raw = resample(np.asarray(audio, dtype=np.float32), sr, SR)
        wav = preprocess_wav(raw, source_sr=SR)  # volume normalization + webrtcvad trimming of long silences
        fallback = len(wav) < MIN_VOICED
        if fallback:  # VAD removed (nearly) everything: embed the raw signal instead of failing
            wav = raw
        return _voice_encoder().embed_utterance(wav), fallback

    def embed(self, audio: np.ndarray, sr: int) -> np.ndarray:
        return self.embed_checked(audio, sr)[0]


# -- paper-faithful: ECAPA-TDNN from speechbrain (local folder of spkrec-ecapa-voxceleb) -------------
# from_hparams loads every module the yaml's pretrainer lists, so each must be in the folder; only the label
# encoder (label_encoder.txt, unused by embeddings) is skipped when absent
_ECAPA_FILES = ("hyperparams.yaml", "embedding_model.ckpt", "mean_var_norm_emb.ckpt", "classifier.ckpt")


@lru_cache(maxsize=1)
def _ecapa(path: str):
    import torch
    from speechbrain.inference.speaker import EncoderClassifier

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    # The published yaml's pretrainer reads its files from ``pretrained_path: speechbrain/spkrec-ecapa-voxceleb``, a
    # Hub id: a file not already saved under its loadable's name (label_encoder.txt, saved as label_encoder.ckpt)
    # would be fetched from the Hub. Pointed at this folder, nothing is fetched. speechbrain links what it
    # collects into ``savedir``: a folder of our cache, so the user's weights folder is only read (it may be
    # read-only or shared).
    save = cache_path("speechbrain", hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:16])
    save.mkdir(parents=True, exist_ok=True)
    return EncoderClassifier.from_hparams(source=path, savedir=str(save), run_opts={"device": dev},
                                          overrides={"pretrained_path": path}, overrides_must_match=False)


class SpkEcapaSpeechbrain(LocalWeights, _SpeakerBackend):
    """ECAPA-TDNN (speechbrain/spkrec-ecapa-voxceleb), the usual SIM-O speaker model family."""

    backend, tier = "ecapa-speechbrain", "paper"
    key = "ecapa-speechbrain"
    required = _ECAPA_FILES
    modules = ("speechbrain", "torch")
    what = ("folder of speechbrain/spkrec-ecapa-voxceleb: hyperparams.yaml, embedding_model.ckpt, "
            "mean_var_norm_emb.ckpt, classifier.ckpt (label_encoder.txt optional)")

    def identity(self) -> dict[str, Any]:
        d = self._path()
        return {"name": f"{self.metric}/{self.backend}", "model": "speechbrain/spkrec-ecapa-voxceleb",
                "version": f"speechbrain {pkg_version('speechbrain')}; cosine",
                "weights_hash": weights_hash(d / "embedding_model.ckpt")}

    def embed(self, audio: np.ndarray, sr: int) -> np.ndarray:
        import torch

        x = torch.from_numpy(resample(np.asarray(audio, dtype=np.float32), sr, SR))[None]
        with torch.inference_mode():
            return _ecapa(str(self._path())).encode_batch(x).squeeze().cpu().numpy()


# -- paper-faithful: WavLM x-vector from transformers (local folder of microsoft/wavlm-base-plus-sv) -----
_WAVLM_SV_FILES = ("config.json", "preprocessor_config.json")


@lru_cache(maxsize=1)
def _wavlm_sv(path: str):
    import torch
    from transformers import AutoFeatureExtractor, WavLMForXVector

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    fe = AutoFeatureExtractor.from_pretrained(path, local_files_only=True)
    model = WavLMForXVector.from_pretrained(path, local_files_only=True, dtype=torch.float32).eval().to(dev)
    return fe, model, dev


class SpkWavLMSV(LocalWeights, _SpeakerBackend):
    """WavLM-base-plus fine-tuned for speaker verification (x-vector head): the SIM model VERSA and DASB adopted,
    so its numbers sit beside theirs; embedded as its model card does (feature extractor, L2-normalised x-vector)."""

    backend, tier = "wavlm-base-plus-sv", "paper"
    key = "wavlm-base-plus-sv"
    required = _WAVLM_SV_FILES
    modules = ("transformers", "torch")
    what = "HF folder of microsoft/wavlm-base-plus-sv: config.json, preprocessor_config.json, model weights"

    def identity(self) -> dict[str, Any]:
        d = self._path()
        files = sorted(p for p in d.iterdir() if p.suffix in (".bin", ".safetensors"))
        return {"name": f"{self.metric}/{self.backend}", "model": "microsoft/wavlm-base-plus-sv (x-vector)",
                "version": f"transformers {pkg_version('transformers')}; cosine", "weights_hash": weights_hash(*files)}

    def embed(self, audio: np.ndarray, sr: int) -> np.ndarray:
        import torch

        fe, model, dev = _wavlm_sv(str(self._path()))
        x = resample(np.asarray(audio, dtype=np.float32), sr, SR)
        inp = fe(x, sampling_rate=SR, padding=True, return_tensors="pt").to(dev)
        with torch.inference_mode():
            emb = torch.nn.functional.normalize(model(**inp).embeddings, dim=-1)
        return emb[0].float().cpu().numpy()
