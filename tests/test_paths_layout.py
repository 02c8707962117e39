"""The data root's layout: bench.paths.LAYOUT, the functions that build each kind, the callers that use
them, and docs/ARCHITECTURE.md's list all say the same."""

import re
from pathlib import Path

from bench import paths

ROOT = Path(__file__).resolve().parent.parent


def _doc_layout() -> list[str]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = text[text.index("**Data root**"):]
    block = block[: block.index("\n- **", 1)]
    return re.findall(r"^\s+- `([^`]+)`", block, flags=re.M)


def test_architecture_lists_exactly_the_layout():
    doc = _doc_layout()
    assert len(doc) == len(paths.LAYOUT), doc
    for kind, template in paths.LAYOUT.items():
        assert sum(d.startswith(template) for d in doc) == 1, f"{kind}: {template} not listed once in {doc}"


def test_builders_follow_the_layout(tmp_path):
    from bench.data import dataset_dir
    from bench.tasks.config import load_task_config
    from bench.tasks.runner import run_dir_of
    from bench.tasks.tokens import cache_dir
    from bench.train.loop import run_dir

    r = tmp_path.resolve()
    cfg = load_task_config("tts", "smoke")
    got = {
        "datasets": dataset_dir("speech", "smoke", r),
        "codecs": run_dir("xcodec", "smoke", "abc", r),
        "tokens": cache_dir("xcodec", "id1", "speech", "smoke", "dh", r),
        "runs": run_dir_of("tts", "xcodec", "smoke", cfg, r),
        "cache": paths.cache_path(root=r),
        "launch": paths.launch_dir("smoke", r),
    }
    values = {"<recipe>": "speech", "<preset>": "smoke", "<codec-name>": "xcodec", "<confighash>": "abc",
              "<codec-id>": "id1", "<datahash>": "dh", "<task>": "tts"}
    for kind, template in paths.LAYOUT.items():
        expect = template
        for k, v in values.items():
            expect = expect.replace(k, v)
        if kind == "runs":
            expect = expect.replace("xcodec-abc", f"xcodec-{cfg.hash}")
        assert got[kind] == r / expect.rstrip("/"), (kind, got[kind])


def test_records_live_in_one_folder_per_preset(tmp_path):
    r = tmp_path.resolve()
    assert paths.records_dir(root=r) == r / "records"
    assert paths.records_dir("cpu+set-ab12cd34", r) == r / "records" / "cpu+set-ab12cd34"
    assert paths.records_file("cpu", "tts", "xcodec", r) == r / "records" / "cpu" / "tts__xcodec.jsonl"
