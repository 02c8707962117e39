"""Determinism, measured (issue #18): run one chain twice in fresh data dirs and say, stage by stage,
whether the artefacts are bit-identical, and by how much the headline numbers differ where they are not.

    python scripts/repro.py --preset smoke --codec xcodec            # -> results/repro/smoke.json
    python scripts/repro.py --preset smoke --set train.steps=20 ...  # a cheaper chain (its own variant)
    python scripts/repro.py --preset smoke --threads2 1              # replica 2 on 1 thread: the spread

The chain is what a user runs: `bench data build` (via the run), `bench train-codec` (via the run) and
`bench run --task tts`. Stages compared: data (every file of the dataset), codec (the exported generator's
tensors), tokens (the token arrays), lm (each stage's weights hash), codes (generated codes), audio
(decoded samples), transcripts (ASR hypotheses per item) and records (every value; the largest absolute
difference of the headline values when they differ). Run it on two machines and compare the two JSON
files' ``digests`` to measure the spread across machines.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOLATILE = {"last_build_seconds"}  # stats.json keys that time the build rather than describe the data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _files(folder: Path, pattern: str) -> dict[str, str]:
    return {str(p.relative_to(folder)): _sha(p.read_bytes()) for p in sorted(folder.rglob(pattern)) if p.is_file()}


def _tensors(ckpt: Path) -> dict[str, str]:
    import torch

    gen = torch.load(ckpt, map_location="cpu", weights_only=True)["generator"]
    return {k: _sha(v.detach().contiguous().numpy().tobytes()) for k, v in sorted(gen.items())}


def digests(data: Path, results: Path, task: str) -> dict[str, dict[str, str]]:
    """stage -> {artefact: content hash} for one replica."""
    out: dict[str, dict[str, str]] = {}
    out["data"] = {k: v for d in (data / "datasets").iterdir() for k, v in _files(d, "*").items()
                   if not k.endswith(".lock")}
    for p in sorted((data / "datasets").rglob("stats.json")):  # its build wall time is a measurement
        stats = {k: v for k, v in json.loads(p.read_text()).items() if k not in VOLATILE}
        out["data"][str(p.relative_to(p.parent.parent))] = _sha(json.dumps(stats, sort_keys=True).encode())
    out["codec"] = {f"{p.parent.parent.name}/{k}": v for p in sorted((data / "codecs").rglob("ckpt.pt"))
                    for k, v in _tensors(p).items()}
    out["tokens"] = _files(data / "tokens", "*.npy")
    runs = data / "runs" / task
    out["lm"] = {str(p.relative_to(runs)): json.loads(p.read_text())["weights_sha"]
                 for p in sorted(runs.rglob("*.train.json"))}
    out["codes"] = {str(p.relative_to(runs)): _sha(p.read_bytes()) for p in sorted(runs.rglob("gen/**/*.npy"))}
    out["audio"] = {str(p.relative_to(runs)): _sha(p.read_bytes()) for p in sorted(runs.rglob("samples/**/*.wav"))}
    trans = {}
    for p in sorted(runs.rglob("scores.jsonl")):
        for i, line in enumerate(p.read_text().splitlines()):
            row = json.loads(line)
            hyp = json.dumps(row.get("detail", row), sort_keys=True, default=str)
            trans[f"{p.relative_to(runs)}:{i}"] = _sha(hyp.encode())
    out["transcripts"] = trans
    recs = {}
    for p in sorted((results / "records").rglob("*.jsonl")):
        for r in (json.loads(x) for x in p.read_text().splitlines() if x.strip()):
            key = "|".join(str(r.get(k)) for k in ("task", "codec", "metric", "preset"))
            recs[key] = json.dumps({"value": r.get("value"), "ci": [r.get("ci_low"), r.get("ci_high")],
                                    "per_item": r.get("per_item")}, sort_keys=True, default=str)
    out["records"] = {k: _sha(v.encode()) for k, v in recs.items()}
    out["_values"] = {k: json.loads(v)["value"] for k, v in recs.items()}  # type: ignore[assignment]
    return out


def run_chain(root: Path, args, threads: int | None = None) -> float:
    env = {**os.environ, "BENCH_DATA": str(root / "data"), "BENCH_RESULTS": str(root / "results")}
    if threads:  # another float summation order in every parallel kernel: a stand-in for another machine
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "bench.cli", "run", "--codec", args.codec, "--task", args.task, "--preset",
           args.preset, "--data-dir", str(root / "data"), "--results-dir", str(root / "results")]
    for s in args.set:
        cmd += ["--set", s]
    t0 = time.time()
    with open(root / "chain.log", "w") as log:
        rc = subprocess.run(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        sys.exit(f"error: {root / 'chain.log'}: the chain failed (exit {rc}) — see that log")
    return time.time() - t0


def compare(a: dict, b: dict) -> list[dict]:
    rows = []
    for stage in [k for k in a if not k.startswith("_")]:
        keys = sorted(set(a[stage]) | set(b[stage]))
        differ = [k for k in keys if a[stage].get(k) != b[stage].get(k)]
        row = {"stage": stage, "artefacts": len(keys), "differ": len(differ), "identical": not differ,
               "first_differences": differ[:5]}
        if stage == "records":
            deltas = {}
            for k in differ:
                va, vb = a["_values"].get(k), b["_values"].get(k)
                if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
                    deltas[k] = abs(va - vb)
            row["max_abs_diff"] = max(deltas.values()) if deltas else 0.0
            row["abs_diff"] = deltas
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="smoke")
    ap.add_argument("--codec", default="xcodec")
    ap.add_argument("--task", default="tts")
    ap.add_argument("--set", action="append", default=[], help="task override (as bench run --set)")
    ap.add_argument("--out", type=Path, default=None, help="default results/repro/<preset>.json")
    ap.add_argument("--keep", action="store_true", help="keep the two replica folders (printed)")
    ap.add_argument("--threads2", type=int, default=None,
                    help="run the second replica with this many CPU threads (OMP/MKL): how far the numbers move "
                         "when only the floating-point summation order changes, as on another machine")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-repro-"))
    reps, walls = [], []
    for i in (1, 2):
        root = tmp / f"replica{i}"
        root.mkdir()
        walls.append(round(run_chain(root, args, args.threads2 if i == 2 else None), 1))
        reps.append(digests(root / "data", root / "results", args.task))
    table = compare(*reps)
    out = {"command": "python scripts/repro.py " + " ".join(sys.argv[1:]),
           "machine": f"{platform.machine()} {os.cpu_count()} cpu", "wall_s": walls, "stages": table,
           "replica2_threads": args.threads2,
           "digests": {k: v for k, v in reps[0].items() if not k.startswith("_")}}
    path = args.out or ROOT / "results" / "repro" / f"{args.preset}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    from bench.atomic import write_json

    write_json(path, out)
    for r in table:
        extra = f"  max |diff| {r['max_abs_diff']:.4g}" if "max_abs_diff" in r else ""
        print(f"{r['stage']:<12} {'identical' if r['identical'] else 'DIFFERS':<10} "
              f"{r['differ']}/{r['artefacts']} differ{extra}")
    print(f"-> {path}" + (f"  (replicas in {tmp})" if args.keep else ""))
    if not args.keep:
        import shutil

        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
