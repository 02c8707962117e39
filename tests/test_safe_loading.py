"""Every torch.load in the code loads tensors only (weights_only=True): a checkpoint can never run code."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ("bench", "codecs", "tasks", "scripts")


def _loads(path: Path) -> list[tuple[int, bool]]:
    """(line, has weights_only=True) for each ``torch.load(...)`` call in a file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch":
            safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                       for k in node.keywords)
            out.append((node.lineno, safe))
    return out


def test_every_torch_load_is_weights_only():
    found, unsafe = 0, []
    for d in CODE:
        for p in sorted((ROOT / d).rglob("*.py")):
            for line, safe in _loads(p):
                found += 1
                if not safe:
                    unsafe.append(f"{p.relative_to(ROOT)}:{line}")
    assert found >= 5  # the scan sees the loaders (codec checkpoints, LM checkpoints, teachers, ...)
    assert not unsafe, f"torch.load without weights_only=True: {unsafe}"


def test_the_scan_catches_an_unsafe_call(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("import torch\na = torch.load('a.pt')\nb = torch.load('b.pt', weights_only=True)\n")
    assert _loads(p) == [(2, False), (3, True)]
