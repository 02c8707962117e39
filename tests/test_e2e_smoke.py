"""End to end on real data and a real trained codec: the chain `make bench-smoke` runs, at CI size.

Slow (it trains the smoke X-Codec from scratch in a fresh data dir): deselected by default, run by CI
through `pytest -m slow`. It checks the chain's structure (every stage ran, every record names its
backend and carries per-item values), not the values, which the regression gate checks.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import results
from bench.config import preset_variant

pytestmark = pytest.mark.slow
BENCH = str(Path(sys.executable).parent / "bench")


def _bench(*args, env):
    out = subprocess.run([BENCH, *args], capture_output=True, text=True, env=env, timeout=1800)
    assert out.returncode == 0, f"bench {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def test_smoke_tts_chain(tmp_path):
    env = {**os.environ, "BENCH_DATA": str(tmp_path / "data"), "BENCH_RESULTS": str(tmp_path / "results"),
           "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    _bench("run", "--codec", "xcodec", "--task", "tts", "--preset", "smoke", "--set", "train.steps=30", env=env)
    variant = preset_variant("smoke", ["train.steps=30"])  # a --set run files under its own preset variant
    recs = results.load(tmp_path / "results" / "records" / variant / "tts__xcodec.jsonl")
    metrics = {r["metric"] for r in recs}
    assert {"wer@ar", "wer@ar+nar", "spk@ar", "spk@ar+nar", "mos@ar", "mos@ar+nar"} <= metrics
    for r in recs:
        assert r["backend"]["name"] and r["n"] > 0
        assert len(r["per_item"]["ids"]) == len(r["per_item"]["values"]) == len(r["per_item"]["groups"])
        assert r["codec_facts"]["codec_id"] and r["budget"]["steps_reached"] == 30
    scored = {r["metric"] for r in recs if r["backend"]["name"] != "bench.lm_readiness"}
    readiness = metrics - scored  # held-out NLL of the two LMs on the valid split (no clean-audio floor)
    assert {"nll_bps@ar", "nll_bps@nar", "ppl@level0"} <= readiness
    ref = results.load(tmp_path / "results" / "records" / variant / "tts__reference.jsonl")
    assert {r["metric"] for r in ref} == scored  # every scored number has its clean-audio floor beside it
    run_dirs = list((tmp_path / "data" / "runs" / "tts" / variant).iterdir())
    assert len(run_dirs) == 1 and list((run_dirs[0] / "samples").glob("*/*.wav"))  # samples/<variant>/<id>.wav
    done = json.loads((run_dirs[0] / "done.json").read_text())
    assert done["records"] == len(recs)
    again = _bench("run", "--codec", "xcodec", "--task", "tts", "--preset", "smoke", "--set", "train.steps=30",
                   env=env)
    assert "finished already" in again
    _bench("report", "--results-dir", str(tmp_path / "results"), env=env)
    board = (tmp_path / "results" / "LEADERBOARD.md").read_text()
    assert "xcodec" in board and "wer" in board
