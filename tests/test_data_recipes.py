"""Data recipes: manifest integrity, determinism, resume after a kill, folder corpora, malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench import audio
from bench.data import RecipeError, build, ensure_built, info
from bench.data.manifest import ManifestError, read_manifest


def _check_integrity(manifest: Path) -> list[dict]:
    rows = read_manifest(manifest, check_files=True)
    assert rows, "empty manifest"
    paths = set()
    for r in rows:
        x, sr = audio.load(manifest.parent / r["path"])
        assert sr == r["sr"]
        assert abs(len(x) / sr - r["duration"]) < 1e-3, r["id"]
        paths.add(r["path"])
    assert len(paths) == len(rows), "two rows share one audio file"
    return rows


@pytest.fixture(scope="module")
def speech_tiny(tmp_path_factory) -> Path:
    return ensure_built("speech", "tiny", tmp_path_factory.mktemp("speech"))


def test_speech_manifest_integrity(speech_tiny: Path) -> None:
    rows = _check_integrity(speech_tiny)
    by_split = {s: [r for r in rows if r["split"] == s] for s in ("train", "valid", "test")}
    assert all(by_split.values()), "every split populated"
    train_spk = {r["speaker"] for r in by_split["train"] + by_split["valid"]}
    test_spk = {r["speaker"] for r in by_split["test"]}
    assert test_spk and not (test_spk & train_spk), "test voices must be unseen in training"
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts), "sentences are distinct across splits"
    ids = {r["id"]: r for r in rows}
    for r in by_split["test"]:
        p = ids[r["prompt_id"]]
        assert p["id"] != r["id"] and p["speaker"] == r["speaker"] and p["split"] == "test"
    for r in rows:
        assert 4 <= len(r["text"].split()) <= 14 and r["phonemes"] and r["licence"] and r["source"]
    stats = json.loads((speech_tiny.parent / "stats.json").read_text())
    assert stats["clips"] == len(rows)
    assert abs(stats["hours"] * 3600 - sum(r["duration"] for r in rows)) < 1.0
    assert sum(stats["duration_histogram"].values()) == len(rows)


def test_speech_deterministic_and_noop(speech_tiny: Path, tmp_path: Path) -> None:
    other = ensure_built("speech", "tiny", tmp_path)
    assert other.read_bytes() == speech_tiny.read_bytes()
    for r in read_manifest(other):  # the audio too, not only the manifest
        assert (other.parent / r["path"]).read_bytes() == (speech_tiny.parent / r["path"]).read_bytes(), r["id"]
    mtime = other.stat().st_mtime_ns
    assert ensure_built("speech", "tiny", tmp_path) == other
    assert other.stat().st_mtime_ns == mtime, "a finished build must be a no-op"


def test_speech_resume_after_kill(speech_tiny: Path, tmp_path: Path, monkeypatch) -> None:
    import bench.data.engines as engines

    real = engines.synthesize
    calls = {"n": 0}

    def dying(*a, **k):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt  # the kill, mid-build
        return real(*a, **k)

    monkeypatch.setattr(engines, "synthesize", dying)
    with pytest.raises(KeyboardInterrupt):
        build("speech", "tiny", tmp_path)
    out = tmp_path / "datasets/speech/tiny"
    # subprocess voices render side by side: clips rendered beside the killed one before the kill reached the
    # main thread are kept; the queued ones are cancelled (checked below: clips are left for the resume)
    done = len(list(out.rglob("*.flac")))
    assert not (out / "manifest.jsonl").exists() and done >= 5
    assert not list(out.rglob("*.tmp")), "no partial files left behind"
    calls["n"] = -10_000  # no more kills
    manifest = build("speech", "tiny", tmp_path)
    n_rows = len(read_manifest(manifest))
    assert n_rows > done and calls["n"] == -10_000 + n_rows - done, "only the missing clips are rendered"
    assert manifest.read_bytes() == speech_tiny.read_bytes()


def test_music_split_by_piece(tmp_path: Path) -> None:
    rows = _check_integrity(ensure_built("music", "tiny", tmp_path))
    splits_of: dict[str, set[str]] = {}
    for r in rows:
        splits_of.setdefault(r["piece"], set()).add(r["split"])
        assert r["caption"] and r["label"]
    assert all(len(s) == 1 for s in splits_of.values()), "a piece in two splits"
    assert {"train", "test"} <= {s for v in splits_of.values() for s in v}
    ids = {r["id"]: r for r in rows}
    pairs = [r for r in rows if r.get("prompt_id")]
    assert pairs and all(r["split"] == "test" for r in pairs)
    for r in pairs:  # the prompt is the previous segment of the same piece
        assert ids[r["prompt_id"]]["piece"] == r["piece"] and r["prompt_id"].endswith(f"-s{int(r['id'][-1]) - 1}")


def _shared_cache(tmp_path: Path) -> None:
    """Reuse unpacked Debian data packages across test runs (fetching them is the slow part)."""
    from bench.paths import data_root

    real = data_root() / "cache"
    real.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cache").symlink_to(real)


def test_sound_split_by_source_and_augmentation(tmp_path: Path) -> None:
    from bench.data.debs import PackageUnavailable

    _shared_cache(tmp_path)
    try:
        manifest = ensure_built("sound", "tiny", tmp_path)
    except PackageUnavailable as e:
        pytest.skip(f"apt data packages unavailable here: {e}")
    rows = _check_integrity(manifest)
    split_of: dict[str, set[str]] = {}
    for r in rows:
        assert r["caption"] and r["label"]
        src = r["source"].split("+")[0]
        split_of.setdefault(src, set()).add(r["split"])
    assert all(len(s) == 1 for s in split_of.values()), "a source file in two splits"
    aug = [r for r in rows if "-aug" in r["id"]]
    assert aug and all(r["split"] == "train" for r in aug), "augmentation only for training"
    assert "class_balance" in info("sound", "tiny", tmp_path)


def _librispeech_tree(root: Path) -> None:
    rng = np.random.default_rng(0)
    for subset, speakers in (("train-clean-5", ("19", "26")), ("dev-clean-2", ("84",)), ("test-clean", ("61",))):
        for spk in speakers:
            chap = root / subset / spk / "100"
            chap.mkdir(parents=True)
            lines = []
            for u in range(3):
                utt = f"{spk}-100-{u:04d}"
                t = np.arange(8000 + 800 * u) / 8000
                sf.write(chap / f"{utt}.flac", 0.3 * np.sin(2 * np.pi * (200 + 50 * u) * t)
                         + 0.01 * rng.standard_normal(t.size), 8000)
                lines.append(f"{utt} HELLO WORLD NUMBER {u}")
            (chap / f"{spk}-100.trans.txt").write_text("\n".join(lines) + "\n")


def test_folder_librispeech_tree(tmp_path: Path) -> None:
    corpus = tmp_path / "LibriSpeech"
    _librispeech_tree(corpus)
    manifest = ensure_built("folder", "librispeech", tmp_path / "d", overrides=[f"root={corpus}"])
    rows = _check_integrity(manifest)
    assert len(rows) == 12 and {r["sr"] for r in rows} == {16000}
    assert {r["split"] for r in rows if r["speaker"] == "61"} == {"test"}
    assert {r["split"] for r in rows if r["speaker"] == "84"} == {"valid"}
    r = next(r for r in rows if r["id"] == "19-100-0001")
    assert r["text"] == "HELLO WORLD NUMBER 1" and r["split"] == "train"
    assert all(x.get("prompt_id") for x in rows if x["split"] == "test")


def test_folder_librispeech_bad_transcript_names_line(tmp_path: Path) -> None:
    corpus = tmp_path / "LibriSpeech"
    _librispeech_tree(corpus)
    trans = corpus / "test-clean/61/100/61-100.trans.txt"
    trans.write_text(trans.read_text() + "61-100-0009\n")
    with pytest.raises(ManifestError, match=r"61-100\.trans\.txt:4:"):
        build("folder", "librispeech", tmp_path / "d", overrides=[f"root={corpus}"])


def test_folder_jsonl_and_malformed_line(tmp_path: Path) -> None:
    x = 0.2 * np.sin(np.arange(16000) / 10).astype(np.float32)
    for i in range(4):
        sf.write(tmp_path / f"c{i}.wav", x * (i + 1) / 4, 16000)
    lines = [json.dumps({"path": f"c{i}.wav", "caption": f"clip {i}", "split": "test" if i == 3 else "train"})
             for i in range(4)]
    good = tmp_path / "in.jsonl"
    good.write_text("\n".join(lines) + "\n")
    rows = _check_integrity(ensure_built("folder", "jsonl", tmp_path / "d", overrides=[f"root={good}"]))
    assert sorted(r["caption"] for r in rows) == [f"clip {i}" for i in range(4)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines[:2] + ['{"path": "c2.wav", "caption": 3'] + lines[3:]) + "\n")
    with pytest.raises(ManifestError, match=r"bad\.jsonl:3: invalid JSON"):
        build("folder", "jsonl", tmp_path / "d2", overrides=[f"root={bad}"])


@pytest.mark.parametrize(("line", "why"), [
    ('{"id": "a", "path": "a.flac", "duration": 1.0, "sr": 16000}', "missing required field 'split'"),
    ('{"id": "a", "path": "a.flac", "duration": -1, "sr": 16000, "split": "train"}', "duration must be > 0"),
    ('{"id": "a", "path": "a.flac", "duration": 1, "sr": 16000, "split": "dev"}', "split 'dev'"),
    ('{"id": "a", "path": "/abs/a.flac", "duration": 1, "sr": 16000, "split": "train"}', "must be relative"),
    ('{"id": "b", "path": "b.flac", "duration": 1, "sr": 16000, "split": "test", "prompt_id": "zz"}', "prompt_id 'zz'"),
    ("not json", "invalid JSON"),
])
def test_read_manifest_names_file_and_line(tmp_path: Path, line: str, why: str) -> None:
    ok = '{"id": "ok", "path": "ok.flac", "duration": 1.0, "sr": 16000, "split": "train"}'
    p = tmp_path / "manifest.jsonl"
    p.write_text(ok + "\n\n" + line + "\n")
    with pytest.raises(ManifestError) as e:
        read_manifest(p)
    assert f"{p}:3" in str(e.value) and why in str(e.value)


def test_unknown_recipe_and_paper_preset_errors(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="did you mean 'speech'"):
        build("speech2", "smoke", tmp_path)
    with pytest.raises(RecipeError, match="no preset 'huge'"):
        build("speech", "huge", tmp_path)
    with pytest.raises(ValueError, match="expects a real libritts corpus"):
        build("speech", "paper", tmp_path)
    for recipe, folder_preset in (("music", "musiccaps"), ("sound", "audiocaps"), ("speech-real", "librispeech")):
        with pytest.raises(RecipeError, match=f"--preset {folder_preset}"):
            build(recipe, "paper", tmp_path)


def test_cli_build_and_info(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bench.cli import app

    _shared_cache(tmp_path)
    r = CliRunner().invoke(app, ["data", "build", "speech-real", "--preset", "tiny", "--data-dir", str(tmp_path)])
    if r.exit_code != 0 and "apt-get download" in r.output:
        pytest.skip("apt data packages unavailable here")
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["data", "info", "speech-real", "--preset", "tiny", "--data-dir", str(tmp_path)])
    assert r.exit_code == 0 and "clips 6" in r.output, r.output
    rows = read_manifest(tmp_path / "datasets/speech-real/tiny/manifest.jsonl")
    assert {x["split"] for x in rows} == {"test"} and all(x.get("prompt_id") for x in rows)


def test_build_help_lists_every_recipe() -> None:
    from typer.testing import CliRunner

    from bench.cli import app
    from bench.data import RECIPES

    r = CliRunner().invoke(app, ["data", "build", "--help"], terminal_width=200)
    assert r.exit_code == 0 and all(name in r.output for name in RECIPES), r.output  # grammar was missing
