"""The X-Codec generator: DAC acoustic encoder/decoder, semantic encoder/decoder, fusion, RVQ.

``semantic=False`` builds the acoustic-only twin: the same model without the semantic path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from dac.model.dac import DecoderBlock, Encoder
from dac.nn.layers import WNConv1d
from torch import nn

from bench.codecs.xcodec.config import XCodecConfig
from bench.codecs.xcodec.quantize import ResidualVQ
from bench.codecs.xcodec.semantic import SemanticDecoder, SemanticEncoder
from bench.codecs.xcodec.snake import Snake1d, swap_snakes


class AcousticDecoder(nn.Module):
    """DAC's decoder (upsampling blocks with Snake and dilated residual units), without the final tanh."""

    def __init__(self, d_in: int, channels: int, strides: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = [WNConv1d(d_in, channels, kernel_size=7, padding=3)]
        for i, s in enumerate(strides):
            layers.append(DecoderBlock(channels // 2**i, channels // 2 ** (i + 1), s))
        out = channels // 2 ** len(strides)
        layers += [Snake1d(out), WNConv1d(out, 1, kernel_size=7, padding=3)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class XCodecModel(nn.Module):
    def __init__(self, cfg: XCodecConfig) -> None:
        super().__init__()
        self.cfg = cfg
        q = cfg.quantizer
        self.encoder = Encoder(cfg.enc_dim, list(cfg.strides), cfg.latent_dim)
        if cfg.semantic:
            self.sem_encoder = SemanticEncoder(cfg.teacher_dim, cfg.sem_dim, cfg.sem_blocks)
            self.sem_decoder = SemanticDecoder(cfg.sem_dim, cfg.teacher_dim, cfg.sem_blocks)
            self.fc_post_sem = nn.Linear(cfg.fused_dim, cfg.sem_dim)
        self.fc_prior = nn.Linear(cfg.fused_dim, cfg.fused_dim)
        self.quantizer = ResidualVQ(cfg.fused_dim, q.n_q, q.codebook_size, q.decay, q.kmeans_iters, q.dead_threshold)
        self.fc_post_ac = nn.Linear(cfg.fused_dim, cfg.latent_dim)
        self.decoder = AcousticDecoder(cfg.latent_dim, cfg.dec_dim, tuple(reversed(cfg.strides)))
        swap_snakes(self)  # DAC's blocks with a cheaper Snake backward (snake.py); same forward and weights

    @property
    def hop(self) -> int:
        return self.cfg.hop_length

    def _pad(self, wav: torch.Tensor) -> torch.Tensor:
        return F.pad(wav, (0, (-wav.shape[-1]) % self.hop))

    def _fused(self, wav: torch.Tensor, teacher: torch.Tensor | None) -> torch.Tensor:
        e = self.encoder(wav)
        if self.cfg.semantic:
            if teacher is None:
                raise ValueError("xcodec: the semantic path needs teacher features (targets['teacher'])")
            e = torch.cat([e, self.sem_encoder(teacher.to(e.dtype)[..., : e.shape[-1]])], 1)
        return self.fc_prior(e.transpose(1, 2)).transpose(1, 2)

    def _decode_latent(self, quantized: torch.Tensor, length: int) -> torch.Tensor:
        y = self.decoder(self.fc_post_ac(quantized.transpose(1, 2)).transpose(1, 2))
        return F.pad(y, (0, length - y.shape[-1])) if y.shape[-1] < length else y[..., :length]

    def draw_n_q(self) -> int:
        choices = self.cfg.dropout_n_q
        return choices[int(torch.randint(len(choices), ()).item())]

    def forward(self, wav: torch.Tensor, targets: dict[str, torch.Tensor] | None = None,
                n_q: int | None = None) -> dict[str, torch.Tensor]:
        targets = targets or {}
        wav = self._pad(wav)
        teacher = targets.get("teacher")
        z = self._fused(wav, teacher)
        if n_q is None:
            n_q = self.draw_n_q() if self.training else self.cfg.quantizer.n_q
        vq = self.quantizer(z, n_q)
        out = {"audio": self._decode_latent(vq["quantized"], wav.shape[-1]), "codes": vq["codes"],
               "vq/commitment": vq["vq/commitment"], "vq/n_q": torch.tensor(float(n_q))}
        if self.cfg.semantic:
            sem = self.sem_decoder(self.fc_post_sem(vq["quantized"].transpose(1, 2)).transpose(1, 2))
            tgt = teacher[..., : sem.shape[-1]].to(sem.dtype)
            out["sem/mse"] = F.mse_loss(sem.float(), tgt.float())
        return out

    @torch.no_grad()
    def encode(self, wav: torch.Tensor, teacher: torch.Tensor | None, n_q: int) -> torch.Tensor:
        return self.quantizer.encode(self._fused(self._pad(wav), teacher), n_q)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self._decode_latent(self.quantizer.decode(codes), codes.shape[-1] * self.hop)
