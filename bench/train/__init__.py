"""The shared codec trainer: one GAN training loop for every codec trained in this repo.

A codec family plugs in by subclassing :class:`bench.train.interface.TrainableCodec`:

```python
class MyCodecTrainable(TrainableCodec):
    family = "mycodec"                       # data/codecs/<name>/<preset>-<hash>/ holds its runs
    def __init__(self, cfg): ...             # cfg: a frozen dataclass with a ``train: TrainConfig`` field
    sample_rate: int; hop_length: int        # default: from cfg; segments are cut at multiples of hop_length
    def build_generator(self) -> nn.Module   # forward(wav[B,1,T], targets: dict) -> dict[str, Tensor]
    def build_discriminator(self) -> nn.Module | None   # forward(wav[B,1,T]) -> (logits list, fmaps list)
    def generator_losses(self, wav, out, disc, adversarial: bool) -> dict[str, Tensor]
    def discriminator_losses(self, wav, fake, disc) -> dict[str, Tensor]
    loss_weights: dict[str, float]           # total = sum(loss_weights[k] * losses[k])  (DAC style)
    teacher: Teacher | None                  # optional frame-level targets (semantic distillation)
```

* The generator's output dict holds ``"audio"`` (the reconstruction, [B, 1, T]) plus any namespaced
  losses it computes itself (``"vq/commitment"``, ``"sem/mse"``); ``generator_losses`` adds the ones
  needing the discriminator or the target (``"rec/stft"``, ``"adv/g"``, ``"adv/feat"``). Only keys
  named in ``loss_weights`` enter the total; every key is logged. The discriminator is called once per
  step on ``cat([real, fake])`` (DDP-friendly: one forward per backward).
* ``teacher`` (see :mod:`bench.train.teacher`) maps one utterance to features [D, F] at the codec's
  frame rate. The trainer computes them once per utterance, caches them by content hash under
  ``data/cache/teacher/<teacher-id>/`` and passes the frames matching each segment as
  ``targets["teacher"]`` ([B, D, F]). Codecs without a teacher get ``targets == {}``.
* Checkpoints (:mod:`bench.train.checkpoint`, plain dicts of tensors, ``torch.load(weights_only=True)``):
  ``ckpt.pt`` = ``{"format", "family", "config", "generator", "step", "teacher", "data"}`` (what a codec plugin
  loads: rebuild the model from ``config`` with ``from_dict`` and ``load_state_dict(generator)``);
  ``last.pt`` = the full resume state (adds discriminator, optimizers, schedulers, RNG states, step).
  ``config.yaml`` beside them is the resolved config; ``tb/`` the TensorBoard scalars.
* The codec plugin (registered by ``bench.codecs``) makes itself trainable with a classmethod
  ``trainable(preset, overrides, data_dir=None, load_teacher=True, device="cpu") -> (TrainableCodec,
  resolved config dict)``; the run folder is ``data/codecs/<name>/<preset>-<config_hash(dict)>/``
  (see :mod:`bench.train.run`). ``train.max_minutes`` stops a budgeted run with a checkpoint.
* Entry point: :func:`bench.train.loop.train(trainable, manifest, out_dir)`; the CLI verb is
  ``bench train-codec NAME --preset P``; DDP through ``torchrun --nproc-per-node N -m bench.train.ddp ...``.
"""

from bench.train.config import TrainConfig

__all__ = ["TrainConfig"]
