"""``xcodec`` and ``xcodec-acoustic``: X-Codec trained in this repo, and its acoustic-only twin.

Cheap to construct (no torch import here): figures come from the preset YAML or the trained run's
``config.yaml``; the model loads from ``data/codecs/<name>/<preset>-<hash>/ckpt.pt`` on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.codecs.base import Codec, WeightsUnavailable, check_wav
from bench.codecs.trained_here import TrainedHere


class XCodec(TrainedHere, Codec):
    name = "xcodec"
    semantic = True

    def __init__(self, preset: str | None = None, weights: str | Path | None = None, device: str = "cpu",
                 data_dir: str | Path | None = None) -> None:
        super().__init__(preset, weights, device, data_dir)
        self._init_checkpoint()
        self._model = None
        self._teacher = None
        self.teacher_cache = True  # False: recompute teacher features (honest encode timings)

    # config (checkpoint discovery, cfg and weights(): TrainedHere) ------------------------------
    @classmethod
    def config_dict(cls, preset: str, overrides=()) -> dict[str, Any]:
        from bench.codecs.xcodec.config import load_config
        from bench.config import to_dict

        return to_dict(load_config(preset, list(overrides), semantic=cls.semantic))

    @classmethod
    def config_class(cls) -> type:
        from bench.codecs.xcodec.config import XCodecConfig

        return XCodecConfig

    def teacher_name(self) -> str | None:
        return self.cfg.teacher if self.cfg.semantic else None

    @classmethod
    def trainable(cls, preset: str, overrides=(), data_dir=None, load_teacher: bool = True, device: str = "cpu"):
        """The shared trainer's hook: (TrainableCodec, resolved config dict)."""
        from bench.codecs.xcodec.config import XCodecConfig
        from bench.codecs.xcodec.trainable import XCodecTrainable
        from bench.config import from_dict

        d = cls.config_dict(preset, overrides)
        return XCodecTrainable(from_dict(XCodecConfig, d), data_dir, load_teacher, device), d

    # figures ----------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    @property
    def frame_rate(self) -> float:
        return self.cfg.frame_rate

    @property
    def n_codebooks(self) -> int:
        return self.cfg.quantizer.n_q

    @property
    def codebook_size(self) -> int:
        return self.cfg.quantizer.codebook_size

    # model ------------------------------------------------------------------------------
    def _load(self):
        if self._model is None:
            import torch

            from bench.codecs.xcodec.config import XCodecConfig
            from bench.codecs.xcodec.model import XCodecModel
            from bench.config import from_dict
            from bench.train.checkpoint import load

            if self._ckpt_path is None or not self._ckpt_path.is_file():
                raise WeightsUnavailable(f"{self.name}: {self.weights().detail}")
            ck = load(self._ckpt_path)
            self._cfg = from_dict(XCodecConfig, ck["config"])
            model = XCodecModel(self._cfg)
            model.load_state_dict(ck["generator"])
            self._model = model.to(self.device).eval()
            self.checkpoint_step = int(ck["step"])
            if self._cfg.semantic:
                from bench.codecs.xcodec.teachers import get_teacher
                from bench.train.teacher import TeacherUnavailable

                try:
                    self._teacher = get_teacher(self._cfg.teacher, self.device, self.data_dir)
                except TeacherUnavailable as e:
                    raise WeightsUnavailable(f"{self.name}: semantic teacher unavailable: {e}") from None
            torch.set_grad_enabled(torch.is_grad_enabled())
        return self._model

    def _teacher_feats(self, wav):
        import numpy as np
        import torch

        from bench.paths import sub
        from bench.train.teacher import cached_features

        hop = self.cfg.hop_length
        feats = []
        for x in wav[:, 0].detach().cpu().float().numpy():
            n = -(-len(x) // hop)
            x = np.pad(x, (0, n * hop - len(x)))
            if self.teacher_cache:
                cache = sub("cache", "teacher", root=self.data_dir)
                feats.append(cached_features(self._teacher, x, self.sample_rate, n, cache))
            else:
                feats.append(self._teacher.features(x, self.sample_rate, n))
        return torch.from_numpy(np.stack(feats).astype(np.float32)).to(self.device)

    def encode(self, wav, n_q: int | None = None):
        import torch

        check_wav(wav, self.name)
        n_q = self._check_n_q(n_q)
        model = self._load()
        with torch.no_grad():
            teacher = self._teacher_feats(wav) if self.cfg.semantic else None
            return model.encode(wav.to(self.device).float(), teacher, n_q).long()

    def decode(self, codes):
        import torch

        if codes.dim() != 3 or not 1 <= codes.shape[1] <= self.n_codebooks:
            raise ValueError(f"{self.name}: expected codes [B, 1..{self.n_codebooks}, F], got {tuple(codes.shape)}")
        model = self._load()
        with torch.no_grad():
            return model.decode(codes.to(self.device).long())


class XCodecAcoustic(XCodec):
    """The acoustic-only twin: the same preset with ``semantic: false`` (no teacher, no semantic path)."""

    name = "xcodec-acoustic"
    semantic = False
