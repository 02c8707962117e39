"""docs/GUIDE.md's recipes run as written: its code blocks for adding a codec, a task and a metric backend are
executed here, and what they add works through the same paths as the built-ins."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "GUIDE.md"


def _blocks(section: str, lang: str) -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start:end if end > 0 else None]
    return re.findall(rf"```{lang}\n(.*?)```", body, flags=re.S)


def _exec(section: str) -> dict:
    ns: dict = {"__name__": f"guide_{section.replace(' ', '_')}"}
    blocks = _blocks(section, "python")
    assert blocks, f"GUIDE.md '{section}' has no python block"
    for b in blocks:
        exec(compile(b, f"GUIDE.md:{section}", "exec"), ns)  # noqa: S102 - the recipe is the test subject
    return ns


def test_codec_recipe_round_trips_and_is_listed():
    from bench.codecs import CODECS, get_codec
    from bench.listing import codec_rows

    _exec("Adding a codec")
    codec = get_codec("mulaw-8k")
    t = torch.arange(8000) / 8000
    wav = (0.5 * torch.sin(2 * torch.pi * 440 * t)).view(1, 1, -1)
    codes = codec.encode(wav)
    assert codes.shape == (1, 1, 8000) and codes.dtype == torch.int64
    assert int(codes.min()) >= 0 and int(codes.max()) < codec.codebook_size
    out = codec.decode(codes)
    snr = 10 * torch.log10((wav**2).sum() / ((out - wav) ** 2).sum())
    assert snr > 30, f"mu-law round trip SNR {snr:.1f} dB"
    row = next(r for r in codec_rows() if r["name"] == "mulaw-8k")
    assert row["kbps"] == 64.0 and "mulaw-8k" in CODECS.names()


def test_metric_recipe_scores_items_and_sets():
    from bench.metrics import Item
    from bench.metrics.scoring import fad, score_items

    _exec("Adding a metric backend")
    rng = np.random.default_rng(0)
    clips = [Item(id=f"c{i}", audio=(0.5 * rng.uniform(-1, 1, 8000)).astype(np.float32), sr=16000) for i in range(6)]
    peaks = score_items("peak/dbfs", clips, progress=False)
    expect = [20 * np.log10(np.abs(c.audio).max()) for c in clips]
    np.testing.assert_allclose(peaks, expect, rtol=1e-6)
    tones = [Item(id=f"t{i}", audio=(0.3 * np.sin(2 * np.pi * (300 + 50 * i) * np.arange(8000) / 16000)
                                     + 0.01 * rng.standard_normal(8000)).astype(np.float32), sr=16000)
             for i in range(6)]
    same = fad("fad/bands", clips, clips, n_boot=10)
    other = fad("fad/bands", tones, clips, n_boot=10)
    assert same["value"] == pytest.approx(0.0, abs=1e-6) and other["value"] > 10 * max(same["value"], 1e-3)
    assert other["backend"]["name"] == "fad/bands" and other["n"] == 6


def test_task_recipe_runs_end_to_end(tmp_path, monkeypatch):
    from lm_fixtures import make_manifest, register

    import bench.data
    from bench.tasks.runner import run

    register()  # the fixture codec (test-rpq): tokens in seconds, not minutes
    m = make_manifest(tmp_path / "ds")
    monkeypatch.setattr(bench.data, "ensure_built", lambda recipe, preset, data_dir=None, overrides=(): m)
    monkeypatch.chdir(tmp_path)
    _exec("Adding a metric backend")  # fad/bands: a set-level metric the task can name
    ns = _exec("Adding a task")
    (yaml_block,) = _blocks("Adding a task", "yaml")
    cfg_dir = tmp_path / ns["SpeechContinuation"].config_dir
    cfg_dir.mkdir(parents=True)
    (cfg_dir / "speech-cont.smoke.yaml").write_text(yaml_block)
    tiny = ["lm.d_model=32", "lm.n_layers=1", "lm.n_heads=2", "train.steps=6", "train.batch_size=4",
            "train.ckpt_every=3", "train.warmup=2", "data.max_test_items=2", "data.prompt_seconds=0.3",
            "data.gen_seconds=0.4", "data.max_train_seconds=0.7", "metrics=[wer/test-rms,fad/bands]"]
    recs = run("speech-cont", "test-rpq", "smoke", overrides=tiny, data_dir=tmp_path / "d",
               results_dir=tmp_path / "r", echo=lambda msg: None)
    by_metric = {r["metric"]: r for r in recs if r["codec"] == "test-rpq"}
    assert {"wer", "fad"} <= set(by_metric), sorted(by_metric)
    assert by_metric["wer"]["n"] == 2 and np.isfinite(by_metric["fad"]["value"])
    assert by_metric["fad"]["backend"]["name"] == "fad/bands"
