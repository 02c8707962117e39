"""Semantic teachers behind one interface (:class:`bench.train.teacher.Teacher`): frozen, 50 Hz features.

* ``whisper-tiny.en`` (offline default): the encoder of Whisper tiny.en from its pip-shipped
  CTranslate2 weights, converted once to an openai-whisper checkpoint (:mod:`bench.whisper_convert`).
  Input padded to 30 s windows as Whisper expects; the first ceil(seconds * 50) frames are kept.
* ``whisper-tiny.en-clip``: the same encoder run on the clip alone (positional embeddings sliced to
  its length, no 30 s padding). ~10x cheaper on 3 s clips (2 CPU cores: 7 min -> <1 min for the
  1,210 clips of grammar/cpu), at the price of features that differ from the padded ones; the
  identity differs, so the two never share a cache entry.
* ``hubert-base`` (the paper's): HuBERT-base LS960 from torchaudio's checkpoint cache, a local
  transformers folder (``$BENCH_HUBERT_PATH``) or the HF cache; input padded by half a hop per side.

Both return the mean of all hidden states (embedding output + every layer), as X-Codec does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.registry import Registry, UnknownNameError
from bench.train.teacher import Teacher, TeacherUnavailable

TEACHER_DIMS = {"whisper-tiny.en": 384, "whisper-tiny.en-clip": 384, "hubert-base": 768}


class WhisperTeacher(Teacher):
    def __init__(self, model: str = "tiny.en", device: str = "cpu", data_dir=None, clip: bool = False) -> None:
        import torch
        import whisper
        from whisper.model import AudioEncoder

        from bench.paths import sub
        from bench.whisper_convert import converted_encoder

        # the encoder-only file may have been carried here without the pip package that ships the model
        path = sub("cache", "whisper", root=data_dir) / f"{model}-encoder.pt"
        if not path.is_file():
            try:
                path = converted_encoder(model, data_dir)
            except FileNotFoundError as e:
                raise TeacherUnavailable(str(e)) from None
        ck = torch.load(path, map_location="cpu", weights_only=True)
        d = ck["dims"]
        enc = AudioEncoder(d["n_mels"], d["n_audio_ctx"], d["n_audio_state"], d["n_audio_head"], d["n_audio_layer"])
        enc.load_state_dict({k: v.float() for k, v in ck["encoder_state_dict"].items()})
        self.identity = f"whisper-{model}" + ("-clip" if clip else "")
        self.clip = clip
        self.device = device
        self.encoder = enc.to(device).eval().requires_grad_(False)
        self.dim = d["n_audio_state"]
        self._whisper, self._torch = whisper, torch

    def features(self, wav: np.ndarray, sr: int, n_frames: int) -> np.ndarray:
        whisper, torch = self._whisper, self._torch
        if sr != whisper.audio.SAMPLE_RATE:
            from bench.audio import resample

            wav = resample(wav, sr, whisper.audio.SAMPLE_RATE)
        chunk = whisper.audio.N_SAMPLES
        outs = []
        for start in range(0, max(len(wav), 1), chunk):
            piece = torch.from_numpy(np.ascontiguousarray(wav[start : start + chunk], dtype=np.float32))
            keep = int(np.ceil(len(piece) / whisper.audio.HOP_LENGTH / 2))
            if self.clip:  # whole mel frames, an even count (the encoder's second conv has stride 2)
                n = 2 * keep * whisper.audio.HOP_LENGTH
                piece = torch.nn.functional.pad(piece, (0, n - len(piece)))
            else:
                piece = whisper.pad_or_trim(piece)
            mel = whisper.log_mel_spectrogram(piece)[:, : 2 * keep if self.clip else None].to(self.device)
            with torch.no_grad():
                outs.append(self._hidden_mean(mel[None])[0, :keep].cpu())
        feats = torch.cat(outs).numpy().T  # [D, F]
        return _fit(feats, n_frames)

    def _hidden_mean(self, mel):
        """openai-whisper's AudioEncoder.forward, averaging every block's output with the input embedding."""
        import torch.nn.functional as F

        enc = self.encoder
        x = F.gelu(enc.conv2(F.gelu(enc.conv1(mel)))).permute(0, 2, 1)
        x = x + enc.positional_embedding[: x.shape[1]]
        acc = x.clone()
        for block in enc.blocks:
            x = block(x)
            acc = acc + x
        return acc / (len(enc.blocks) + 1)


class HubertTeacher(Teacher):
    identity = "hubert-base-ls960"
    dim = 768

    def __init__(self, device: str = "cpu") -> None:
        import torch

        self.device, self._torch = device, torch
        self.model = self._load().to(device).eval().requires_grad_(False)

    def _load(self):
        import torch

        ckpt = Path(torch.hub.get_dir()) / "checkpoints" / "hubert_fairseq_base_ls960.pth"
        if ckpt.is_file():
            import torchaudio

            self.kind = "torchaudio"
            return torchaudio.pipelines.HUBERT_BASE.get_model()
        try:
            from transformers import AutoModel

            src = os.environ.get("BENCH_HUBERT_PATH") or "facebook/hubert-base-ls960"
            self.kind = "transformers"
            return AutoModel.from_pretrained(src, local_files_only=True)
        except (OSError, ImportError, ValueError) as e:
            raise TeacherUnavailable(
                "HuBERT-base (LS960) weights are not present. Get them with either "
                "`python -c \"import torchaudio; torchaudio.pipelines.HUBERT_BASE.get_model()\"` (online, "
                f"lands in {ckpt}) or download facebook/hubert-base-ls960 and set BENCH_HUBERT_PATH to its "
                f"folder. ({type(e).__name__}: {e})"
            ) from None

    def features(self, wav: np.ndarray, sr: int, n_frames: int) -> np.ndarray:
        torch = self._torch
        x = torch.from_numpy(np.pad(wav.astype(np.float32), (160, 160)))[None].to(self.device)
        with torch.no_grad():
            if self.kind == "torchaudio":
                hs, _ = self.model.extract_features(x)
                states = hs
            else:
                states = self.model(x, output_hidden_states=True).hidden_states
            feats = torch.stack(list(states)).mean(0)[0].cpu().numpy().T
        return _fit(feats, n_frames)


def _fit(feats: np.ndarray, n_frames: int) -> np.ndarray:
    """Trim, or repeat the last frame, so features match the codec's frame count exactly."""
    if feats.shape[1] >= n_frames:
        return feats[:, :n_frames]
    return np.concatenate([feats, np.repeat(feats[:, -1:], n_frames - feats.shape[1], 1)], 1)


# name -> factory(device, data_dir); the same Registry as the plugin kinds (entry points ``bench.teachers``)
TEACHERS: Registry[Callable[..., Teacher]] = Registry("teachers")
TEACHERS.register("whisper-tiny.en", lambda device, data_dir: WhisperTeacher("tiny.en", device, data_dir))
TEACHERS.register("whisper-tiny.en-clip",
                  lambda device, data_dir: WhisperTeacher("tiny.en", device, data_dir, clip=True))
TEACHERS.register("hubert-base", lambda device, data_dir: HubertTeacher(device))


def get_teacher(name: str, device: str = "cpu", data_dir=None) -> Teacher:
    try:
        factory = TEACHERS.get(name)
    except UnknownNameError as e:
        raise ValueError(str(e)) from None
    return factory(device, data_dir)
