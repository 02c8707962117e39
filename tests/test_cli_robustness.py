"""The CLI under bad input and contention: one error line and exit 2 for what the user can fix, no
folder left by a typo, one writer per run folder and token cache, and --data-dir governing every cache."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import DataDir, app

ONE_LINE = "error: "


@pytest.fixture
def verb():
    """Add a hidden verb to the app for one test (the app is rebuilt on every invoke)."""
    added = []

    def add(name, fn):
        app.command(name, hidden=True)(fn)
        added.append(app.registered_commands[-1])

    yield add
    for c in added:
        app.registered_commands.remove(c)


def _invoke(args, **kw):
    return CliRunner().invoke(app, [str(a) for a in args], **kw)


def _one_error_line(r, *expect: str) -> str:
    out = r.output.strip()
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert out.startswith(ONE_LINE) and "\n" not in out and "Traceback" not in out, out
    for e in expect:
        assert e in out, (e, out)
    return out


# -- 1. named, OS and encoding errors: one line, exit 2 --------------------------------------------------
def _unknown_codec():
    from bench.codecs import CODECS

    CODECS.get("xcodek")


def _unknown_preset():
    from bench.tasks.config import load_task_config

    load_task_config("tts", "nope")


def _raise(cls_path: str, *args):
    """A callable that raises ``cls_path(*args)`` (imported when called: no torch at collection)."""
    def f():
        import importlib

        mod, _, name = cls_path.rpartition(".")
        raise getattr(importlib.import_module(mod), name)(*args)

    return f


CASES = {
    "record": (_raise("bench.results.RecordError", "r.jsonl:3: missing field 'n'"),
               ["r.jsonl:3: missing field 'n' — ", "--skip-invalid"]),
    "manifest": (_raise("bench.data.manifest.ManifestError", "m.jsonl:2: duplicate id 'a'"),
                 ["m.jsonl:2: duplicate id 'a' — ", "bench data build"]),
    "weights": (_raise("bench.codecs.base.WeightsUnavailable", "codec 'x': weights not present. Get them"),
                ["weights not present", "— `bench codecs`"]),
    "backend": (_raise("bench.metrics.base.BackendUnavailable", "wer/x: pip install y\n  or set X"),
                ["wer/x: pip install y or set X — "]),
    "incomparable": (_raise("bench.report.integrity.IncomparableRecords", "wer: the two records differ"),
                     ["differ — "]),
    "unknown-name": (_unknown_codec, ["unknown codec 'xcodek' — did you mean 'xcodec'?"]),
    "unknown-preset": (_unknown_preset, ["task 'tts' has no preset 'nope'", "— "]),
    "permission": (_raise("builtins.PermissionError", errno.EACCES, "Permission denied", "/ro/d/runs"),
                   ["/ro/d/runs: permission denied — "]),
    "read-only": (_raise("builtins.OSError", errno.EROFS, "Read-only file system", "/ro/d"),
                  ["/ro/d: read-only file system — "]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_named_and_os_errors_print_one_line_exit_2(verb, case):
    make, expect = CASES[case]

    def raise_it() -> None:
        make()

    verb("raise-it", raise_it)
    _one_error_line(_invoke(["raise-it"]), *expect)


def test_disk_full_and_non_utf8_name_the_file(verb, tmp_path):
    big, bad = tmp_path / "big.bin", tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"a": 1}\n{"b": "caf\xe9"}\n')

    def full() -> None:
        with open(big, "wb") as f:  # noqa: F841 - the handler finds the file the failing code had open
            raise OSError(errno.ENOSPC, "No space left on device")  # as os.write gives it: no file name

    def undecodable() -> None:
        bad.read_text(encoding="utf-8")

    verb("full", full)
    verb("undecodable", undecodable)
    _one_error_line(_invoke(["full"]), f"{big}: no space left on device — ")
    _one_error_line(_invoke(["undecodable"]), f"{bad}:2: not UTF-8 text (byte 0xe9 at column 11) — ")


def test_a_bug_keeps_its_traceback_and_debug_reraises(verb):
    def bug() -> None:
        raise ZeroDivisionError("a bug")

    def named() -> None:
        from bench.results import RecordError

        raise RecordError("r.jsonl:1: bad")

    verb("bug", bug)
    verb("named", named)
    r = _invoke(["bug"])
    assert r.exit_code == 1 and isinstance(r.exception, ZeroDivisionError)
    from bench.results import RecordError

    for r in (_invoke(["--debug", "named"]), _invoke(["named"], env={"BENCH_DEBUG": "1"})):
        assert isinstance(r.exception, RecordError), r.output
    assert "BENCH_DEBUG" not in os.environ  # --debug does not leak out of an in-process call


def test_console_script_unknown_codec(tmp_path):
    """The installed entry point: stderr is the one line, exit 2, and no run (or data) folder is made."""
    import subprocess
    import sys

    bench = Path(sys.executable).parent / "bench"
    cmd = [str(bench)] if bench.is_file() else [sys.executable, "-m", "bench.cli"]
    d = tmp_path / "x"
    out = subprocess.run(cmd + ["run", "--codec", "nosuchcodec", "--task", "tts", "--preset", "smoke", "--data-dir",
                                str(d)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 2 and out.stdout == "", (out.stdout, out.stderr)
    assert out.stderr.startswith("error: unknown codec 'nosuchcodec' — ") and out.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_run_unknown_codec_or_task_leaves_no_folder(tmp_path):
    d = tmp_path / "d"
    base = ["run", "--task", "tts", "--preset", "smoke", "--data-dir", d, "--results-dir", tmp_path / "r"]
    _one_error_line(_invoke(base + ["--codec", "nosuchcodec"]), "unknown codec 'nosuchcodec' — known: ")
    _one_error_line(_invoke(base + ["--codec", "xcodek"]), "did you mean 'xcodec'?")
    _one_error_line(_invoke(["run", "--codec", "xcodec", "--task", "ttx", "--data-dir", d]),
                    "unknown task 'ttx' — did you mean 'tts'?")
    _one_error_line(_invoke(base + ["--codec", "xcodec,nosuchcodec"]), "unknown codec 'nosuchcodec'")
    _one_error_line(_invoke(base + ["--codec", "xcodec", "--until", "score"]), "--until 'score'")
    _one_error_line(_invoke(base + ["--codec", "xcodec,xcodec-acoustic", "--set", "data.nope=1"]),
                    "unknown keys ['nope']")  # a matrix's config is checked once, before any cell's process
    assert not d.exists() and not (tmp_path / "r").exists()

    from bench.tasks.runner import run

    with pytest.raises(KeyError, match="unknown codecs 'nosuchcodec'"):
        run("tts", "nosuchcodec", "smoke", data_dir=d, echo=lambda m: None)
    assert not d.exists()


def test_a_matrix_runs_each_cell_in_its_own_process_and_goes_on_after_a_failure(tmp_path):
    """`bench run --codec a,b` starts one `bench run` per cell; a cell that fails (here: published weights absent
    from an empty home) is reported with its exit status and the next cell still runs."""
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "HF_HOME": str(home / "hf"),
           "TORCH_HOME": str(home / "torch"), "HF_HUB_OFFLINE": "1"}
    d, r = tmp_path / "d", tmp_path / "r"
    out = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--codec", "mimi,xcodec2", "--task", "tts",
                          "--preset", "smoke", "--set", "train.steps=3", "--data-dir", str(d), "--results-dir",
                          str(r)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 1, (out.stdout, out.stderr)
    lines = out.stdout.splitlines()
    for codec in ("mimi", "xcodec2"):  # each cell's own command line, with the matrix's options
        cmd = next(x for x in lines if x.startswith(f"run: tts/{codec}: "))
        assert f"run --codec {codec} --task tts --preset smoke" in cmd and "--set train.steps=3" in cmd
        assert f"--data-dir {d}" in cmd and f"--results-dir {r}" in cmd
        assert re.search(rf"^tts +{re.escape(codec)} +failed: exit 2$", out.stdout, re.M)
    errors = [x for x in out.stderr.splitlines() if x.startswith("error: ")]  # one per cell, from its process
    assert len(errors) == 2 and "'mimi'" in errors[0] and "'xcodec2'" in errors[1], out.stderr
    assert not d.exists() and not r.exists()


def test_train_codec_and_report_errors(tmp_path):
    _one_error_line(_invoke(["train-codec", "nosuch", "--data-dir", tmp_path / "d"]), "unknown codec 'nosuch'")
    _one_error_line(_invoke(["report", "--format", "pdf", "--results-dir", tmp_path]), "--format 'pdf'")
    from bench.commands.report import FORMATS
    from bench.report.build import FORMATS as BUILD_FORMATS

    assert FORMATS == BUILD_FORMATS
    bad = tmp_path / "records" / "smoke" / "tts__x.jsonl"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b'\n{"b": "\xff"}\n')
    _one_error_line(_invoke(["report", "--results-dir", tmp_path, "--no-plots"]), f"{bad}:2: not UTF-8 text")
    _one_error_line(_invoke(["compare", "a", "b", "--task", "tts", "--results-dir", tmp_path]), f"{bad}:2:")
    baseline = tmp_path / "base.json"
    baseline.write_text("{not json")
    bad.unlink()
    _one_error_line(_invoke(["check", "--against", baseline, "--results-dir", tmp_path]), f"{baseline}:1: not valid")


def test_non_utf8_results_and_manifest_name_file_and_line(tmp_path):
    from bench.data.manifest import ManifestError, read_manifest
    from bench.results import RecordError, load

    p = tmp_path / "r.jsonl"
    p.write_bytes(b"\n\n\x80\n")
    with pytest.raises(RecordError, match=r"r\.jsonl:3: not UTF-8 text \(byte 0x80 at column 1\) — "):
        load(p)
    m = tmp_path / "manifest.jsonl"
    ok = '{"id": "a", "path": "a.flac", "duration": 1.0, "sr": 16000, "split": "train"}\n'
    m.write_bytes(ok.encode() + b'{"id": "b\xc3", "path": "b.flac"}\n')
    with pytest.raises(ManifestError, match=r"manifest\.jsonl:2: not UTF-8 text \(byte 0xc3 at column 10\) — "):
        read_manifest(m)


# -- 3. one writer per cell ---------------------------------------------------------------------------------
TINY = ["lm.d_model=32", "lm.n_layers=1", "lm.n_heads=2", "train.steps=8", "train.batch_size=4",
        "train.ckpt_every=3", "train.warmup=2", "data.max_test_items=2", "data.max_gen_seconds=0.5",
        "data.min_gen_seconds=0.2", "data.prompt_seconds=0.5", "metrics=[wer/test-rms]"]


@pytest.fixture
def manifest(tmp_path, monkeypatch):
    import torch
    from lm_fixtures import make_manifest, register

    import bench.data

    torch.set_num_threads(1)
    register()
    m = make_manifest(tmp_path / "ds")
    monkeypatch.setattr(bench.data, "ensure_built", lambda recipe, preset, data_dir=None, overrides=(): m)
    return m


def _logs(second_waits: threading.Event):
    """Per-thread log lists, and log functions; the second's sets ``second_waits`` when it says it waits."""
    logs: dict[str, list[str]] = {"first": [], "second": []}

    def second(m: str) -> None:
        logs["second"].append(m)
        if "waiting for" in m:
            second_waits.set()

    return logs, {"first": logs["first"].append, "second": second}


