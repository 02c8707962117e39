"""Time one tts NAR training step at a preset's LM shape: every level's head (the full logits, as before
287b89b) against only the row's level (what TTSNAR.loss computes). Random tokens; prints JSON.

    python scripts/bench_nar_step.py --preset cpu
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--length", type=int, default=300, help="audio positions per row (prompt + SEP + target)")
    ap.add_argument("--steps", type=int, default=15)
    args = ap.parse_args()

    import torch

    from bench.tasks.config import load_task_config
    from bench.tasks.lm.train import masked_ce
    from bench.tasks.lm.transformer import LMShape, TokenLM
    from bench.tasks.lm.vocab import IGNORE

    cfg = load_task_config("tts", args.preset, [])
    q, b, n = cfg.data.n_q, cfg.train.batch_size, args.length
    torch.manual_seed(0)
    model = TokenLM(cfg.lm, LMShape(q, cfg.lm.audio_vocab, q, False))
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    text = torch.randint(4, 60, (b, 12))
    audio = torch.randint(0, cfg.lm.audio_vocab, (b, q, n))
    lv = torch.randint(1, q, (b,))
    tgt = torch.full((b, q, n), IGNORE)
    for i in range(b):
        tgt[i, lv[i], n // 2:] = torch.randint(0, cfg.lm.audio_vocab, (n - n // 2,))

    def step(one: bool) -> None:
        if one:
            loss = masked_ce(model(text, audio, level=lv, stream=lv), tgt[torch.arange(b), lv][:, None])
        else:
            loss = masked_ce(model(text, audio, level=lv), tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    out: dict[str, list[float]] = {"all_heads_s": [], "one_head_s": []}
    for _ in range(2):  # interleaved, so drift of the machine hits both
        for one, key in ((False, "all_heads_s"), (True, "one_head_s")):
            step(one)
            t = time.perf_counter()
            for _ in range(args.steps):
                step(one)
            out[key].append(round((time.perf_counter() - t) / args.steps, 4))
    print(json.dumps({"preset": args.preset, "batch": b, "positions": n, "n_q": q, "threads": torch.get_num_threads(),
                      "machine": f"{platform.machine()} {os.cpu_count()} cpu", **out,
                      "ratio": round(min(out["one_head_s"]) / min(out["all_heads_s"]), 3)}))


if __name__ == "__main__":
    main()
