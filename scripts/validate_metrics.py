"""Validate the offline scorers on the speech recipe's clean test split.

Writes results/metrics/validation_<preset>.json: offline ASR WER (per voice and overall, with CI),
DNSMOS of the clean audio, and speaker EER of resemblyzer over the test voices.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/validate_metrics.py --preset smoke
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _items(preset: str, split: str):
    from bench.audio import load
    from bench.data import ensure_built
    from bench.data.manifest import audio_path, read_manifest
    from bench.metrics.base import Item

    manifest = ensure_built("speech", preset)
    rows = [r for r in read_manifest(manifest) if r["split"] == split]
    items = []
    for r in rows:
        x, sr = load(audio_path(manifest, r), sr=16000)
        items.append(Item(r["id"], x, sr, ref_text=r.get("text"), meta={"speaker": r.get("speaker")}))
    return manifest, items


def _by_voice(items, values) -> dict[str, dict]:
    from bench.metrics.stats import bootstrap_ci

    groups: dict[str, list] = defaultdict(list)
    for it, v in zip(items, values, strict=True):
        groups[it.meta["speaker"]].append(v)
    out = {}
    for spk, vals in sorted(groups.items()):
        m, lo, hi = bootstrap_ci(vals)
        out[spk] = {"value": m, "n": len(vals), "ci_low": lo, "ci_high": hi}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="smoke")
    ap.add_argument("--split", default="test")
    ap.add_argument("--asr", default="wer/faster-whisper-tiny.en,wer/faster-whisper-base")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from bench.atomic import write_json
    from bench.metrics import scoring
    from bench.metrics.stats import eer
    from bench.results import git_sha, hardware, now

    t0 = time.time()
    manifest, items = _items(a.preset, a.split)
    audio_s = sum(len(it.audio) / it.sr for it in items)
    cmd = "python scripts/validate_metrics.py " + " ".join(argv if argv is not None else sys.argv[1:])
    res: dict = {"command": cmd,
                 "preset": a.preset, "split": a.split, "manifest": str(manifest), "n_clips": len(items),
                 "audio_seconds": round(audio_s, 2), "git_sha": git_sha(), "hardware": hardware(), "time": now(),
                 "asr": {}, "mos": {}, "speaker": {}}

    for name in [n for n in a.asr.split(",") if n]:
        t = time.time()
        det = scoring.score_items_detailed(name, items)
        vals = [v for v, _ in det]
        pairs = list(zip(items, det, strict=True))[:: max(1, len(items) // 6)]
        res["asr"][name] = {**scoring.summarize(name, vals), "by_voice": _by_voice(items, vals),
                            "examples": [{"id": it.id, "ref": it.ref_text, "hyp": d["hyp"], "wer": v}
                                         for it, (v, d) in pairs],
                            "wall_s": round(time.time() - t, 1)}

    for name in ("mos/dnsmos-ovrl", "mos/dnsmos-sig", "mos/dnsmos-bak", "mos/dnsmos-p808"):
        t = time.time()
        vals = scoring.score_items(name, items)
        res["mos"][name] = {**scoring.summarize(name, vals), "by_voice": _by_voice(items, vals),
                            "wall_s": round(time.time() - t, 1)}

    t = time.time()
    spk = scoring.get_backend("spk/resemblyzer")
    embs = [spk.embed(it.audio, it.sr) for it in items]  # type: ignore[attr-defined]
    same, diff = [], []
    for i, j in itertools.combinations(range(len(items)), 2):
        c = float(np.dot(embs[i], embs[j]) / (np.linalg.norm(embs[i]) * np.linalg.norm(embs[j])))
        (same if items[i].meta["speaker"] == items[j].meta["speaker"] else diff).append(c)
    e, thr = eer(same, diff)
    res["speaker"]["spk/resemblyzer"] = {
        "backend": scoring.identity("spk/resemblyzer"), "eer": e, "threshold": thr,
        "voices": sorted({it.meta["speaker"] for it in items}), "n_same_pairs": len(same), "n_diff_pairs": len(diff),
        "mean_same": float(np.mean(same)), "mean_diff": float(np.mean(diff)), "wall_s": round(time.time() - t, 1)}
    res["wall_s"] = round(time.time() - t0, 1)

    out = a.out or Path("results/metrics") / f"validation_{a.preset}.json"
    write_json(out, res)
    for name, r in res["asr"].items():
        print(f"{name}: WER {r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] n={r['n']}")
    for name, r in res["mos"].items():
        print(f"{name}: {r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]")
    print(f"speaker EER (resemblyzer): {e:.3f}  same {np.mean(same):.3f} vs diff {np.mean(diff):.3f}")
    print(f"wrote {out} ({res['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
