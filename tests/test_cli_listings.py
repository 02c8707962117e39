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


def test_a_narrow_terminal_shows_the_leading_columns_whole_and_names_the_rest():
    """At 80 columns the codec table shows the columns that fit, each header word whole (rich would otherwise
    fold every column to a letter per line), and a caption names the hidden ones; a wide terminal shows all."""
    narrow = _bench("codecs", columns=80)
    assert "sample" in narrow and "codebooks" in narrow and "more columns (" in narrow and "get)" in narrow
    assert all(len(line) <= 80 for line in narrow.splitlines())
    assert "more columns" not in _bench("codecs", columns=400)
    header = [line for line in _bench("codecs", columns=400).splitlines() if "name" in line][0]
    assert "licence" in header and "get" in header
