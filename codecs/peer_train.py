"""Training EnCodec, DAC and SpeechTokenizer with the shared trainer (imports torch: load only to train/decode).

Each generator wraps the library's own model (attribute ``model``, so ``ckpt.pt`` holds the library
module's state dict under ``model.``) and runs the library's own training-mode forward:
- EnCodec: ``encoder -> ResidualVectorQuantizer(emb, frame_rate, bandwidth) -> decoder`` with one of
  the model's target bandwidths drawn per step (EnCodec's bandwidth sampling); the quantizer's own
  EMA/k-means codebooks and commitment penalty. Reconstruction: L1 in time (x0.1) + multi-resolution
  STFT (X-Codec's, the shared one), no loss balancer.
- DAC: ``DAC.forward`` (its quantizer dropout, commitment and codebook losses) and DAC's own
  multi-scale ``MelSpectrogramLoss`` with the published settings and weights.
- SpeechTokenizer: ``SpeechTokenizer.forward`` (RVQ-1 output through its ``transform`` to the
  teacher's width) and the library's own trainer losses: ``recon_loss``, 4-scale ``mel_loss``
  (45/1/1/1), ``d_axis_distill_loss`` against the same frozen teacher as X-Codec.
Adversarial terms use the shared MS-STFT discriminator and losses of X-Codec for every family, so
the codecs differ by architecture and reconstruction losses, not by GAN setup.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.codecs.library import fit_length
from bench.codecs.peer_here import PeerConfig
from bench.train.interface import TrainableCodec


def build_library_model(cfg: PeerConfig) -> nn.Module:
    """The library's own model class from the config's constructor arguments."""
    m = dict(cfg.model)
    if cfg.family == "encodec":
        from encodec import EncodecModel
        from encodec import modules as em
        from encodec import quantization as eq

        kw = dict(channels=m.get("channels", 1), dimension=m["dimension"], n_filters=m["n_filters"],
                  n_residual_layers=m.get("n_residual_layers", 1), ratios=list(m["ratios"]), lstm=m.get("lstm", 2),
                  causal=m.get("causal", True), norm=m.get("norm", "weight_norm"))
        encoder, decoder = em.SEANetEncoder(**kw), em.SEANetDecoder(**kw)
        quantizer = eq.ResidualVectorQuantizer(  # the library's defaults unless the preset scales them
            dimension=m["dimension"], n_q=cfg.n_q, bins=m.get("bins", 1024), decay=m.get("decay", 0.99),
            kmeans_iters=m.get("kmeans_iters", 50), threshold_ema_dead_code=m.get("threshold_ema_dead_code", 2))
        return EncodecModel(encoder, decoder, quantizer, list(m["target_bandwidths"]), cfg.sample_rate,
                            m.get("channels", 1), normalize=False, name="encodec@here")
    if cfg.family == "dac":
        import dac

        return dac.DAC(**{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in m.items()})
    if cfg.family == "speechtokenizer":
        from speechtokenizer.model import SpeechTokenizer

        model = SpeechTokenizer({**m, "strides": list(m["strides"]), "semantic_dimension": cfg.teacher_dim})
        # its constructor builds the quantizer with the library defaults; a preset may scale them like EnCodec's
        for vq in model.quantizer.vq.layers:
            for key in ("decay", "kmeans_iters", "threshold_ema_dead_code"):
                if key in m:
                    setattr(vq._codebook, key, m[key])
        return model
    raise ValueError(f"unknown family {cfg.family!r}")


def _guard_kmeans_init(codebook: nn.Module) -> None:
    """Make the library's k-means init consistent with its EMA (EnCodec's EuclideanCodebook, copied by
    SpeechTokenizer). Its init sets ``embed_avg = embed`` with ``cluster_size = cluster counts``, so the
    next EMA step divides each centroid by its count, and a cluster left empty (always, when a batch has
    fewer frames than the codebook has codes, as in every small preset) is divided by ~1e-5: those codes
    explode (measured: |code| ~ 1e3 vs |latent| ~ 1e-2) and every frame falls into one code. After the
    init we set ``cluster_size = max(count, 1)`` and ``embed_avg = embed * cluster_size``, the EMA's own
    invariant (``embed = embed_avg / cluster_size``); nothing else in the library changes."""
    original = codebook.init_embed_

    def init_embed_(data: torch.Tensor) -> None:
        fresh = not bool(codebook.inited)
        original(data)
        if fresh:
            codebook.cluster_size.data.clamp_(min=1.0)
            codebook.embed_avg.data.copy_(codebook.embed * codebook.cluster_size[:, None])

    codebook.init_embed_ = init_embed_


def _guard_dead_code_restart(codebook: nn.Module) -> None:
    """Make the library's dead-code restart survive its own EMA step (same codebook classes). Its
    ``replace_`` overwrites ``embed`` only; the EMA update that follows in the same forward recomputes
    ``embed = embed_avg / cluster_size`` from the untouched statistics, so every restart is undone and
    codes the moving encoder has left stay dead (all frames fall into the one nearest stale code). This
    alone does not end the smoke-scale collapse (see ``PeerConfig.vq_reinit``'s comment): with it the
    codebooks follow the previous step's latents. After the replacement we reset the replaced codes' statistics
    to ``cluster_size = threshold``, ``embed_avg = embed * threshold`` (the EMA invariant; what
    vector-quantize-pytorch, the library's upstream, does); the choice of codes and vectors is the library's."""
    original = codebook.replace_

    def replace_(samples: torch.Tensor, mask: torch.Tensor) -> None:
        original(samples, mask)
        reset = float(codebook.threshold_ema_dead_code)
        codebook.cluster_size.data.masked_fill_(mask, reset)
        codebook.embed_avg.data.copy_(torch.where(mask[:, None], codebook.embed * reset, codebook.embed_avg))

    codebook.replace_ = replace_


class _Generator(nn.Module):
    def __init__(self, cfg: PeerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = build_library_model(cfg)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # training forwards (saved: resumes)
        for m in self.model.modules():
            if hasattr(m, "inited") and hasattr(m, "init_embed_"):
                _guard_kmeans_init(m)
                _guard_dead_code_restart(m)

    def tick(self) -> None:
        """Count training forwards; at ``cfg.vq_reinit`` steps let the library re-run its k-means init."""
        if not self.training:
            return
        if int(self.steps) in self.cfg.vq_reinit:
            for m in self.model.modules():
                if hasattr(m, "inited") and hasattr(m, "init_embed_"):
                    m.inited.fill_(0)  # the library's EuclideanCodebook re-initialises on this batch
        self.steps += 1


class EncodecGenerator(_Generator):
    def forward(self, wav: torch.Tensor, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.tick()
        m = self.model
        bws = m.target_bandwidths
        bw = bws[int(torch.randint(len(bws), ()))] if self.training else max(bws)
        q = m.quantizer(m.encoder(wav), m.frame_rate, bw)
        audio = fit_length(m.decoder(q.quantized), wav.shape[-1])
        return {"audio": audio, "vq/commitment": q.penalty}


class DACGenerator(_Generator):
    def forward(self, wav: torch.Tensor, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = self.model(wav, self.model.sample_rate)
        return {"audio": fit_length(out["audio"], wav.shape[-1]), "vq/commitment": out["vq/commitment_loss"],
                "vq/codebook": out["vq/codebook_loss"]}


class SpeechTokenizerGenerator(_Generator):
    def forward(self, wav: torch.Tensor, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        from speechtokenizer.trainer.loss import d_axis_distill_loss

        self.tick()
        audio, commit, feature = self.model(wav)  # feature: RVQ-1 through `transform`, [B, F, teacher_dim]
        out = {"audio": fit_length(audio, wav.shape[-1]), "vq/commitment": commit}
        if "teacher" in targets:
            out["sem/distill"] = d_axis_distill_loss(feature, targets["teacher"].transpose(1, 2))
        return out


GENERATORS = {"encodec": EncodecGenerator, "dac": DACGenerator, "speechtokenizer": SpeechTokenizerGenerator}


def build_generator(cfg: PeerConfig) -> _Generator:
    return GENERATORS[cfg.family](cfg)


# DAC's published MelSpectrogramLoss settings (conf/final/16khz.yml)
DAC_MEL = dict(n_mels=[5, 10, 20, 40, 80, 160, 320], window_lengths=[32, 64, 128, 256, 512, 1024, 2048],
               mel_fmin=[0.0] * 7, mel_fmax=[None] * 7, pow=1.0, clamp_eps=1.0e-5, mag_weight=0.0)
# SpeechTokenizer's 4 mel scales (spt_base_cfg.json: n_fft 1024, hop 240, 80 mels, halved 3 times)
ST_MEL = [dict(n_fft=1024 // k, num_mels=80, hop_size=240 // k, win_size=1024 // k, fmin=0, fmax=None)
          for k in (1, 2, 4, 8)]
ST_MEL_LAMBDAS = (45.0, 1.0, 1.0, 1.0)


class PeerTrainable(TrainableCodec):
    """The shared trainer's view of a trained-here library codec."""

    def __init__(self, cfg: PeerConfig, data_dir=None, load_teacher: bool = True, device: str = "cpu") -> None:
        super().__init__(cfg)
        self.family = cfg.family
        self._stft: Any = None
        self._dac_mel: Any = None
        if cfg.teacher and load_teacher:
            from bench.codecs.xcodec.teachers import get_teacher

            self.teacher = get_teacher(cfg.teacher, device=device, data_dir=data_dir)

    @property
    def loss_weights(self) -> dict[str, float]:
        # without a teacher (load_teacher=False) there is no distillation target, hence no sem/* loss to weigh
        return {k: v for k, v in self.cfg.loss.items() if self.teacher is not None or not k.startswith("sem/")}

    def build_generator(self) -> nn.Module:
        return build_generator(self.cfg)

    def build_discriminator(self) -> nn.Module:
        from bench.codecs.xcodec.discriminator import build_discriminator

        return build_discriminator(self.cfg.disc)

    def _reconstruction(self, fake: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
        w = self.loss_weights
        out: dict[str, torch.Tensor] = {}
        if w.get("rec/l1"):
            out["rec/l1"] = torch.nn.functional.l1_loss(fake, real)
        if w.get("rec/stft"):
            if self._stft is None:
                from bench.codecs.xcodec.losses import MultiResSTFTLoss

                self._stft = MultiResSTFTLoss(self.cfg.stft_windows).to(fake.device)
            out["rec/stft"] = self._stft(fake, real)
        if w.get("rec/mel") and self.family == "dac":
            from audiotools import AudioSignal
            from dac.nn.loss import MelSpectrogramLoss

            if self._dac_mel is None:
                self._dac_mel = MelSpectrogramLoss(**DAC_MEL).to(fake.device)
            sr = self.sample_rate
            with torch.autocast(fake.device.type, enabled=False):
                out["rec/mel"] = self._dac_mel(AudioSignal(fake.float(), sr), AudioSignal(real.float(), sr))
        if w.get("rec/mel") and self.family == "speechtokenizer":
            from speechtokenizer.trainer.loss import mel_loss

            with torch.autocast(fake.device.type, enabled=False):
                out["rec/mel"] = sum(lam * mel_loss(real.float(), fake.float(), sample_rate=self.sample_rate, **kw)
                                     for lam, kw in zip(ST_MEL_LAMBDAS, ST_MEL, strict=True))
        return out

    def generator_losses(self, wav, out, disc, adversarial):
        from bench.codecs.xcodec.losses import generator_adv_loss

        fake = out["audio"].float()
        real = wav[..., : fake.shape[-1]]
        losses = self._reconstruction(fake, real)
        if adversarial and disc is not None:
            losses.update(generator_adv_loss(disc, real, fake))
        return losses

    def discriminator_losses(self, wav, fake, disc):
        from bench.codecs.xcodec.losses import discriminator_loss

        return discriminator_loss(disc, wav[..., : fake.shape[-1]], fake.float())
