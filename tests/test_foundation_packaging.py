"""`codecs/` and `tasks/` import as bench.codecs / bench.tasks everywhere; the stdlib `codecs` survives."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = (
    "import codecs, bench.codecs, bench.tasks, bench.codecs.base; "
    "assert codecs.encode('abc', 'rot13') == 'nop'; "
    "assert hasattr(bench.codecs, 'CODECS') and hasattr(bench.tasks, 'TASKS'); "
    "print(bench.codecs.__file__)"
)


def _run(cwd, env_extra=None):
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", CHECK], cwd=cwd, env=env, capture_output=True, text=True)


def test_import_from_repo_root():
    out = _run(ROOT)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).parent == ROOT / "codecs"


def test_import_from_other_directory(tmp_path):
    out = _run(tmp_path)  # the editable install (make setup) resolves the mapping
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).parent == ROOT / "codecs"


def test_import_without_install_via_pythonpath(tmp_path):
    out = _run(tmp_path, {"PYTHONPATH": str(ROOT), "PYTHONNOUSERSITE": "1"})
    assert out.returncode == 0, out.stderr


def test_non_editable_install(tmp_path):
    src = tmp_path / "src"  # build from a copy: a build in place would leave build/ in the checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("bench", "codecs", "tasks"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site),
         str(src)],
        check=True,
        capture_output=True,
    )
    assert (site / "bench" / "codecs" / "base.py").is_file()
    # presets are data files: they must ship in a non-editable install too
    for rel in ("codecs/xcodec/configs/smoke.yaml", "tasks/configs/tts.smoke.yaml", "data/configs/speech.smoke.yaml",
                "codecs/peer_configs/speechtokenizer_base.json"):
        assert (site / "bench" / rel).is_file(), rel
    assert not (site / "codecs").exists()  # never installed as a top-level `codecs`
    out = _run(tmp_path, {"PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).parent == site / "bench" / "codecs"


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    mapping = {"bench": "bench", "codecs": "bench.codecs", "tasks": "bench.tasks"}
    found = set()
    for top, name in mapping.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join([name, *rel.parts]))
    assert found == listed, f"pyproject packages out of date: missing {found - listed}, extra {listed - found}"


def test_cli_start_up_imports_nothing_heavy():
    """Fast start-up is about what gets imported; the time itself is measured by scripts/bench_startup.py."""
    code = "import sys, bench.cli, bench.listing as r; r.codec_rows(); r.task_rows(); r.metric_rows(); " \
           "print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    heavy = {"torch", "whisper", "faster_whisper", "encodec", "dac", "speechtokenizer", "transformers",
             "submitit", "ray"}  # the launchers' libraries too (bench run --launcher)
    assert heavy.isdisjoint(out.stdout.split())


def test_cli_listings_run():
    bench = Path(sys.executable).parent / "bench"
    for verb in ("--help", "codecs", "tasks", "metrics"):
        out = subprocess.run([str(bench), verb], capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "COLUMNS": "200"})
        assert out.returncode == 0, out.stderr


def test_a_second_clone_runs_its_own_code(tmp_path):
    """`make setup` in a second clone gives it its own ./.venv over the shared pinned packages: each clone's
    `bench` imports that clone's code, whichever clone ran set-up last (issue #18)."""
    import os

    import pytest

    shared = Path(sys.prefix) / "shared-venv"
    if not shared.is_file():
        pytest.skip("this interpreter is not a clone venv made by scripts/setup.sh")
    clone = tmp_path / "clone"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for rel in files:
        if (ROOT / rel).is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, clone / rel)
    marker = "second-clone-marker"
    init = clone / "bench" / "__init__.py"
    init.write_text(init.read_text() + f"\nCLONE_MARKER = {marker!r}\n")
    cache = Path(shared.read_text().strip()).parent.parent  # <cache>/venvs/<key>
    env = {**os.environ, "BENCH_CACHE": str(cache)}
    out = subprocess.run(["bash", "scripts/setup.sh"], cwd=clone, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    probe = "import bench; print(bench.__file__, getattr(bench, 'CLONE_MARKER', '-'))"
    theirs = subprocess.run([str(clone / ".venv/bin/python"), "-c", probe], cwd=tmp_path, capture_output=True,
                            text=True)
    ours = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert theirs.stdout.split() == [str(clone / "bench" / "__init__.py"), marker], theirs.stderr
    assert ours.stdout.split() == [str(ROOT / "bench" / "__init__.py"), "-"], ours.stderr
    # the console script too
    cli = subprocess.run([str(clone / ".venv/bin/bench"), "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
