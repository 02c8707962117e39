"""How the ASR-in-context split changes a tts continuation run's WER: Whisper's word times vs text alignment.

With ``data.asr_context: prompt`` the ASR hears the clean prompt, then each row's continuation, as one
recording, and only the continuation's words are scored. Two ways to tell them apart, on the same decode:
- ``times``: the words whose middle (Whisper's cross-attention word times) lies after the cut (the rule
  until the alignment split);
- ``aligned``: the words the edit alignment of the transcript to the whole sentence places in the
  continuation (:func:`bench.metrics.asr.after_lead`, the rule now).
For each ASR size and sample set (``reference``: the clean audio, i.e. the floor; ``ar``, ``ar+nar``: the
run's samples), corpus WER by both rules (the aligned one through the WER backend itself, the other as it
decoded before), per voice, and the time of both decodes. The run's own ``prompt_cuts.json``
and manifest give the cuts and texts. Writes ``<out>.md`` and ``<out>.json``.

    python scripts/compare_lead_split.py --run data/runs/tts/cpu/xcodec-<hash> --sizes tiny.en,base
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import yaml

from bench.atomic import write_json, write_text
from bench.audio import load
from bench.metrics import Item, asr, scoring
from bench.metrics.textnorm import edit_counts
from bench.paths import dataset_dir, repo_root
from bench.tasks.prompt_cut import Cut


def by_times(size: str, audio: np.ndarray, seed: int, t: float) -> str:
    """The rule until the alignment split: beam 5 at T=0 with word times (the fallback where the WER backend
    falls back), the first window's words whose middle lies at or after ``t`` seconds."""
    def words(model, temps):
        segs, _ = model.transcribe(audio, language="en", beam_size=asr.BEAM, best_of=asr.BEST_OF,
                                   temperature=list(temps), compression_ratio_threshold=asr.CR_THRESHOLD,
                                   log_prob_threshold=asr.LOGP_THRESHOLD, no_speech_threshold=asr.NO_SPEECH_THRESHOLD,
                                   without_timestamps=True, condition_on_previous_text=False, vad_filter=False,
                                   word_timestamps=True)
        return list(itertools.islice(segs, 1))

    segs = words(asr._fw_model(size), asr.TEMPERATURES[:1])
    if any(asr.needs_fallback(s.compression_ratio, s.avg_logprob) for s in segs):
        segs = words(asr._fw_seeded(size, seed), asr.TEMPERATURES)
    return " ".join(w.word.strip() for s in segs for w in (s.words or []) if (w.start + w.end) / 2 >= t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a finished tts continuation run dir")
    ap.add_argument("--data-dir", type=Path, default=None, help="data root of the run (default: the run's)")
    ap.add_argument("--sizes", default="tiny.en,base")
    ap.add_argument("--variants", default="reference,ar")
    ap.add_argument("--out", type=Path, default=repo_root() / "results" / "explore" / "lead_split")
    a = ap.parse_args()

    cfg = yaml.safe_load((a.run / "config.yaml").read_text())["data"]
    root = a.data_dir or a.run.parents[3]
    ds = dataset_dir(cfg["recipe"], cfg["preset"], root=root)
    by_id = {r["id"]: r for r in map(json.loads, (ds / "manifest.jsonl").read_text().splitlines())}
    stored = json.loads((a.run / "prompt_cuts.json").read_text())
    fr, cuts = stored["frame_rate"], stored["items"]
    clean = {i: load(ds / by_id[i]["path"], checks=None)[0] for i in cuts}
    rows = []
    for size in a.sizes.split(","):
        for variant in a.variants.split(","):
            src = clean if variant == "reference" else {
                i: load(a.run / "samples" / variant / f"{i}.wav", checks=None)[0] for i in cuts}
            per_voice: dict[str, dict[str, list[int]]] = {}
            t0 = time.perf_counter()
            items = []
            for i, row in cuts.items():
                c = Cut.from_json(row)
                cut = round(c.prompt_frames / fr * 16000)
                items.append(Item(id=i, audio=src[i][cut:], sr=16000, ref_text=c.continuation_text,
                                  lead_audio=clean[i][:cut], lead_text=c.prompt_text(by_id[i]["text"])))
            aligned = scoring.score_items_detailed(f"wer/faster-whisper-{size}", items, cache=False)
            for it, (_, d) in zip(items, aligned, strict=True):
                heard = np.concatenate([it.lead_audio, it.audio]).astype(np.float32)
                timed = edit_counts(it.ref_text, by_times(size, heard, asr.item_seed(asr._audio_key(heard)),
                                                          len(it.lead_audio) / 16000))
                v = per_voice.setdefault(by_id[it.id]["speaker"], {"times": [0, 0], "aligned": [0, 0]})
                for rule, num, den in (("times", timed.num, timed.den), ("aligned", d["num"], d["den"])):
                    v[rule][0] += num
                    v[rule][1] += den
            wall = time.perf_counter() - t0

            def wer(rule: str, voices=per_voice) -> float:
                return sum(x[rule][0] for x in voices.values()) / sum(x[rule][1] for x in voices.values())

            rows.append({"asr": f"faster-whisper-{size}", "samples": variant, "items": len(cuts),
                         "wer_times": round(wer("times"), 4), "wer_aligned": round(wer("aligned"), 4),
                         "per_voice_aligned": {k: round(x["aligned"][0] / x["aligned"][1], 4)
                                               for k, x in sorted(per_voice.items())},
                         "decode_both_s": round(wall, 1)})
            print(json.dumps(rows[-1]), flush=True)
    write_json(a.out.with_suffix(".json"), {"command": "python scripts/compare_lead_split.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(a).items() if v is not None and k != "out"),
        "run": a.run.name, "rows": rows})
    lines = [f"# ASR in context: word-time split vs aligned split ({a.run.name})", "",
             "Generated by `scripts/compare_lead_split.py` (see its docstring); corpus WER of the continuation.", "",
             "| ASR | samples | items | WER, split by word times | WER, split by alignment | per voice (aligned) "
             "| decode s (both rules) |", "|---|---|---:|---:|---:|---|---:|"]
    lines += [f"| {r['asr']} | {r['samples']} | {r['items']} | {r['wer_times']:.3f} | {r['wer_aligned']:.3f} | "
              + ", ".join(f"{k} {v:.3f}" for k, v in r["per_voice_aligned"].items()) + f" | {r['decode_both_s']} |"
              for r in rows]
    write_text(a.out.with_suffix(".md"), "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