def _json(recs):
    return json.loads(json.dumps(recs, sort_keys=True, default=str))


def test_two_runs_of_one_cell_train_once_and_agree(manifest, tmp_path, monkeypatch):
    import bench.tasks.lm.train as lm_train
    from bench.config import preset_variant
    from bench.tasks.runner import records_path, run

    trained, training, second_waits = [], threading.Event(), threading.Event()
    real_train = lm_train.train

    def counting_train(objective, cfg, run_dir, stage, **kw):
        trained.append(stage)
        training.set()
        second_waits.wait(60)  # hold the cell until the second run is queued on its lock
        return real_train(objective, cfg, run_dir, stage, **kw)

    monkeypatch.setattr(lm_train, "train", counting_train)
    logs, echo = _logs(second_waits)

    def go(who: str):
        return run("tts", "test-rpq", "smoke", overrides=TINY, data_dir=tmp_path / "d", results_dir=tmp_path / "r",
                   echo=echo[who])

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(go, "first")
        assert training.wait(120), logs["first"]  # the first holds the cell's lock, deep in its run
        second = pool.submit(go, "second")
        a, b = first.result(timeout=300), second.result(timeout=300)

    assert a and _json(a) == _json(b)
    assert sorted(trained) == ["ar", "nar"]  # each LM stage trained once, by the first
    waited = [m for m in logs["second"] if "waiting for" in m]
    assert waited and "pid" in waited[0] and ".run.lock" in waited[0], logs["second"]
    assert any("finished already" in m for m in logs["second"])
    variant = preset_variant("smoke", TINY)
    run_dirs = [p for p in (tmp_path / "d" / "runs" / "tts" / variant).iterdir()]
    assert len(run_dirs) == 1 and not list(run_dirs[0].glob("*.owner"))
    assert sorted(p.name for p in run_dirs[0].glob("*.final.pt")) == ["ar.final.pt", "nar.final.pt"]
    assert _json(a) == _json([json.loads(x) for x in
                              records_path(variant, "tts", "test-rpq", tmp_path / "r").read_text().splitlines()])


