"""What the shared trainer needs from a codec family (see the package docstring for the contract)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch
    from torch import nn

    from bench.train.config import TrainConfig
    from bench.train.teacher import Teacher


class TrainableCodec(ABC):
    family: ClassVar[str] = ""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.teacher: Teacher | None = None

    @property
    def train_cfg(self) -> TrainConfig:
        return self.cfg.train

    @property
    def sample_rate(self) -> int:  # every family's config names them; override if yours does not
        return int(self.cfg.sample_rate)

    @property
    def hop_length(self) -> int:
        return int(self.cfg.hop_length)

    @property
    @abstractmethod
    def loss_weights(self) -> dict[str, float]: ...

    @abstractmethod
    def build_generator(self) -> nn.Module:
        """``forward(wav[B,1,T], targets: dict) -> dict`` with ``"audio"`` and self-computed losses."""

    def build_discriminator(self) -> nn.Module | None:
        return None

    @abstractmethod
    def generator_losses(
        self, wav: torch.Tensor, out: dict[str, torch.Tensor], disc: nn.Module | None, adversarial: bool
    ) -> dict[str, torch.Tensor]:
        """Losses that need the target or the discriminator; ``adversarial`` is False during warm-up."""

    def discriminator_losses(
        self, wav: torch.Tensor, fake: torch.Tensor, disc: nn.Module
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def teacher_id(self) -> str | None:
        return None if self.teacher is None else self.teacher.identity
