"""Rewrite a preset's committed v1 records as v2 with the scoring protocol of issue #13, without re-scoring.

For records whose audio is gone (the `small` runs trained on a lent GPU; their run dirs were not kept)
the v1 per-item values still hold everything the new protocol needs, given the data recipe's texts:
- WER/CER: a v1 per-item value is errors / reference words, so errors = value x words. The reference
  word count of each item comes from re-planning the speech recipe (seeded: same ids, same texts; no audio
  is rendered) and Whisper's normalizer. Every product must come out an integer, which checks that the
  texts are the ones that were scored; the script refuses otherwise. The value becomes the corpus figure
  (sum of errors over sum of words); S/D/I and transcripts were not stored in v1 and stay absent.
- every per-item metric: speaker labels from the recipe, so the CI resamples speakers, then items.
- the scorer signature names the decoding that actually ran (v1: beam 5, T=0, no fallback).

Usage: python scripts/upgrade_v1_records.py --preset small [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import re

import numpy as np

from bench.atomic import write_text
from bench.data import load_config
from bench.data.subset import test_set_hash
from bench.metrics import scoring
from bench.metrics.stats import bootstrap
from bench.metrics.textnorm import edit_counts
from bench.paths import records_dir
from bench.results import upgrade_v1, validate

RATIO = {"wer": False, "cer": True}  # metric -> counts characters
N_BOOT, SEED = 1000, 0


def recipe_items(preset: str) -> dict[str, dict]:
    """id -> {"text", "speaker"} of the speech recipe's plan (no audio rendered)."""
    from bench.data import speech
    from bench.paths import data_root

    cfg = load_config("speech", preset)
    plan = speech.plan(cfg, data_root() / "datasets" / "speech" / preset, data_root() / "cache")
    return {s.id: {"text": s.meta["text"], "speaker": s.meta["speaker"]} for s in plan.specs}


def _words(text: str, chars: bool) -> int:
    return int(edit_counts(text, text, chars=chars).den)


def _signature(rec: dict, metric: str, aggregate: str, ci: str) -> str:
    name = rec["backend"]["name"]
    if metric in RATIO:  # v1 decoded at T=0 without fallback: say so, not what the backend does today
        wh = str(rec["backend"].get("weights_hash") or "none")[:8]
        return "|".join([f"{name.replace('/', ':', 1)}", f"model:{wh}", "decode:beam5,T0", "norm:whisper-en",
                         f"agg:{aggregate}", f"ci:{ci}", f"boot:{N_BOOT}", f"seed:{SEED}", "derived:v1"])
    return scoring.signature(name, aggregate, ci, N_BOOT, SEED) + "|derived:v1"


def upgrade(rec: dict, items: dict[str, dict], build: str | None) -> dict:
    out = upgrade_v1(rec)
    per_item = out.get("per_item")
    metric = out["metric"].split("@")[0]
    if not per_item or out["backend"]["name"] == "bench.codec_eval":
        return out
    ids = [str(i) for i in per_item["ids"]]
    missing = [i for i in ids if i not in items]
    if missing:
        raise SystemExit(f"{out['run_id']} {out['metric']}: ids not in the recipe's plan: {missing[:3]}")
    groups = [items[i]["speaker"] for i in ids]
    per_item["groups"] = groups
    vals = per_item["values"]
    num = den = None
    if metric in RATIO:
        den = [_words(items[i]["text"], RATIO[metric]) for i in ids]
        raw = [None if v is None else v * d for v, d in zip(vals, den, strict=True)]
        bad = [(i, x) for i, x in zip(ids, raw, strict=True) if x is not None and abs(x - round(x)) > 1e-6]
        if bad:
            raise SystemExit(f"{out['run_id']} {out['metric']}: value x reference words is not an integer for "
                             f"{bad[:3]}: the recipe's texts are not the ones that were scored")
        num = [None if x is None else round(x) for x in raw]
        per_item["num"], per_item["den"] = num, den
    kept_groups = [g for g, v in zip(groups, vals, strict=True) if v is not None]
    ci = "cluster-bootstrap" if len(set(kept_groups)) >= 2 else "item-bootstrap"
    if num is not None:
        est, lo, hi = bootstrap(num, [None if v is None else d for v, d in zip(vals, den, strict=True)],
                                groups=groups, n_boot=N_BOOT, seed=SEED)
        aggregate = "corpus"
    else:
        est, lo, hi = bootstrap(vals, None, groups=groups, n_boot=N_BOOT, seed=SEED)
        aggregate = "mean"
    out["value"], out["ci_low"], out["ci_high"] = est, lo, hi
    n = int(np.sum([v is not None for v in vals]))
    out["scorer"] = {"aggregate": aggregate, "ci": ci, "n_boot": N_BOOT, "seed": SEED, "items": n,
                     "clusters": len(set(kept_groups)), "signature": _signature(out, metric, aggregate, ci)}
    data = dict(out.get("data") or {})
    data |= {"build_hash": data.get("build_hash") or build, "items": len(ids), "speakers": len(set(groups)),
             "subset": "first:" + str(len(ids)) + " (v1: the first test ids, not stratified)",
             "test_set_hash": test_set_hash(build, ids)}
    out["data"] = data
    return out


def _build_of(recs: list[dict]) -> str | None:
    """The data build of a v1 task run: the suffix of its token cache name (``speech-small-<hash>``)."""
    for r in recs:
        m = re.fullmatch(r".*-([0-9a-f]{12})", str((r.get("extra") or {}).get("token_cache", "")))
        if m:
            return m.group(1)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", required=True)
    ap.add_argument("--results-dir", default="results")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    items = recipe_items(args.preset)
    folder = records_dir(args.preset, args.results_dir)
    tts_build = _build_of([json.loads(x) for p in folder.glob("tts__*.jsonl") for x in p.read_text().splitlines()
                           if x.strip()])
    for path in sorted(folder.glob("*.jsonl")):
        recs = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        if all(r.get("schema_version") != 1 for r in recs):
            continue
        build = tts_build if path.name.startswith("tts__") else None
        new = [upgrade(r, items, build) if r.get("schema_version") == 1 else r for r in recs]
        for r in new:
            validate(r, str(path))
        for old, r in zip(recs, new, strict=True):
            if r["metric"].split("@")[0] in RATIO and r.get("per_item"):
                print(f"{path.name} {r['metric']}: mean per-item {old['value']:.3f} -> corpus {r['value']:.3f} "
                      f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]")
        if not args.dry_run:
            write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in new))
            print(f"wrote {path} ({len(new)} records)")


if __name__ == "__main__":
    main()
