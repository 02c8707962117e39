"""Crash consistency of a task run's stages (issue #18): a kill at each point leaves the old state or the new
one, never a half-written file that is read back; the rerun removes orphan temp files and finishes with the
records an uninterrupted run writes. Kill points: tokenize (mid-encoding; between the token arrays and
index.json; while it removes its parts), generate (mid-way; a truncated .npy), scoring (between scoring and
the records; between the records and done.json), report (mid-way through the figures).

A kill is a KeyboardInterrupt raised at the point (what Ctrl-C does; ``atomic_path`` then removes its temp
file); a SIGKILL would leave that temp file behind, so each test also plants such an orphan before the rerun.
"""

import json
import os
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from lm_fixtures import ProjectionRVQ, make_manifest, register

import bench.data
import bench.report.plots
import bench.tasks.runner as runner
import bench.tasks.tokens as tokens
from bench.atomic import STALE_S, is_temp
from bench.config import preset_variant
from bench.results import load
from bench.tasks.runner import records_path, run
from bench.tasks.tokens import tokenize_manifest

torch.set_num_threads(1)
TINY = ["lm.d_model=32", "lm.n_layers=1", "lm.n_heads=2", "train.steps=8", "train.batch_size=4",
        "train.ckpt_every=3", "train.warmup=2", "data.max_test_items=2", "data.max_gen_seconds=0.5",
        "data.min_gen_seconds=0.2", "data.prompt_seconds=0.5", "metrics=[wer/test-rms]"]
VARIANT = preset_variant("smoke", TINY)


def quiet(msg):
    pass


def _strip(recs):
    out = []
    for r in recs:
        r = {k: v for k, v in r.items() if k != "time"}
        r["extra"] = {k: v for k, v in r["extra"].items() if k != "wall_s"}
        out.append(r)
    return out


def _temps(*dirs) -> list[Path]:
    return [p for d in dirs if Path(d).exists() for p in Path(d).rglob("*") if is_temp(p)]


def _kill_writing(monkeypatch, module, name: str):
    """Make ``module.write_json`` raise KeyboardInterrupt when it writes a file called ``name`` (a kill just
    before that file lands); returns the call that puts the real writer back."""
    real = module.write_json

    def write_json(path, obj):
        if Path(path).name == name:
            raise KeyboardInterrupt
        return real(path, obj)

    monkeypatch.setattr(module, "write_json", write_json)
    return lambda: monkeypatch.setattr(module, "write_json", real)


def _orphan(folder: Path, target: str, age_s: float = 0.0) -> Path:
    """The temp file a writer SIGKILLed inside ``atomic_path`` leaves (named as mkstemp names it there)."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f".{target}.k1ll3d_x{Path(target).suffix}.tmp"
    p.write_bytes(b"half a file")
    if age_s:
        t = time.time() - age_s
        os.utime(p, (t, t))
    return p


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One manifest and the records of one uninterrupted run: what every rerun must reproduce."""
    register()
    root = tmp_path_factory.mktemp("kill")
    m = make_manifest(root / "ds")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bench.data, "ensure_built", lambda recipe, preset, data_dir=None, overrides=(): m)
        recs = run("tts", "test-rpq", "smoke", overrides=TINY, data_dir=root / "d0", results_dir=root / "r0",
                   echo=quiet)
    return SimpleNamespace(root=root, manifest=m, recs=recs)


@pytest.fixture
def kw(world, tmp_path, monkeypatch):
    monkeypatch.setattr(bench.data, "ensure_built", lambda recipe, preset, data_dir=None, overrides=(): world.manifest)
    return dict(overrides=TINY, data_dir=tmp_path / "d", results_dir=tmp_path / "r", echo=quiet)


def _run_dir(kw) -> Path:
    return next((kw["data_dir"] / "runs" / "tts" / VARIANT).iterdir())


# -- tokenize --------------------------------------------------------------------------------------------
def _tok(m, data_dir, codec=None, batch_size=2, log=quiet):
    return tokenize_manifest(codec or ProjectionRVQ(), m, "speech", "t", data_dir=data_dir, batch_size=batch_size,
                             log=log)


