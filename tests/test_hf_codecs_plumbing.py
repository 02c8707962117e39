"""Plumbing check of the transformers-backed codecs through the CLI (issue #17): ``bench eval-codec`` and
``bench run --task tts --preset smoke`` on two of them, Mimi and the paper's X-Codec (``xcodec-hf``).

Their weights are small random-init models (tests/test_hf_codecs.py's builds) saved with ``save_pretrained``
into a tmp folder and found through ``$BENCH_WEIGHTS_<NAME>``, the published path a user's download takes. So
this checks that the chain runs and its records name the codec and its weights, never what the numbers are:
random weights measure nothing. Everything is written under a tmp data and results root, never into the
repository's results/ (a plumbing check is never reported as a result).

Why these two: the tts task's NAR fills codebooks 1..n_q-1, so a codec needs ``data.n_q`` (4 in the smoke
preset) codebooks; ``xcodec2`` and ``wavtokenizer`` have one. Mimi (24 kHz, 12.5 frames/s, codebooks of 2048)
also checks that the 16 kHz smoke speech feeds a 24 kHz codec and that ``lm.audio_vocab`` must cover its
codebook (raised for both codecs, as the budget rule asks); xcodec-hf is the paper's own published model.
Slow (about 70 s on 2 shared CPU cores): ``pytest -m slow tests/test_hf_codecs_plumbing.py``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")
from test_hf_codecs import PLUGINS, _build  # noqa: E402

from bench.config import preset_variant  # noqa: E402

pytestmark = pytest.mark.slow
BENCH = str(Path(sys.executable).parent / "bench")
ROOT = Path(__file__).resolve().parent.parent
CODECS = ("mimi", "xcodec-hf")
# test_tasks_pipeline.TINY with a real offline scorer (the CLI cannot see test-registered metrics), and an LM
# vocabulary that covers Mimi's 2048 codes
SET = ["lm.d_model=32", "lm.n_layers=1", "lm.n_heads=2", "lm.audio_vocab=2048", "train.steps=8",
       "train.batch_size=4", "train.ckpt_every=3", "train.warmup=2", "data.max_test_items=2",
       "data.max_gen_seconds=0.5", "data.min_gen_seconds=0.2", "data.prompt_seconds=0.5",
       "metrics=[wer/faster-whisper-tiny.en]"]


def _bench(*args: str, env: dict[str, str], cwd: Path) -> str:
    out = subprocess.run([BENCH, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=900)
    assert out.returncode == 0, f"bench {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def _records(path: Path) -> list[dict]:
    assert path.is_file(), path
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _check(recs: list[dict], name: str, env_var: str) -> None:
    """Each record names the codec, its origin and the weights it was given; every value is finite."""
    assert recs
    for r in recs:
        facts = r["codec_facts"]
        assert r["codec"] == name and facts["origin"] == "published", (r["metric"], facts)
        assert facts["weights"] == f"{PLUGINS[name].repo_id} (${env_var})", facts["weights"]
        assert r["value"] is None or math.isfinite(r["value"]), (r["metric"], r["value"])
    assert sum(r["value"] is not None for r in recs) > len(recs) // 2, [r["metric"] for r in recs]


def test_eval_codec_and_tts_smoke_on_random_init_published_codecs(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env.update(BENCH_DATA=str(tmp_path / "data"), BENCH_RESULTS=str(tmp_path / "results"), HF_HUB_OFFLINE="1",
               COLUMNS="200")
    vars_ = {}
    for name in CODECS:
        _build(name, tmp_path / "weights" / name)
        vars_[name] = PLUGINS[name]().weights_env
        env[vars_[name]] = str(tmp_path / "weights" / name)
    before = sorted(p.relative_to(ROOT) for p in (ROOT / "results").rglob("*") if p.is_file())
    roots = ["--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results")]

    _bench("eval-codec", *CODECS, "--preset", "smoke", "--limit", "3", *roots, env=env, cwd=tmp_path)
    for name in CODECS:
        recs = _records(tmp_path / "results" / "records" / "smoke" / f"codec__{name}.jsonl")
        _check(recs, name, vars_[name])
        n_q = PLUGINS[name].codebooks
        assert {"pesq@nq1", f"pesq@nq{n_q}", f"wer@nq{n_q}", "perplexity@level1"} <= {r["metric"] for r in recs}

    sets = [a for s in SET for a in ("--set", s)]
    _bench("run", "--codec", ",".join(CODECS), "--task", "tts", "--preset", "smoke", *sets, *roots, env=env,
           cwd=tmp_path)
    variant = preset_variant("smoke", SET)
    for name in CODECS:
        recs = _records(tmp_path / "results" / "records" / variant / f"tts__{name}.jsonl")
        _check(recs, name, vars_[name])
        assert {"wer@ar", "wer@ar+nar", "nll_bps@ar"} <= {r["metric"] for r in recs}
        assert all(r["budget"]["steps_reached"] == 8 for r in recs if r.get("budget"))

    after = sorted(p.relative_to(ROOT) for p in (ROOT / "results").rglob("*") if p.is_file())
    assert after == before  # nothing written into the repository's results/
