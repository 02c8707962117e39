"""Listings for people and scripts: names are never cut in a narrow terminal or a pipe; tsv/json are whole."""

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = str(Path(sys.executable).parent / "bench")


def _bench(*args: str, columns: int = 40) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([BENCH, *args], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_codec_names_survive_a_narrow_pipe_and_match_the_tsv_and_json():
    names = [line.split("\t")[0] for line in _bench("codecs", "--format", "tsv").splitlines()[1:]]
    assert "speechtokenizer@here" in names and "xcodec-acoustic" in names
    table = _bench("codecs", columns=40)
    for n in names:
        assert any(n in line.split() or f" {n} " in line for line in table.splitlines()), n
    assert [r["name"] for r in json.loads(_bench("codecs", "--format", "json"))] == names


def test_unknown_format_is_a_clear_error():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([BENCH, "tasks", "--format", "xml"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2 and "--format 'xml'" in out.stdout + out.stderr
