"""Optimisation settings every trainable codec shares (a ``train:`` section in its preset YAML)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    batch_size: int = 8  # per process
    segment_seconds: float = 1.0
    lr: float = 2e-4
    betas: tuple[float, ...] = (0.8, 0.99)
    weight_decay: float = 0.0
    lr_gamma: float = 1.0  # exponential decay per step (the paper: 0.999 per epoch)
    grad_clip: float = 2.0
    disc_start: int = 0  # steps before the adversarial losses switch on (reconstruction warm-up)
    log_every: int = 10
    ckpt_every: int = 200
    seed: int = 0
    precision: str = "bf16"  # autocast dtype on CUDA ("bf16" | "fp32"); CPU always runs fp32
    split: str = "train"
    max_minutes: float = 0.0  # > 0: checkpoint and stop after this much training wall time (budgeted GPU runs)
    recipe: str = "speech"  # the data recipe the codec trains on (`bench data build RECIPE`)
    data_preset: str = ""  # that recipe's preset ("": the codec's own preset name)


# Train fields added after codecs were trained: at these values they leave the run hash unchanged,
# so an existing ``<preset>-<hash>`` run folder keeps its name.
HASH_NEUTRAL = {("train", "recipe"): "speech", ("train", "data_preset"): ""}


def run_hash(cfg: dict) -> str:
    """The hash naming a codec's run folder: its resolved config without neutral-valued train fields."""
    from bench.config import config_hash_neutral

    return config_hash_neutral(cfg, HASH_NEUTRAL)


def data_source(cfg: dict, preset: str) -> tuple[str, str]:
    """(recipe, preset) of the data a codec config trains on."""
    train = cfg.get("train") or {}
    return train.get("recipe") or "speech", train.get("data_preset") or preset