def test_two_tokenizers_of_one_cache_encode_once(manifest, tmp_path):
    from lm_fixtures import ProjectionRVQ

    from bench.tasks.tokens import tokenize_manifest

    encoded, encoding, second_waits = [], threading.Event(), threading.Event()

    class Slow(ProjectionRVQ):
        def encode(self, wav, n_q=None):
            encoded.append(wav.shape[0])
            encoding.set()
            second_waits.wait(60)  # hold the cache until the second tokenizer is queued on its lock
            return super().encode(wav, n_q)

    logs, echo = _logs(second_waits)

    def go(who: str):
        return tokenize_manifest(Slow(), manifest, "speech", "t", data_dir=tmp_path / "d", log=echo[who])

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(go, "first")
        assert encoding.wait(60)
        second = pool.submit(go, "second")
        a, b = first.result(timeout=120), second.result(timeout=120)

    n_clips = sum(1 for x in manifest.read_text().splitlines() if x.strip())
    assert sum(encoded) == n_clips  # every clip encoded once
    assert a.dir == b.dir and a.index == b.index
    assert any("waiting for" in m and ".tokenize.lock" in m for m in logs["second"]), logs["second"]
    assert any("made while waiting" in m for m in logs["second"])


# -- 4. --data-dir governs every cache ------------------------------------------------------------------------
@pytest.fixture
def clean_cwd(tmp_path, monkeypatch):
    """A fresh working directory and no BENCH_DATA / BENCH_RESULTS: only the flags may say where."""
    monkeypatch.delenv("BENCH_DATA", raising=False)
    monkeypatch.delenv("BENCH_RESULTS", raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_data_dir_reaches_caches_that_are_given_no_root(verb, clean_cwd, tmp_path):
    seen = {}

    def probe(data_dir: Path | None = DataDir, results_dir: Path | None = None) -> None:
        from bench import paths
        from bench.metrics.scoring import _db

        with closing(_db()):  # the metric score cache: asks data_root() with no root
            pass
        paths.sub("cache", "teacher")  # what the codec trainer does when it is handed no cache dir
        seen.update(data=paths.data_root(), results=paths.results_root())

    verb("probe-roots", probe)
    d, res = tmp_path / "d", tmp_path / "res"
    r = _invoke(["probe-roots", "--data-dir", d])
    assert r.exit_code == 0, r.output
    assert seen["data"] == d and (d / "cache" / "scores" / "scores.sqlite").is_file()
    assert (d / "cache" / "teacher").is_dir() and list(clean_cwd.iterdir()) == []
    assert "BENCH_DATA" not in os.environ  # an in-process caller gets its environment back
    r = _invoke(["probe-roots", "--data-dir", d, "--results-dir", res])
    assert r.exit_code == 0, r.output
    assert seen["results"] == res and list(clean_cwd.iterdir()) == []
    assert "BENCH_RESULTS" not in os.environ


def test_cli_with_data_dir_leaves_the_working_directory_untouched(clean_cwd, tmp_path):
    import numpy as np
    import soundfile as sf

    src = tmp_path / "src"
    src.mkdir()
    x = 0.2 * np.sin(np.arange(16000) / 10).astype(np.float32)
    for i in range(3):
        sf.write(src / f"c{i}.wav", x * (i + 1) / 4, 16000)
    (src / "in.jsonl").write_text("".join(json.dumps({"path": f"c{i}.wav", "split": "test" if i == 2 else "train"})
                                          + "\n" for i in range(3)))
    d = tmp_path / "d"
    r = _invoke(["data", "build", "folder", "--preset", "jsonl", "--set", f"root={src / 'in.jsonl'}", "--data-dir", d])
    assert r.exit_code == 0, r.output
    assert (d / "datasets" / "folder" / "jsonl" / "manifest.jsonl").is_file()
    r = _invoke(["codecs", "--format", "tsv", "--data-dir", d])
    assert r.exit_code == 0, r.output
    assert list(clean_cwd.iterdir()) == []
