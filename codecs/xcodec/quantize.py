"""Residual vector quantization with EMA codebooks, k-means init, dead-code restart, quantizer dropout.

Codebooks are buffers updated by exponential moving averages (not by the optimizer); under DDP the
per-step statistics are all-reduced so every process applies the same update.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)
    return t


def _broadcast(t: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.broadcast(t, 0)
    return t


def _sample(x: torch.Tensor, n: int) -> torch.Tensor:
    idx = torch.randperm(x.shape[0], device=x.device)[:n] if x.shape[0] >= n else torch.randint(
        0, x.shape[0], (n,), device=x.device)
    return x[idx]


def kmeans(x: torch.Tensor, k: int, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    centroids = _sample(x, k)
    counts = torch.zeros(k, device=x.device)
    for _ in range(iters):
        assign = torch.cdist(x, centroids).argmin(-1)
        counts = torch.bincount(assign, minlength=k).float()
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        centroids = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centroids)
    return centroids, counts


class EMACodebook(nn.Module):
    def __init__(self, dim: int, size: int, decay: float, kmeans_iters: int, dead_threshold: float) -> None:
        super().__init__()
        self.size, self.decay, self.kmeans_iters, self.dead_threshold = size, decay, kmeans_iters, dead_threshold
        self.register_buffer("inited", torch.zeros(1))
        self.register_buffer("embed", torch.randn(size, dim) * 0.01)
        self.register_buffer("embed_avg", self.embed.clone())
        self.register_buffer("cluster_size", torch.zeros(size))

    @torch.no_grad()
    def _init(self, x: torch.Tensor) -> None:
        centroids, counts = kmeans(x, self.size, self.kmeans_iters)
        self.embed.copy_(_broadcast(centroids))
        self.embed_avg.copy_(self.embed)
        self.cluster_size.copy_(_broadcast(counts))
        self.inited.fill_(1)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        # argmin ||x - e||^2 = argmax (2 x.e - ||e||^2)
        return (2 * x @ self.embed.t() - self.embed.pow(2).sum(-1)).argmax(-1)

    @torch.no_grad()
    def _update(self, x: torch.Tensor, codes: torch.Tensor) -> None:
        onehot_sum = _all_reduce(torch.bincount(codes, minlength=self.size).float())
        embed_sum = _all_reduce(torch.zeros_like(self.embed).index_add_(0, codes, x))
        self.cluster_size.mul_(self.decay).add_(onehot_sum, alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(embed_sum, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + 1e-5) / (n + self.size * 1e-5) * n  # Laplace smoothing
        self.embed.copy_(self.embed_avg / smoothed[:, None])
        dead = self.cluster_size < self.dead_threshold
        if dead.any():  # restart dead codes from this batch's vectors (rank 0's choice under DDP)
            fresh = _broadcast(_sample(x, self.size))
            self.embed.copy_(torch.where(dead[:, None], fresh, self.embed))
            self.embed_avg.copy_(torch.where(dead[:, None], fresh, self.embed_avg))
            self.cluster_size.copy_(torch.where(dead, torch.ones_like(self.cluster_size), self.cluster_size))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, D] -> (quantized [N, D], codes [N])."""
        if self.training and not self.inited.item():
            self._init(x)
        codes = self.codes(x)
        if self.training:
            self._update(x, codes)
        return F.embedding(codes, self.embed), codes


class ResidualVQ(nn.Module):
    def __init__(self, dim: int, n_q: int, size: int, decay: float = 0.99, kmeans_iters: int = 10,
                 dead_threshold: float = 2.0) -> None:
        super().__init__()
        self.n_q = n_q
        self.layers = nn.ModuleList(EMACodebook(dim, size, decay, kmeans_iters, dead_threshold) for _ in range(n_q))

    def forward(self, z: torch.Tensor, n_q: int | None = None) -> dict[str, torch.Tensor]:
        """z [B, D, F] -> quantized (straight-through), codes [B, n_q, F], commitment loss."""
        n_q = n_q or self.n_q
        with torch.autocast(z.device.type, enabled=False):
            x = z.float().transpose(1, 2).reshape(-1, z.shape[1])
            out = torch.zeros_like(x)  # sum of the chosen codewords so far (no gradient)
            codes, commit = [], x.new_zeros(())
            for layer in self.layers[:n_q]:
                residual = x - out  # carries the gradient back to x for the commitment term
                q, c = layer(residual.detach())
                commit = commit + F.mse_loss(residual, q.detach())
                out = out + q.detach()
                codes.append(c)
            # one straight-through estimator over the whole stack: d quantized / d x = identity (summing a
            # per-level estimator would scale the encoder's gradient by n_q)
            quantized_flat = x + (out - x).detach()
            B, D, T = z.shape
            quantized = quantized_flat.reshape(B, T, D).transpose(1, 2)
            codes_t = torch.stack([c.reshape(B, T) for c in codes], 1)
        return {"quantized": quantized, "codes": codes_t, "vq/commitment": commit / n_q}

    @torch.no_grad()
    def encode(self, z: torch.Tensor, n_q: int) -> torch.Tensor:
        x = z.float().transpose(1, 2).reshape(-1, z.shape[1])
        codes = []
        for layer in self.layers[:n_q]:
            c = layer.codes(x)
            x = x - F.embedding(c, layer.embed)
            codes.append(c.reshape(z.shape[0], z.shape[2]))
        return torch.stack(codes, 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, n, F] (n <= n_q) -> [B, D, F]."""
        out = sum(F.embedding(codes[:, i], self.layers[i].embed) for i in range(codes.shape[1]))
        return out.transpose(1, 2)
