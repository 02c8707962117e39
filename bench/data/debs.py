"""Data-only Debian packages, fetched with ``apt-get download`` and unpacked with ``dpkg -x`` (never installed).

Packages land under ``<data root>/cache/debs/<package>/``; a ``.unpacked`` marker makes the step
idempotent. No root needed, no dependencies pulled, nothing added to the system.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.atomic import write_text


class PackageUnavailable(RuntimeError):
    """A data package that could not be fetched; the message says what to run instead."""


def unpacked(package: str, cache_dir: Path) -> Path:
    """Root of the unpacked package tree (``.../usr/share/...`` lives below it); fetch on first use."""
    root = cache_dir / "debs" / package
    if (root / ".unpacked").is_file():
        return root
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise PackageUnavailable(f"{package}: `{tool}` not found (needs a Debian/Ubuntu system); "
                                     f"unpack the package's files into {root} and touch {root}/.unpacked")
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent) as td:
        res = subprocess.run(["apt-get", "download", package], cwd=td, capture_output=True, text=True)
        debs = list(Path(td).glob("*.deb"))
        if res.returncode != 0 or not debs:
            raise PackageUnavailable(
                f"{package}: `apt-get download {package}` failed ({res.stderr.strip()[-300:]}); "
                f"run `apt-get update` first, or fetch the .deb elsewhere and `dpkg -x it.deb {root}`")
        tmp_root = Path(td) / "root"
        subprocess.run(["dpkg", "-x", str(debs[0]), str(tmp_root)], check=True, capture_output=True)
        write_text(tmp_root / ".unpacked", debs[0].name + "\n")
        if root.exists():
            shutil.rmtree(root)
        tmp_root.rename(root)
    return root
