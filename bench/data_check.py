"""Per-voice ASR intelligibility of a built recipe (``bench data check``).

Why: a TTS verdict scored by an ASR is only as readable as the ASR's hearing of the voices, so a preset keeps
test voices the offline ASR understands, and its floor is known before any codec runs. Each voice's clean
clips are scored with the benchmark's own WER backends (the decoding, normalizer and score cache every run
uses): held-out voices (every clip in test) on their test clips, training voices on their valid then train
clips, the first ``per_voice`` by id. Corpus WER per voice with a seeded item-bootstrap CI, and pooled over the
held-out voices with a speaker-cluster bootstrap; voices above ``flag`` are flagged.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

DEFAULT_METRICS = ("wer/faster-whisper-tiny.en",)


def clips_per_voice(rows: list[dict], per_voice: int, group: str = "speaker") -> dict[str, tuple[str, list[dict]]]:
    """{voice: (role, clips)}: role ``held-out`` (all of its clips in test) scored on test clips, else
    ``train`` scored on valid then train clips; the first ``per_voice`` by id (0 = all)."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(str(r.get(group)), []).append(r)
    out = {}
    for voice, rs in sorted(by.items()):
        held = all(r.get("split") == "test" for r in rs)
        order = {"test": 0} if held else {"valid": 0, "train": 1}
        pick = sorted((r for r in rs if r.get("split") in order), key=lambda r: (order[r["split"]], str(r["id"])))
        if pick:
            out[voice] = ("held-out" if held else "train", pick[:per_voice] if per_voice else pick)
    return out


def corpus(metric: str, items: list, groups: list[str] | None) -> dict[str, Any]:
    """Corpus WER of these clips with its 95% CI (speaker clusters when ``groups`` is given), edit totals and
    the three worst transcripts."""
    from bench.metrics.scoring import score_items_detailed, summarize

    res = score_items_detailed(metric, items, progress=False)
    vals, dets = [v for v, _ in res], [d for _, d in res]
    s = summarize(metric, vals, dets, groups=groups)
    worst = sorted((d for d in dets if d.get("num")), key=lambda d: -d["num"])[:3]
    return {"wer": s["value"], "ci": [s["ci_low"], s["ci_high"]], "errors": sum(d["num"] for d in dets),
            "words": sum(d["den"] for d in dets), "clips": len(dets),
            "worst": [{"ref": d["ref"], "hyp": d["hyp"]} for d in worst]}


def check(recipe: str, preset: str, metrics: tuple[str, ...] | list[str] = DEFAULT_METRICS, per_voice: int = 12,
          flag: float = 0.5, data_dir=None, log=print) -> dict[str, Any]:
    """The check's document (see the module docstring); builds the recipe first if it is missing."""
    import numpy as np

    from bench.audio import load
    from bench.data import ensure_built
    from bench.data.manifest import read_manifest
    from bench.metrics.base import Item
    from bench.metrics.scoring import identity
    from bench.tasks.tokens import data_hash

    t0 = time.time()
    manifest = Path(ensure_built(recipe, preset, data_dir))
    voices = clips_per_voice(read_manifest(manifest), per_voice)
    if not voices:
        raise ValueError(f"{manifest}: no clips with a speaker and a train/valid/test split to check")
    items = {v: [Item(id=str(r["id"]), audio=np.asarray(load(manifest.parent / r["path"], sr=16000, checks=None)[0],
                                                         dtype=np.float32), sr=16000, ref_text=r.get("text"))
                 for r in rs] for v, (_, rs) in voices.items()}
    missing = [i.id for its in items.values() for i in its if not i.ref_text]
    if missing:
        raise ValueError(f"{manifest}: {len(missing)} clip(s) have no text to score against (e.g. {missing[0]})")
    held = [v for v, (role, _) in voices.items() if role == "held-out"]
    out_metrics = {}
    for m in metrics:
        per = {}
        for v, (role, _) in voices.items():
            per[v] = {"role": role, **corpus(m, items[v], None)}
            per[v]["flagged"] = per[v]["wer"] is not None and per[v]["wer"] > flag
            log(f"{m}  {v:20s} {role:8s} WER {per[v]['wer']:.3f} ({per[v]['errors']}/{per[v]['words']})")
        pooled = None
        if held:
            pooled = {"voices": held, **corpus(m, [i for v in held for i in items[v]],
                                                [v for v in held for _ in items[v]])}
        out_metrics[m] = {"identity": identity(m), "voices": per, "heldout_pooled": pooled,
                          "flagged": sorted(v for v, d in per.items() if d["flagged"])}
    return {"recipe": recipe, "preset": preset, "build_hash": data_hash(manifest), "per_voice": per_voice,
            "flag": flag, "clips": "held-out voices: test clips; training voices: valid then train clips; the "
            "first per_voice by id", "aggregate": "corpus WER = sum(errors) / sum(reference words); 95% CI: "
            "1000x bootstrap, seed 0 (pooled held-out voices: speaker clusters)", "metrics": out_metrics,
            "seconds": round(time.time() - t0, 1), "machine": f"{platform.machine()} {os.cpu_count()} cpu",
            "command": f"bench data check {recipe} --preset {preset} --per-voice {per_voice} "
                       + " ".join(f"--metric {m}" for m in metrics)}


def markdown(doc: dict[str, Any]) -> str:
    """One table per metric: voice, role, corpus WER [CI], errors/words, flagged; the pooled held-out row last."""
    def f(x: float | None) -> str:
        return "—" if x is None else f"{x:.3f}"

    out = [f"# ASR intelligibility of `{doc['recipe']}` / `{doc['preset']}` (build {doc['build_hash']})", "",
           f"Generated by `{doc['command']}` ({doc['machine']}). {doc['clips']}; {doc['aggregate']}.", ""]
    for m, d in doc["metrics"].items():
        out += [f"## `{m}`", "", "| voice | role | corpus WER [95% CI] | errors / words | clips | flagged |",
                "|---|---|---|---|---|---|"]
        for v, r in d["voices"].items():
            out.append(f"| {v} | {r['role']} | {f(r['wer'])} [{f(r['ci'][0])}, {f(r['ci'][1])}] | "
                       f"{r['errors']} / {r['words']} | {r['clips']} | {'**yes**' if r['flagged'] else ''} |")
        p = d["heldout_pooled"]
        if p:
            out.append(f"| **held-out, pooled** | — | {f(p['wer'])} [{f(p['ci'][0])}, {f(p['ci'][1])}] | "
                       f"{p['errors']} / {p['words']} | {p['clips']} | |")
        out.append("")
    return "\n".join(out)
