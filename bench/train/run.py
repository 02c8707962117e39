"""``bench train-codec NAME``: resolve a registered codec's trainable, its data and run folder, train.

A codec class is trainable when it defines ``trainable(preset, overrides, data_dir) ->
(TrainableCodec, resolved config dict)``; the run folder is ``data/codecs/<name>/<preset>-<hash>/``
with the hash of that resolved config.
"""

from __future__ import annotations

from pathlib import Path

from bench.train.config import data_source, run_hash


class NotTrainable(ValueError):
    """The codec ships published weights only; the CLI prints this as one ``error:`` line."""


def resolve(name: str, preset: str, overrides=(), data_dir=None, load_teacher: bool = True, device: str = "cpu"):
    from bench.codecs import CODECS

    cls = CODECS.get(name)
    if not hasattr(cls, "trainable"):
        trainable_here = sorted(n for n in CODECS.names() if hasattr(CODECS.get(n), "trainable"))
        raise NotTrainable(f"codec {name!r} is not trained here (published weights only); trainable: "
                          f"{', '.join(trainable_here)}")
    trainable, cfg_dict = cls.trainable(preset, list(overrides), data_dir=data_dir, load_teacher=load_teacher,
                                        device=device)
    return trainable, cfg_dict


def train_codec(name: str, preset: str, overrides=(), data_dir=None, device: str = "cpu",
                manifest: str | Path | None = None, dist=None, progress: bool = True) -> Path:
    from bench.train.loop import run_dir, train

    trainable, cfg_dict = resolve(name, preset, overrides, data_dir, device=device)
    if manifest is None:
        from bench.data import ensure_built

        manifest = ensure_built(*data_source(cfg_dict, preset), data_dir)
    out = run_dir(name, preset, run_hash(cfg_dict), data_dir)
    train(trainable, manifest, out, cfg_dict, device=device, dist=dist, progress=progress)
    return out

