"""Get a codec ready for a task run: load it, and train it first if it is trained here and missing."""

from __future__ import annotations

import subprocess
import sys

from bench.codecs import WeightsUnavailable, get_codec


def train_command(name: str, preset: str, data_dir=None) -> list[str]:
    cmd = [sys.executable, "-m", "bench.cli", "train-codec", name, "--preset", preset]
    return cmd + (["--data-dir", str(data_dir)] if data_dir else [])


def load_codec(name: str, preset: str, device: str = "cpu", data_dir=None, train_missing: bool = True, log=print):
    """The codec, with weights present. A trained-here codec without weights is trained through
    ``bench train-codec`` (the codec area's verb, so we reuse its resume and logging) when
    ``train_missing``; a published codec without weights raises ``WeightsUnavailable`` with its how-to."""
    codec = get_codec(name, preset=preset, device=device, data_dir=data_dir)
    w = codec.weights()
    how = f"bench train-codec {name} --preset {preset}"
    own_run = getattr(codec, "own_run", None)  # trained-here codecs: the run this preset's config names
    own = own_run() if own_run is not None else None
    if w.present and own is not None and w.source != own:  # another run of the preset (other settings)
        log(f"codec: {name} ({preset}): the trained run found, {w.source}, is not this preset's config ({own})")
        if not train_missing:
            raise WeightsUnavailable(f"codec {name!r} ({preset}): only {w.source} is trained, not this preset's "
                                     f"config {own}: run `{how}`")
    elif w.present:
        log(f"codec: {name} ({w.origin}, {w.source})")
        return codec
    if w.origin != "trained-here":
        raise WeightsUnavailable(f"codec {name!r}: weights not present. {w.detail}")
    if not train_missing:
        raise WeightsUnavailable(f"codec {name!r} ({preset}) is not trained yet: run `{how}`")
    log(f"codec: {name} ({preset}) has no checkpoint of this config; training it now: {how}")
    rc = subprocess.run(train_command(name, preset, data_dir)).returncode
    codec = get_codec(name, preset=preset, device=device, data_dir=data_dir)
    if rc != 0 or not codec.weights().present or (own is not None and codec.weights().source != own):
        raise WeightsUnavailable(f"codec {name!r} ({preset}): training failed (exit {rc}); run `{how}`, see its log")
    return codec
