"""The build engine's renderer: subprocess engines render side by side, in-process ones in order, and a clip
that cannot be used is recorded as skipped, whichever way it was rendered."""

from __future__ import annotations

import numpy as np

from bench.audio import load
from bench.data.builder import ClipSpec, SkipClip, render_missing


def _tone(f: float) -> tuple[np.ndarray, int]:
    t = np.arange(8000) / 8000
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32), 8000


def test_parallel_and_serial_clips_render_the_same_and_skips_are_recorded(tmp_path):
    order: list[float] = []

    def side(f):
        def r():
            if f == 0:
                raise SkipClip("no audio for this text")
            return _tone(f)
        return r

    def serial(f):
        def r():
            order.append(f)
            return _tone(f)
        return r

    specs = [ClipSpec(f"p{f}", "par", {"f": f}, side(f), parallel=True) for f in (0, 220, 330, 440, 550)]
    specs += [ClipSpec(f"s{f}", "ser", {"f": f}, serial(f)) for f in (660, 220, 880)]
    skipped = render_missing(tmp_path, specs, 16000, None, "test")
    assert skipped == {"p0": "no audio for this text"}
    assert (tmp_path / specs[0].relpath).with_suffix(".skip").read_text() == "no audio for this text\n"
    assert order == [660, 220, 880]  # in-process renders keep their order
    a = load(tmp_path / specs[1].relpath, sr=16000)[0]  # tone 220 Hz rendered side by side ...
    b = load(tmp_path / specs[6].relpath, sr=16000)[0]  # ... and in order: the same audio
    assert a.shape == (16000,) and np.array_equal(a, b)
    assert render_missing(tmp_path, specs, 16000, None, "test") == skipped and order == [660, 220, 880]  # resumed