def _same_cache(a, b) -> None:
    assert json.loads((a.dir / "index.json").read_text())["items"] == json.loads((b.dir / "index.json").read_text())[
        "items"]
    for split in ("train", "test"):
        assert np.array_equal(np.load(a.dir / f"{split}.npy"), np.load(b.dir / f"{split}.npy"))
    assert not (b.dir / "parts").exists() and not _temps(b.dir)


class _Killing(ProjectionRVQ):
    """Encodes like the fixture codec; counts its calls; raises KeyboardInterrupt on call ``kill_at``."""

    def __init__(self, kill_at=None):
        super().__init__()
        self.calls, self.kill_at = 0, kill_at

    def encode(self, wav, n_q=None):
        self.calls += 1
        if self.calls == self.kill_at:
            raise KeyboardInterrupt
        return super().encode(wav, n_q)


def test_tokenize_killed_mid_encoding_resumes_to_the_same_cache(world, tmp_path, monkeypatch):
    monkeypatch.setattr(tokens, "CHUNK_BATCHES", 1)  # 12 clips, 2 a batch: 6 resumable parts
    base = _tok(world.manifest, tmp_path / "base")
    for data_dir, batch_size, encodes in ((tmp_path / "same", 2, 3), (tmp_path / "other", 3, 4)):
        with pytest.raises(KeyboardInterrupt):
            _tok(world.manifest, data_dir, _Killing(kill_at=4))
        d = base.dir.relative_to(tmp_path / "base")
        d = data_dir / d
        assert not (d / "index.json").exists() and len(list((d / "parts").glob("*.npz"))) == 3
        assert not _temps(d)
        orphan = _orphan(d / "parts", "b2x1-00003.npz")  # a SIGKILL while the 4th part was written
        codec = _Killing()
        again = _tok(world.manifest, data_dir, codec, batch_size=batch_size)
        # the same batch size resumes (3 batches left); another one starts over instead of mixing layouts
        assert codec.calls == encodes and not orphan.exists()
        _same_cache(base, again)


def test_tokenize_killed_before_its_index_or_while_dropping_parts(world, tmp_path, monkeypatch):
    base = _tok(world.manifest, tmp_path / "base")
    restore = _kill_writing(monkeypatch, tokens, "index.json")
    with pytest.raises(KeyboardInterrupt):  # the token arrays are written, the completion mark is not
        _tok(world.manifest, tmp_path / "d")
    restore()
    d = tmp_path / "d" / base.dir.relative_to(tmp_path / "base")
    assert (d / "train.npy").is_file() and not (d / "index.json").exists() and (d / "parts").is_dir()
    orphan = _orphan(d, "index.json")
    codec = _Killing()
    _same_cache(base, _tok(world.manifest, tmp_path / "d", codec))
    assert codec.calls == 0 and not orphan.exists()  # assembled from the parts, nothing encoded again

    real_drop = tokens._drop_parts

    def killed(d):
        raise KeyboardInterrupt

    monkeypatch.setattr(tokens, "_drop_parts", killed)
    with pytest.raises(KeyboardInterrupt):  # complete (index.json written), parts/ not yet removed
        _tok(world.manifest, tmp_path / "e")
    monkeypatch.setattr(tokens, "_drop_parts", real_drop)
    said = []
    _same_cache(base, _tok(world.manifest, tmp_path / "e", log=said.append))
    assert any("removing parts/" in m for m in said)


