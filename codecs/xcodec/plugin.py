"""``xcodec`` and ``xcodec-acoustic``: X-Codec trained in this repo, and its acoustic-only twin.

Cheap to construct (no torch import here): figures come from the preset YAML or the trained run's
``config.yaml``; the model loads from ``data/codecs/<name>/<preset>-<hash>/ckpt.pt`` on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.codecs.base import Codec, WeightsStatus, WeightsUnavailable, check_wav


class XCodec(Codec):
    name = "xcodec"
    semantic = True

    def __init__(self, preset: str | None = None, weights: str | Path | None = None, device: str = "cpu",
                 data_dir: str | Path | None = None) -> None:
        super().__init__(preset, weights, device, data_dir)
        self._ckpt_path = self.weights_path or self._find_checkpoint(preset)
        if self.preset is None:
            self.preset = self._ckpt_path.parent.name.rsplit("-", 1)[0] if self._ckpt_path else "smoke"
        self._cfg = None
        self._model = None
        self._teacher = None
        self.teacher_cache = True  # False: recompute teacher features (honest encode timings)

    # checkpoint discovery ---------------------------------------------------------------
    def _runs_dir(self) -> Path:
        from bench.paths import data_root

        return data_root(self.data_dir) / "codecs" / self.name

    def _find_checkpoint(self, preset: str | None) -> Path | None:
        """The current config's run if trained, else the newest trained run of ``preset`` (any preset if None)."""
        root = self._runs_dir()
        if preset is not None:
            from bench.train.config import run_hash

            own = root / f"{preset}-{run_hash(self._config_dict(preset))}" / "ckpt.pt"
            if own.is_file():
                return own
        pattern = f"{preset}-*/ckpt.pt" if preset else "*/ckpt.pt"
        found = sorted(root.glob(pattern), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
        return found[-1] if found else None

    @classmethod
    def _config_dict(cls, preset: str, overrides=()) -> dict[str, Any]:
        from bench.codecs.xcodec.config import load_config
        from bench.config import to_dict

        return to_dict(load_config(preset, list(overrides), semantic=cls.semantic))

    @property
    def cfg(self):
        if self._cfg is None:
            from bench.codecs.xcodec.config import XCodecConfig
            from bench.config import from_dict, load_yaml

            run_cfg = self._ckpt_path.parent / "config.yaml" if self._ckpt_path else None
            if run_cfg is not None and run_cfg.is_file():
                self._cfg = from_dict(XCodecConfig, load_yaml(run_cfg))
            else:
                self._cfg = from_dict(XCodecConfig, self._config_dict(self.preset))
        return self._cfg

    @classmethod
    def trainable(cls, preset: str, overrides=(), data_dir=None, load_teacher: bool = True, device: str = "cpu"):
        """The shared trainer's hook: (TrainableCodec, resolved config dict)."""
        from bench.codecs.xcodec.config import XCodecConfig
        from bench.codecs.xcodec.trainable import XCodecTrainable
        from bench.config import from_dict

        d = cls._config_dict(preset, overrides)
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

    def weights(self) -> WeightsStatus:
        from bench.config import to_dict

        present = self._ckpt_path is not None and self._ckpt_path.is_file()
        teacher = self.cfg.teacher if self.cfg.semantic else None
        if present:
            return WeightsStatus("trained-here", f"{self._ckpt_path.parent.name}", True, str(self._ckpt_path), teacher)
        from bench.train.config import run_hash

        h = run_hash(to_dict(self.cfg))
        return WeightsStatus("trained-here", f"config {h}", False,
                             f"not trained yet: bench train-codec {self.name} --preset {self.preset}", teacher)

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
