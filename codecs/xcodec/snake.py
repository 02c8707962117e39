"""DAC's Snake activation, ``x + sin²(αx)/α`` per channel, with a hand-written backward.

``dac.nn.layers.Snake1d`` is a TorchScript function that autograd differentiates op by op: on the 2-core
CPU of the ``cpu`` preset the activation and its gradient were ~40% of an X-Codec training step
(``torch.profiler``: sin, cos, pow and a dozen multiplies per call). The backward below recomputes
``sin(αx)`` and ``sin(2αx)`` from the saved input instead of keeping autograd's intermediates: about half
the time for forward + backward and less memory. The forward is DAC's expression, so encoding and decoding
give the same numbers as DAC's module; the gradients agree to float rounding (tests/test_xcodec_snake.py).
A module swap, not a fork: the parameter keeps DAC's name (``alpha``), so checkpoints load either way.
"""

from __future__ import annotations

import torch
from torch import nn


class _SnakeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        inv = (alpha + 1e-9).reciprocal()
        ctx.save_for_backward(x, alpha, inv)
        return x + inv * torch.sin(alpha * x).pow(2)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        x, alpha, inv = ctx.saved_tensors
        t = alpha * x
        s = torch.sin(t)
        s2 = torch.sin(t.mul_(2))  # sin(2αx) = 2 sin(αx) cos(αx)
        gx = torch.addcmul(g, g, s2 * (alpha * inv))  # dy/dx = 1 + (α/α') sin(2αx), α' = α + 1e-9
        ga = None
        if ctx.needs_input_grad[1]:
            # dy/dα = x sin(2αx)/α' - sin²(αx)/α'²
            ga = (g * (s2.mul_(x).mul_(inv) - s.square_().mul_(inv * inv))).sum((0, 2), keepdim=True)
        return gx, ga


class Snake1d(nn.Module):
    """Drop-in for ``dac.nn.layers.Snake1d`` (same parameter, same forward)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        return _SnakeFn.apply(x.reshape(shape[0], shape[1], -1), self.alpha).reshape(shape)


def swap_snakes(module: nn.Module) -> nn.Module:
    """Replace every DAC ``Snake1d`` inside ``module`` by :class:`Snake1d`, keeping each ``alpha``."""
    from dac.nn.layers import Snake1d as DacSnake

    for name, child in module.named_children():
        if isinstance(child, DacSnake):
            new = Snake1d(child.alpha.shape[1])
            new.alpha = child.alpha
            setattr(module, name, new)
        else:
            swap_snakes(child)
    return module
