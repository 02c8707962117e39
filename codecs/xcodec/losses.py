"""Reconstruction and adversarial losses (multi-resolution STFT, multi-scale mel, LSGAN, feature matching)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _mag(x: torch.Tensor, n_fft: int) -> torch.Tensor:
    win = torch.hann_window(n_fft, device=x.device)
    return torch.stft(x.float().reshape(-1, x.shape[-1]), n_fft, n_fft // 4, window=win, return_complex=True).abs()


def _fp32(fn):
    """Spectral losses run in float32 even under bf16 autocast (log of small magnitudes)."""

    def wrapped(self, x, y):
        with torch.autocast(x.device.type, enabled=False):
            return fn(self, x.float(), y.float())

    return wrapped


class MultiResSTFTLoss(nn.Module):
    """L1 of log magnitudes + L1 of magnitudes over several window sizes (DAC's MultiScaleSTFTLoss)."""

    def __init__(self, windows: tuple[int, ...]) -> None:
        super().__init__()
        self.windows = windows

    @_fp32
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = x.new_zeros(())
        for n in self.windows:
            mx, my = _mag(x, n), _mag(y, n)
            loss = loss + F.l1_loss(mx.clamp(min=1e-5).log10(), my.clamp(min=1e-5).log10()) + F.l1_loss(mx, my)
        return loss / len(self.windows)


class MelLoss(nn.Module):
    """L1 between log-mel spectrograms at several window sizes."""

    def __init__(self, sample_rate: int, windows: tuple[int, ...], n_mels: int) -> None:
        super().__init__()
        import torchaudio

        self.windows = windows
        for n in windows:
            fb = torchaudio.functional.melscale_fbanks(n // 2 + 1, 0.0, sample_rate / 2, n_mels, sample_rate)
            self.register_buffer(f"fb{n}", fb, persistent=False)

    @_fp32
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = x.new_zeros(())
        for n in self.windows:
            fb = getattr(self, f"fb{n}")
            mx = (_mag(x, n).transpose(1, 2) @ fb).clamp(min=1e-5).log10()
            my = (_mag(y, n).transpose(1, 2) @ fb).clamp(min=1e-5).log10()
            loss = loss + F.l1_loss(mx, my)
        return loss / len(self.windows)


def split_disc(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor):
    """One discriminator forward over [real; fake] (one forward per backward keeps DDP simple)."""
    logits, fmaps = disc(torch.cat([real, fake]).float())
    n = real.shape[0]
    return [(lg[:n], lg[n:]) for lg in logits], [[(f[:n], f[n:]) for f in fm] for fm in fmaps]


def discriminator_loss(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
    logits, _ = split_disc(disc, real, fake.detach())
    loss = sum(torch.mean((1 - r) ** 2) + torch.mean(f**2) for r, f in logits) / len(logits)
    return {"adv/d": loss}


def generator_adv_loss(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
    logits, fmaps = split_disc(disc, real, fake)
    adv = sum(torch.mean((1 - f) ** 2) for _, f in logits) / len(logits)
    feat, n = fake.new_zeros(()), 0
    for fm in fmaps:
        for r, f in fm:
            feat = feat + F.l1_loss(f, r.detach()) / (r.detach().abs().mean() + 1e-8)
            n += 1
    return {"adv/g": adv, "adv/feat": feat / max(n, 1)}
