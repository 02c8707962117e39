"""Semantic encoder and decoder (conv + residual blocks at stride 1), as in X-Codec's semantic module."""

from __future__ import annotations

from torch import nn


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.ELU(), nn.Conv1d(ch, ch, 3, padding=1), nn.ELU(), nn.Conv1d(ch, ch, 1))

    def forward(self, x):
        return x + self.block(x)


class SemanticEncoder(nn.Module):
    """Teacher features [B, D_t, F] -> [B, ch, F]."""

    def __init__(self, d_in: int, ch: int, n_blocks: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(d_in, ch, 3, padding=1), *(ResBlock(ch) for _ in range(n_blocks)))

    def forward(self, x):
        return self.net(x)


class SemanticDecoder(nn.Module):
    """Post-RVQ semantic branch [B, ch, F] -> reconstructed teacher features [B, D_t, F]."""

    def __init__(self, ch: int, d_out: int, n_blocks: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(ch, ch, 3, padding=1), *(ResBlock(ch) for _ in range(n_blocks)), nn.ELU(),
            nn.Conv1d(ch, d_out, 3, padding=1),
        )

    def forward(self, x):
        return self.net(x)
