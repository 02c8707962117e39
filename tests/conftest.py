"""Shared fixtures. Tests never touch the user's data or results: BENCH_DATA and BENCH_RESULTS point to tmp."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_data_root(tmp_path_factory, monkeypatch):
    if "BENCH_DATA" not in os.environ or os.environ.get("BENCH_TEST_KEEP_DATA") != "1":
        monkeypatch.setenv("BENCH_DATA", str(tmp_path_factory.getbasetemp() / "bench-data"))
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path_factory.getbasetemp() / "bench-results"))


@pytest.fixture(autouse=True)
def _registries_restored():
    """What a test registers (or unregisters) in a plugin registry is undone after it."""
    from bench.codecs import CODECS
    from bench.data import RECIPES
    from bench.metrics import METRICS
    from bench.tasks import TASKS

    regs = (CODECS, TASKS, METRICS, RECIPES)
    saved = [(dict(r._entries), dict(r._meta), r._plugins_loaded) for r in regs]
    yield
    for r, (entries, meta, loaded) in zip(regs, saved, strict=True):
        r._entries, r._meta, r._plugins_loaded = entries, meta, loaded


@pytest.fixture
def tone():
    """One second of a 440 Hz tone at 16 kHz, amplitude 0.5."""
    sr = 16000
    t = np.arange(sr) / sr
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr


@pytest.fixture
def override():
    """``override(key, folder)``: a paper-tier backend's weights lookup finds ``folder`` (as ``--weights``); the
    scorer caches (instances, identities) start and end empty, so no test sees another's backend."""
    from bench.metrics import scoring
    from bench.metrics.weights import _OVERRIDES, set_weights_override

    keys: list[str] = []

    def use(key: str, path) -> None:
        set_weights_override(key, path)
        keys.append(key)
        scoring._INSTANCES.clear()
        scoring._IDENTITIES.clear()

    yield use
    for k in keys:
        _OVERRIDES.pop(k, None)
    scoring._INSTANCES.clear()
    scoring._IDENTITIES.clear()


@pytest.fixture
def heard(tmp_path, monkeypatch):
    """(manifest, rows) of two training voices (train + valid clips) and one held-out voice (test clips); the 'ASR'
    hears spk1 wrong on every clip (one word substituted) and everyone else right; the recipe build, the
    transcripts and the score cache are replaced, everything after them is real."""
    import lm_fixtures
    import numpy as np

    import bench.data
    from bench.audio import load
    from bench.data.manifest import read_manifest
    from bench.metrics import asr

    m = lm_fixtures.make_manifest(tmp_path / "ds", valid_per_spk=2)
    monkeypatch.setattr(bench.data, "ensure_built", lambda recipe, preset, data_dir=None, overrides=(): m)
    monkeypatch.setattr(asr, "_TRANSCRIPTS", {})
    rows = read_manifest(m)
    said = {}
    for r in rows:  # keyed by the audio the check loads, as the backend sees it
        x = np.asarray(load(m.parent / r["path"], sr=16000, checks=None)[0], dtype=np.float32)
        said[asr._audio_key(x)] = " ".join(["zzz", *r["text"].split()[1:]]) if r["speaker"] == "spk1" else r["text"]

    def hear(self, x, seed):
        return asr.Transcript(said[asr._audio_key(x)], 0.0)

    monkeypatch.setattr(asr._FasterWhisper, "_transcribe_one", hear)
    monkeypatch.setattr("bench.metrics.scoring.cache_path", lambda *a, root=None: tmp_path / "cache" / "_".join(a))
    return m, rows
