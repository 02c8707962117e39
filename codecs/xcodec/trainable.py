"""X-Codec as a :class:`bench.train.interface.TrainableCodec` (what the shared trainer calls)."""

from __future__ import annotations

from bench.codecs.xcodec.config import XCodecConfig
from bench.train.interface import TrainableCodec

DEFAULT_WEIGHTS = {"rec/stft": 1.0, "rec/mel": 1.0, "adv/g": 1.0, "adv/feat": 2.0, "vq/commitment": 1.0,
                   "sem/mse": 100.0}


class XCodecTrainable(TrainableCodec):
    family = "xcodec"

    def __init__(self, cfg: XCodecConfig, data_dir=None, load_teacher: bool = True, device: str = "cpu") -> None:
        super().__init__(cfg)
        self._losses = None
        if cfg.semantic and load_teacher:
            from bench.codecs.xcodec.teachers import get_teacher

            self.teacher = get_teacher(cfg.teacher, device=device, data_dir=data_dir)

    @property
    def loss_weights(self) -> dict[str, float]:
        w = {**DEFAULT_WEIGHTS, **self.cfg.loss}
        if not self.cfg.semantic:
            w.pop("sem/mse", None)
        return w

    def build_generator(self):
        from bench.codecs.xcodec.model import XCodecModel

        return XCodecModel(self.cfg)

    def build_discriminator(self):
        from bench.codecs.xcodec.discriminator import build_discriminator

        return build_discriminator(self.cfg.disc)

    def _loss_modules(self, device):
        if self._losses is None:
            from bench.codecs.xcodec.losses import MelLoss, MultiResSTFTLoss

            self._losses = (MultiResSTFTLoss(self.cfg.stft_windows).to(device),
                            MelLoss(self.cfg.sample_rate, self.cfg.mel_windows, self.cfg.n_mels).to(device))
        return self._losses

    def generator_losses(self, wav, out, disc, adversarial):
        from bench.codecs.xcodec.losses import generator_adv_loss

        stft, mel = self._loss_modules(wav.device)
        fake = out["audio"].float()
        real = wav[..., : fake.shape[-1]]
        losses = {"rec/stft": stft(fake, real)}
        if self.loss_weights.get("rec/mel", 0):
            losses["rec/mel"] = mel(fake, real)
        if adversarial and disc is not None:
            losses.update(generator_adv_loss(disc, real, fake))
        return losses

    def discriminator_losses(self, wav, fake, disc):
        from bench.codecs.xcodec.losses import discriminator_loss

        return discriminator_loss(disc, wav[..., : fake.shape[-1]], fake.float())
