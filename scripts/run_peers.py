"""The trained-here peers (EnCodec, DAC, SpeechTokenizer) at a preset's codec budget, then the preset's tts over
each peer whose level-1 codebook is healthy (issue #16: perplexity >= 32, bench.codec_eval.HEALTHY_PERPLEXITY).

    python scripts/run_peers.py --preset cpu        # `make bench-peers`; after `make bench` (same data)

1. ``bench train-codec NAME --preset P`` for each peer (resumable; a finished run is a no-op);
2. ``bench eval-codec PEERS... --preset P --recipe R --limit N --asr A``: resynthesis scores and level-1 codebook
   use (records in results/records/P/codec__NAME.jsonl; R, N and A, the tts preset's ASR, as `make bench`
   evaluates X-Codec);
3. ``bench run --codec PEER,... --task tts --preset P`` over the peers at or above the healthy perplexity (each
   cell in its own process, as every `bench run` matrix);
4. ``bench report``: the leaderboard's codebook table gives each peer's state, and says which got no LM and why.

Every number comes from those commands' records; this script only chains them and applies the rule.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

PEERS = ("encodec@here", "dac@here", "speechtokenizer@here")


def bench(*args: str) -> None:
    cmd = [str(Path(sys.executable).with_name("bench")), *args]
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def level1_perplexity(preset: str, codec: str, results_dir: str | None) -> float | None:
    """The newest ``perplexity@level1`` of ``codec`` in the preset's eval-codec records (None if absent)."""
    from bench.paths import records_file
    from bench.results import load

    p = records_file(preset, "codec", codec, results_dir)
    vals = [r["value"] for r in load(p) if r["metric"] == "perplexity@level1"] if p.is_file() else []
    return vals[-1] if vals else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--codecs", default=",".join(PEERS), help="comma list of trained-here codecs")
    ap.add_argument("--limit", type=int, default=40, help="test clips bench eval-codec scores (make bench's 40)")
    ap.add_argument("--results-dir", default=None)
    args = ap.parse_args()

    from bench.codec_eval import HEALTHY_PERPLEXITY
    from bench.tasks.config import load_task_config

    codecs = [c for c in args.codecs.split(",") if c]
    cfg = load_task_config("tts", args.preset, [])
    rd = ["--results-dir", args.results_dir] if args.results_dir else []
    for c in codecs:
        bench("train-codec", c, "--preset", cfg.data.codec_preset)
    asr = next(m.removeprefix("wer/") for m in cfg.metrics if m.startswith("wer/"))  # the tts preset's ASR
    bench("eval-codec", *codecs, "--preset", cfg.data.preset, "--codec-preset", cfg.data.codec_preset,
          "--recipe", cfg.data.recipe, "--limit", str(args.limit), "--asr", asr, *rd)
    healthy = []
    for c in codecs:
        ppl = level1_perplexity(cfg.data.preset, c, args.results_dir)
        ok = ppl is not None and ppl >= HEALTHY_PERPLEXITY
        print(f"{c}: level-1 perplexity {ppl if ppl is None else round(ppl, 1)}: "
              + ("tts runs" if ok else f"under {HEALTHY_PERPLEXITY:g}, no LM at this budget"), flush=True)
        healthy += [c] if ok else []
    if healthy:  # `bench run` runs each cell of the matrix in its own process
        bench("run", "--codec", ",".join(healthy), "--task", "tts", "--preset", args.preset, *rd)
    bench("report", *rd)


if __name__ == "__main__":
    main()
