"""Multi-resolution STFT discriminator: EnCodec's MS-STFT discriminator, sized from config."""

from __future__ import annotations

from torch import nn

from bench.codecs.xcodec.config import DiscConfig


def build_discriminator(cfg: DiscConfig) -> nn.Module:
    from encodec.msstftd import MultiScaleSTFTDiscriminator

    n_ffts = list(cfg.n_ffts)
    return MultiScaleSTFTDiscriminator(
        filters=cfg.filters, n_ffts=n_ffts, hop_lengths=[n // 4 for n in n_ffts], win_lengths=n_ffts
    )
