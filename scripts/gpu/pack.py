"""Pack what a GPU machine needs into one carry folder (default ./gpu_carry, git-ignored).

The GPU machine reaches no registry and accepts at most 64 MiB with the work tree, so this copies:
wheels it lacks (--wheels DIR), a size-capped subset of a recipe's train split plus its valid split
(FLAC), optional extra files under the data dir (teacher weights, token caches, codec checkpoints).

    python scripts/gpu/pack.py --recipe speech --preset small --max-mb 38 \
        --extra cache/whisper/tiny.en-encoder.pt --wheels .whl
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

from bench import paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="gpu_carry")
    ap.add_argument("--recipe", default=None)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--max-mb", type=float, default=38.0, help="cap on the train audio carried")
    ap.add_argument("--splits", default="train,valid")
    ap.add_argument("--extra", action="append", default=[], help="path under the data dir to carry as is")
    ap.add_argument("--wheels", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    root = paths.data_root()
    if args.recipe:
        src = root / "datasets" / args.recipe / args.preset
        rows = [json.loads(line) for line in (src / "manifest.jsonl").read_text().splitlines() if line.strip()]
        splits = args.splits.split(",")
        keep = [r for r in rows if r["split"] in splits and r["split"] != "train"]
        train = [r for r in rows if r["split"] == "train"]
        random.Random(args.seed).shuffle(train)
        budget = args.max_mb * 2**20 - sum((src / r["path"]).stat().st_size for r in keep)
        used = 0
        for r in train:
            size = (src / r["path"]).stat().st_size
            if used + size > budget:
                continue
            keep.append(r)
            used += size
        keep.sort(key=lambda r: r["id"])
        dst = out / "data" / "datasets" / args.recipe / args.preset
        for r in keep:
            (dst / r["path"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / r["path"], dst / r["path"])
        for marker in (".done", "stats.json"):  # so ensure_built accepts the carried subset as built
            if (src / marker).is_file():
                shutil.copy2(src / marker, dst / marker)
        (dst / "manifest.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in keep))
        hours = sum(r["duration"] for r in keep if r["split"] == "train") / 3600
        n_train = sum(r["split"] == "train" for r in keep)
        print(f"{args.recipe}/{args.preset}: {n_train} train clips ({hours:.2f} h) + {len(keep) - n_train} others")
    for rel in args.extra:
        s, d = root / rel, out / "data" / rel
        d.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if s.is_dir() else shutil.copy2)(s, d)
    if args.wheels:
        shutil.copytree(args.wheels, out / "whl")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
