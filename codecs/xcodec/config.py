"""X-Codec configuration: YAML presets (configs/<preset>.yaml) loaded into these frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.train.config import TrainConfig

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
PUBLISHED_N_Q = (1, 2, 3, 4, 8)  # the paper's bandwidths 0.5, 1, 1.5, 2, 4 kbps at 50 Hz x 10 bits


@dataclass(frozen=True)
class QuantizerConfig:
    n_q: int = 8
    codebook_size: int = 1024
    decay: float = 0.99  # EMA decay of the codebooks
    kmeans_iters: int = 10
    dead_threshold: float = 2.0  # EMA cluster size below which a code is restarted from the batch
    dropout_n_q: tuple[int, ...] = ()  # n_q drawn per training step; () = published set scaled to n_q


@dataclass(frozen=True)
class DiscConfig:
    filters: int = 32
    n_ffts: tuple[int, ...] = (1024, 2048, 512, 256, 128)


@dataclass(frozen=True)
class XCodecConfig:
    sample_rate: int = 16000
    strides: tuple[int, ...] = (8, 5, 4, 2)
    enc_dim: int = 64  # DAC encoder base width (doubles per stride block)
    latent_dim: int = 256  # acoustic latent
    dec_dim: int = 1024  # DAC decoder width at the top
    semantic: bool = True  # False = the acoustic-only twin (no teacher, semantic encoder/decoder or loss)
    teacher: str = "whisper-tiny.en"  # "whisper-tiny.en" (offline default) | "hubert-base" (the paper's)
    teacher_dim: int = 384  # whisper tiny.en 384, hubert-base 768
    sem_dim: int = 384  # semantic encoder/decoder width (paper: 768 = teacher dim)
    sem_blocks: int = 2
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    disc: DiscConfig = field(default_factory=DiscConfig)
    stft_windows: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64)
    mel_windows: tuple[int, ...] = (1024, 512, 256)
    n_mels: int = 64
    loss: dict[str, float] = field(default_factory=dict)  # namespaced loss key -> weight
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def hop_length(self) -> int:
        h = 1
        for s in self.strides:
            h *= s
        return h

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def fused_dim(self) -> int:
        return self.latent_dim + (self.sem_dim if self.semantic else 0)

    @property
    def dropout_n_q(self) -> tuple[int, ...]:
        q = self.quantizer
        if q.dropout_n_q:
            return tuple(q.dropout_n_q)
        return tuple(sorted({n for n in PUBLISHED_N_Q if n < q.n_q} | {q.n_q}))


def load_config(preset: str, overrides: tuple[str, ...] | list[str] = (), semantic: bool | None = None) -> XCodecConfig:
    from bench.config import load_preset

    path = CONFIG_DIR / f"{preset}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"xcodec: no preset {preset!r} (known: {known})")
    extra = [] if semantic is None else [f"semantic={str(semantic).lower()}"]
    return load_preset(XCodecConfig, path, [*extra, *overrides])
