"""EnCodec, DAC and SpeechTokenizer trained here ("@here"): configs, checkpoints, and the plugin side.

Each architecture is the library's own model class built from the library's own constructor
arguments (``model:`` in ``peer_configs/<family>.<preset>.yaml``): ``paper`` is the published
config, ``small``/``smoke`` scale widths and RVQ depth down. Everything that makes runs comparable
comes from X-Codec's preset of the same name and is copied into the resolved config (so it is part of
the config hash): the ``train:`` section (steps, batch, segment, lr, seed, disc warm-up), the shared
MS-STFT discriminator (``disc``), the STFT/mel windows and, for SpeechTokenizer, the semantic teacher.
Training runs through the shared trainer (``bench train-codec encodec@here --preset smoke``) into
``data/codecs/<name>/<preset>-<hash>/``; plugins load ``ckpt.pt`` from there.

No torch import here: ``bench codecs`` builds every plugin to list its figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.train.config import TrainConfig

from .base import WeightsUnavailable
from .library import LibraryCodec
from .trained_here import TrainedHere

CONFIG_DIR = Path(__file__).resolve().parent / "peer_configs"
FAMILIES = ("encodec", "dac", "speechtokenizer")


@dataclass(frozen=True)
class PeerDisc:  # the same fields as X-Codec's DiscConfig (the shared discriminator)
    filters: int = 32
    n_ffts: tuple[int, ...] = (1024, 2048, 512, 256, 128)


@dataclass(frozen=True)
class PeerConfig:
    family: str  # encodec | dac | speechtokenizer
    model: dict[str, Any]  # the library's own constructor arguments
    loss: dict[str, float]  # namespaced loss key -> weight (the library's published weights)
    teacher: str | None = None  # semantic teacher (SpeechTokenizer only): X-Codec's, copied in
    teacher_dim: int = 0
    disc: PeerDisc = field(default_factory=PeerDisc)
    stft_windows: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64)
    # Training steps at which EMA codebooks (EnCodec, SpeechTokenizer) are re-initialised by the
    # library's own k-means on the current batch (off by default: it did not prevent the smoke collapse,
    # measured by scripts/probe_peer_collapse.py; see peer_configs/README.md). Published runs: ().
    vq_reinit: tuple[int, ...] = ()
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def sample_rate(self) -> int:
        return int(self.model["sample_rate"])

    @property
    def hop_length(self) -> int:
        rates = self.model.get("encoder_rates") or self.model.get("ratios") or self.model.get("strides")
        return int(math.prod(rates))

    @property
    def n_q(self) -> int:
        m = self.model
        if self.family == "encodec":  # the library's own rule in EncodecModel._get_model
            return int(1000 * max(m["target_bandwidths"]) // (math.ceil(self.sample_rate / self.hop_length) * 10))
        return int(m["n_codebooks"] if self.family == "dac" else m["n_q"])

    @property
    def codebook_size(self) -> int:
        m = self.model
        return int(m.get("bins") or m.get("codebook_size") or 1024)


def load_peer_config(family: str, preset: str, overrides: list[str] | tuple[str, ...] = ()) -> PeerConfig:
    """``peer_configs/<family>.<preset>.yaml`` + X-Codec's shared sections of the same preset + overrides."""
    from bench.codecs.xcodec.config import load_config as load_xcodec
    from bench.config import ConfigError, deep_merge, from_dict, load_yaml, parse_overrides, to_dict

    path = CONFIG_DIR / f"{family}.{preset}.yaml"
    if not path.is_file():
        known = sorted(p.name.split(".")[1] for p in CONFIG_DIR.glob(f"{family}.*.yaml"))
        raise FileNotFoundError(f"{family}@here: no preset {preset!r} (known: {known})")
    own = load_yaml(path)
    x = to_dict(load_xcodec(preset))
    shared: dict[str, Any] = {"train": x["train"], "disc": x["disc"], "stft_windows": x["stft_windows"]}
    if own.get("family") == "speechtokenizer":
        shared.update(teacher=x["teacher"], teacher_dim=x["teacher_dim"])
    data = deep_merge(deep_merge(shared, own), parse_overrides(overrides))
    cfg = from_dict(PeerConfig, data, where=str(path))
    if cfg.family != family:
        raise ConfigError(f"{path}: family {cfg.family!r}, expected {family!r}")
    return cfg


class HereCodec(TrainedHere, LibraryCodec):
    """Plugin side of a trained-here library codec: figures from the config, weights from ``ckpt.pt``."""

    family: str = ""

    def __init__(self, preset: str | None = None, weights: str | Path | None = None, device: str = "cpu",
                 data_dir: str | Path | None = None) -> None:
        super().__init__(preset, weights, device, data_dir)
        self._init_checkpoint()
        self.checkpoint_step: int | None = None

    # config & checkpoint ---------------------------------------------------------------------
    @classmethod
    def config_dict(cls, preset: str, overrides=()) -> dict[str, Any]:
        from bench.config import to_dict

        return to_dict(load_peer_config(cls.family, preset, list(overrides)))

    @classmethod
    def trainable(cls, preset: str, overrides=(), data_dir=None, load_teacher: bool = True, device: str = "cpu"):
        """The shared trainer's hook (``bench.train.run``): (TrainableCodec, resolved config dict)."""
        from bench.codecs.peer_train import PeerTrainable
        from bench.config import from_dict

        d = cls.config_dict(preset, overrides)
        return PeerTrainable(from_dict(PeerConfig, d), data_dir, load_teacher, device), d

    @classmethod
    def config_class(cls) -> type:
        return PeerConfig

    def teacher_name(self) -> str | None:
        return self.cfg.teacher

    # figures ----------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    @property
    def hop_length(self) -> int:  # type: ignore[override]
        return self.cfg.hop_length

    @property
    def n_codebooks(self) -> int:
        return self.cfg.n_q

    @property
    def codebook_size(self) -> int:
        return self.cfg.codebook_size

    def _load(self) -> Any:
        from bench.codecs.peer_train import build_generator
        from bench.config import from_dict
        from bench.train.checkpoint import load

        if self._ckpt_path is None or not self._ckpt_path.is_file():
            raise WeightsUnavailable(f"{self.name}: {self.weights().detail}")
        ck = load(self._ckpt_path)
        self._cfg = from_dict(PeerConfig, ck["config"])
        gen = build_generator(self._cfg)
        state = dict(ck["generator"])
        state.setdefault("steps", gen.steps)  # checkpoints from before the step counter existed
        gen.load_state_dict(state)
        self.checkpoint_step = int(ck["step"])
        return gen.model  # the library's own module