# -- generate --------------------------------------------------------------------------------------------
def test_generate_killed_mid_way_and_a_truncated_npy_is_generated_again(world, kw, monkeypatch):
    from bench.tasks import TASKS

    cls = TASKS.get("tts")
    real, calls, kill = cls.generate, [], [True]

    def generate(self, models, item, ctx):
        calls.append(item["id"])
        if kill[0] and len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, models, item, ctx)

    monkeypatch.setattr(cls, "generate", generate)
    with pytest.raises(KeyboardInterrupt):
        run("tts", "test-rpq", "smoke", **kw)
    run_dir = _run_dir(kw)
    first = sorted((run_dir / "gen" / "ar").glob("*.npy"))
    assert len(first) == 1 and not (run_dir / "done.json").exists() and not _temps(run_dir)
    # a half-written code array (a copy cut short; our writes are atomic) must never be decoded as valid
    blob = first[0].read_bytes()
    first[0].write_bytes(blob[: len(blob) // 2])
    orphan = _orphan(run_dir / "gen" / "ar+nar", first[0].name)
    calls.clear()
    kill[0] = False
    assert _strip(run("tts", "test-rpq", "smoke", **kw)) == _strip(world.recs)
    assert len(calls) == 2  # the truncated item again, and the one the kill stopped
    assert not orphan.exists() and not _temps(run_dir, kw["results_dir"])


# -- scoring and records ---------------------------------------------------------------------------------
def test_scoring_killed_before_or_while_writing_records(world, kw, monkeypatch):
    assert run("tts", "test-rpq", "smoke", until="generate", **kw) == []
    run_dir = _run_dir(kw)
    own, ref = records_path(VARIANT, "tts", "test-rpq", kw["results_dir"]), records_path(
        VARIANT, "tts", "reference", kw["results_dir"])
    for p in (own, ref):  # an older run's records: the kill must leave them as they were
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("old records\n")
    real, n = runner._write_records, []

    def write_records(path, recs):  # killed after the task records, while the reference records are written
        n.append(path)
        if len(n) == 2:
            raise KeyboardInterrupt
        return real(path, recs)

    monkeypatch.setattr(runner, "_write_records", write_records)
    with pytest.raises(KeyboardInterrupt):
        run("tts", "test-rpq", "smoke", **kw)
    monkeypatch.setattr(runner, "_write_records", real)
    assert own.read_text() == ref.read_text() == "old records\n"
    assert not any((run_dir / f).exists() for f in ("scores.jsonl", "records.jsonl", "done.json"))
    assert not _temps(run_dir, kw["results_dir"])

    # killed between the records and the completion mark: the rerun scores again and writes the same
    restore = _kill_writing(monkeypatch, runner, "done.json")
    with pytest.raises(KeyboardInterrupt):
        run("tts", "test-rpq", "smoke", **kw)
    restore()
    assert _strip(load(own)) == _strip(world.recs) and not (run_dir / "done.json").exists()
    orphans = [_orphan(own.parent, own.name), _orphan(run_dir, "scores.jsonl"),
               _orphan(ref.parent, ref.name, age_s=2 * STALE_S)]
    recs = run("tts", "test-rpq", "smoke", **kw)
    assert _strip(recs) == _strip(world.recs) == _strip(load(own))
    assert _strip(load(ref)) == _strip(load(records_path(VARIANT, "tts", "reference", world.root / "r0")))
    assert [json.loads(x) for x in (run_dir / "records.jsonl").read_text().splitlines()] == recs
    assert (run_dir / "done.json").is_file() and not any(p.exists() for p in orphans)
    assert not _temps(run_dir, kw["results_dir"])


# -- report ----------------------------------------------------------------------------------------------
def _files(d: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(d)): (p.stat().st_ino, p.read_bytes()) for p in sorted(d.rglob("*")) if p.is_file()}


def test_report_killed_mid_way_leaves_the_old_report(world, tmp_path, monkeypatch):
    from bench.report.build import write_report

    res = tmp_path / "results"
    shutil.copytree(world.root / "r0" / "records", res / "records")
    rep = dict(date="2000-01-01", command="bench report", data_root=world.root / "d0", n_boot=50)
    write_report(res, **rep)
    before = _files(res)
    assert "LEADERBOARD.md" in before and any(k.startswith("plots/") and k.endswith(".png") for k in before)

    def killed(*a, **k):  # after the bitrate and training figures of the task's table were drawn
        raise KeyboardInterrupt

    monkeypatch.setattr(bench.report.plots, "plot_wer_items", killed)
    with pytest.raises(KeyboardInterrupt):
        write_report(res, **{**rep, "date": "2000-01-02"})
    monkeypatch.undo()
    assert _files(res) == before  # same bytes and same inodes: not one file was replaced
    stale = _orphan(res / "plots" / VARIANT, "bitrate_tts.png", age_s=2 * STALE_S)  # a SIGKILLed report's
    fresh = _orphan(res / "plots" / VARIANT, "train_tts.png")  # a report writing now: left alone
    write_report(res, **rep)
    assert not stale.exists() and fresh.exists()
    fresh.unlink()
    after = _files(res)
    assert {k: v[1] for k, v in after.items()} == {k: v[1] for k, v in before.items()}
    assert not _temps(res)
