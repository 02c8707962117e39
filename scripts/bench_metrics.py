"""Seconds of compute per second of audio for each offline metric backend on this machine's CPU.

Scores the first N clean test clips of the speech recipe with the disk cache off, after one warm-up
clip (model load excluded and reported separately). Writes results/metrics/throughput_cpu.json.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_metrics.py --preset smoke
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # a CPU figure, even where a GPU exists

SLOW = {"wer/openai-whisper-tiny.en": 3}  # clips for backends too slow for the full set on 2 cores


def _clear_memos() -> None:
    from bench.metrics import asr, mos

    asr._TRANSCRIPTS.clear()
    mos._dnsmos_clip.cache_clear()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="smoke")
    ap.add_argument("--n", type=int, default=8, help="clips per backend")
    ap.add_argument("--only", default="", help="comma-separated backend names (default: every offline one)")
    ap.add_argument("--out", type=Path, default=Path("results/metrics/throughput_cpu.json"))
    a = ap.parse_args(argv)

    import numpy as np
    import torch

    torch.set_num_threads(1)
    from tqdm import tqdm
    from validate_metrics import _items

    from bench.atomic import write_json
    from bench.metrics import METRICS, scoring
    from bench.results import git_sha, hardware, now

    _, items = _items(a.preset, "test")
    items = items[: a.n + 1]
    rng = np.random.default_rng(0)
    for it in items:  # every backend gets what it needs: a reference, a noisy hypothesis, a prompt
        it.ref_audio = it.audio
        it.prompt_audio = it.audio[::-1].copy()
        it.audio = (it.audio + 0.01 * rng.standard_normal(len(it.audio))).astype(np.float32)

    names = [n for n in a.only.split(",") if n] or [n for n in METRICS.names() if METRICS.get(n).tier == "offline"]
    rows = {}
    for name in tqdm(names, desc="backends"):
        ok, why = METRICS.get(name).available()
        if not ok:
            rows[name] = {"available": False, "why": why}
            continue
        warm, timed = items[:1], items[1: 1 + SLOW.get(name, a.n)]
        b = scoring.get_backend(name)
        t = time.perf_counter()
        if b.level == "set":
            b.embed(warm[0].audio, warm[0].sr)  # type: ignore[attr-defined]
        else:
            b.score(warm)
        load_s = time.perf_counter() - t
        _clear_memos()  # WER/CER share transcripts and the DNSMOS backends one model pass: time each alone
        t = time.perf_counter()
        if b.level == "set":
            for it in timed:
                b.embed(it.audio, it.sr)  # type: ignore[attr-defined]
        else:
            b.score(timed)
        dt = time.perf_counter() - t
        audio_s = sum(len(it.audio) / it.sr for it in timed)
        rows[name] = {"available": True, "sec_per_audio_sec": round(dt / audio_s, 4), "n_clips": len(timed),
                      "audio_seconds": round(audio_s, 2), "wall_s": round(dt, 2),
                      "first_clip_s_incl_load": round(load_s, 2), "backend": scoring.identity(name)}
        print(f"{name:32s} {dt / audio_s:8.4f} s/s  ({len(timed)} clips, {audio_s:.1f} s audio)", flush=True)
    res = {"command": "python scripts/bench_metrics.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "preset": a.preset, "threads": os.environ.get("OMP_NUM_THREADS"), "git_sha": git_sha(),
           "hardware": hardware(), "time": now(),
           "note": "shared 2-core machine under load from other jobs: upper bounds", "backends": rows}
    write_json(a.out, res)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
