"""Old and new headline numbers side by side: WER-type cells of the committed records at a git ref vs now.

    python scripts/compare_headlines.py --ref 43e64be [--preset smoke] [--metric wer]

Prints a markdown table (codec, cell, old value [CI] and aggregate, new value [CI] and aggregate), so a
change of scoring protocol (mean of per-utterance WER -> corpus WER, item -> speaker-cluster CIs,
first-N -> speaker-stratified test items) is shown with its effect on every number.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path


def _records_at(ref: str | None, preset: str) -> list[dict]:
    folder = f"results/records/{preset}"
    if ref is None:
        files = sorted(Path(folder).glob("*.jsonl"))
        texts = [p.read_text() for p in files]
    else:
        names = subprocess.run(["git", "ls-tree", "--name-only", f"{ref}:{folder}"], capture_output=True, text=True,
                               check=True).stdout.split()
        texts = [subprocess.run(["git", "show", f"{ref}:{folder}/{n}"], capture_output=True, text=True,
                                check=True).stdout for n in names if n.endswith(".jsonl")]
    return [json.loads(x) for t in texts for x in t.splitlines() if x.strip()]


def _cells(recs: list[dict], metric: str) -> dict[tuple[str, str], dict]:
    out = {}
    for r in recs:
        if r["metric"].split("@")[0] != metric:
            continue
        agg = (r.get("scorer") or {}).get("aggregate") or "mean"
        n_spk = (r.get("data") or {}).get("speakers")
        out[(r["codec"], r["metric"])] = {"value": r["value"], "lo": r.get("ci_low"), "hi": r.get("ci_high"),
                                          "n": r["n"], "agg": agg, "spk": n_spk}
    return out


def _fmt(c: dict | None) -> str:
    if c is None or c["value"] is None:
        return "—"
    ci = f" [{c['lo']:.3f}, {c['hi']:.3f}]" if c["lo"] is not None else ""
    spk = f", {c['spk']} spk" if c.get("spk") else ""
    return f"{c['value']:.3f}{ci} ({c['agg']}, n={c['n']}{spk})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", required=True, help="git ref of the old records")
    ap.add_argument("--preset", default="smoke")
    ap.add_argument("--metric", default="wer")
    args = ap.parse_args()
    old, new = _cells(_records_at(args.ref, args.preset), args.metric), _cells(_records_at(None, args.preset),
                                                                                args.metric)
    print(f"| codec | cell | old ({args.ref}) | new |")
    print("|---|---|---|---|")
    for key in sorted(set(old) | set(new)):
        print(f"| {key[0]} | {key[1]} | {_fmt(old.get(key))} | {_fmt(new.get(key))} |")


if __name__ == "__main__":
    main()
