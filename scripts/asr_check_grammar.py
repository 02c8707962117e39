#!/usr/bin/env python
"""Offline ASR intelligibility of candidate voices reading grammar-recipe sentences (picks the test voices).

Renders the same --n test sentences of the grammar preset (held-out word pairs included) with every
voice of the preset and a few other offline candidates, as the recipe renders a clip (engine at the
voice's base speed, without the per-clip jitter; resampled to 16 kHz; loudness-normalized), scores
them with the benchmark's own WER backends (faster-whisper base and tiny.en: beam 5 + fallback,
Whisper English normalizer) through bench.metrics.scoring, and reports the
corpus WER per voice (sum of word errors / sum of reference words) with a 95% item-bootstrap CI, and the
pooled corpus WER of the preset's held-out voices. Scores are cached (<data>/cache/scores), so a rerun
only transcribes what is new.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python scripts/asr_check_grammar.py --preset cpu
    -> results/data/grammar_asr_check.json
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Voices checked besides the preset's own (which are checked as configured): the other offline candidates.
EXTRA: list[dict] = [
    {"name": "flite-kal16-r1", "engine": "flite", "voice": "kal16"},  # as `speech` renders it (10% fast)
    {"name": "flite-kal", "engine": "flite", "voice": "kal", "speed": 0.909},  # 8 kHz diphones
    {"name": "espeak-us-f4", "engine": "espeak", "voice": "en-us+f4", "pitch": 70, "speed": 1.05},
    {"name": "espeak-rp-f4", "engine": "espeak", "voice": "en-gb-x-rp+f4", "pitch": 55},
]
BACKENDS = ("wer/faster-whisper-base", "wer/faster-whisper-tiny.en")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="cpu", help="grammar preset whose sentences and held-out voices to check")
    ap.add_argument("--n", type=int, default=12, help="sentences per voice (the same for every voice)")
    ap.add_argument("--voices", nargs="*", default=None, help="subset of voice names (default: all)")
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    import numpy as np

    from bench import audio, data_check
    from bench.atomic import write_json
    from bench.data import load_config
    from bench.data.builder import loudness_normalize
    from bench.data.engines import synthesize
    from bench.data.grammar import sentences
    from bench.data.speech import TunedVoice
    from bench.metrics.base import Item
    from bench.metrics.scoring import identity
    from bench.paths import repo_root

    cfg = load_config("grammar", args.preset)
    texts = [t for t, _ in sentences(cfg, 200, 0, args.n)[2]]
    cands = [v for v in [*cfg.voices, *(TunedVoice(**e) for e in EXTRA)]
             if args.voices is None or v.name in args.voices]
    t0 = time.time()
    items: dict[str, list[Item]] = {}
    for v in cands:  # at the voice's base speed, without the per-clip jitter
        items[v.name] = []
        for i, text in enumerate(texts):
            x, sr = synthesize(v.engine, v.voice, text, v.speed, v.pitch, v.f0)
            x = loudness_normalize(audio.resample(np.asarray(x, dtype=np.float32), sr, 16000), cfg.target_rms_db)
            items[v.name].append(Item(id=f"{v.name}-{i:02d}", audio=x, sr=16000, ref_text=text))
    render_s = time.time() - t0
    roles = {v.name: "test" if v.heldout else "train" for v in cfg.voices}
    heldout = [n for n, r in roles.items() if r == "test" and n in items]

    def corpus(b: str, names: list[str]) -> dict:
        """Corpus WER of these voices' clips, with a 95% CI (speaker-cluster bootstrap over > 1 voice)."""
        grp = [n for n in names for _ in items[n]] if len(names) > 1 else None
        c = data_check.corpus(b, [it for n in names for it in items[n]], grp)
        return {**c, "wer": round(c["wer"], 4), "ci": [round(x, 4) for x in c["ci"]]}

    out_backends = {}
    for b in args.backends:
        per_voice = {}
        for name in items:
            per_voice[name] = {"role": roles.get(name, "not in preset"), **corpus(b, [name])}
            print(f"{b:28s} {name:16s} WER {per_voice[name]['wer']:.3f} "
                  f"({per_voice[name]['errors']}/{per_voice[name]['words']})", flush=True)
        held = {"voices": heldout, **corpus(b, heldout)} if heldout else None
        out_backends[b] = {"identity": identity(b), "voices": per_voice, "heldout_pooled": held}
    out = {"recipe": "grammar", "preset": args.preset, "sentences": texts, "n_per_voice": args.n,
           "render": "engine at the voice's base speed (no jitter) -> 16 kHz -> loudness-normalized",
           "aggregate": "corpus WER = sum(errors) / sum(reference words); CI: 1000x item bootstrap, seed 0 "
                        "(pooled held-out: speaker-cluster bootstrap)",
           "voices": {v.name: f"{v.engine}:{v.voice}" + (f" pitch {v.pitch}" if v.engine == "espeak" else "")
                      + (f" f0 {v.f0:g} Hz" if v.f0 else "") + f" speed {v.speed:g}" for v in cands},
           "backends": out_backends, "render_seconds": round(render_s, 1),
           "seconds": round(time.time() - t0, 1), "machine": f"{platform.machine()} {os.cpu_count()} cpus, "
           f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"}
    dest = Path(args.out) if args.out else repo_root() / "results" / "data" / "grammar_asr_check.json"
    write_json(dest, out)
    for b, d in out_backends.items():
        if d["heldout_pooled"]:
            h = d["heldout_pooled"]
            print(f"{b}: held-out voices pooled WER {h['wer']:.3f} CI {h['ci']} over {h['clips']} clips")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
