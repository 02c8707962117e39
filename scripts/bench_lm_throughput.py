"""LM throughput: training tokens/s (with MFU against the card's bf16 peak on GPU) and AR generation
real-time factor, for the shared TokenLM at a task preset's size.

    python scripts/bench_lm_throughput.py --task tts --preset smoke                 # CPU
    python scripts/bench_lm_throughput.py --task tts --preset small --device cuda   # GPU, bf16

Inputs are random tokens shaped like the task's sequences (text + 3 s prompt + target at the given
frame rate), so the figure is the LM's, independent of any codec or dataset. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from bench.tasks.config import load_task_config
from bench.tasks.lm.generate import ar_generate, item_generator, sample
from bench.tasks.lm.train import autocast, setup_precision
from bench.tasks.lm.transformer import LMShape, TokenLM

# dense bf16 peak FLOP/s by device-name substring (vendor datasheets, SXM parts)
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def peak(name: str) -> float | None:
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="tts")
    ap.add_argument("--preset", default="smoke")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--frame-rate", type=float, default=50.0)
    ap.add_argument("--seconds", type=float, default=6.0, help="audio seconds per sequence (prompt + target)")
    ap.add_argument("--text-len", type=int, default=40)
    ap.add_argument("--gen-seconds", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = load_task_config(a.task, a.preset)
    dev = torch.device(a.device)
    amp = setup_precision(dev, cfg.train.precision)
    v = cfg.lm.audio_vocab
    model = TokenLM(cfg.lm, LMShape(1, v, 0, True)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    b, la = cfg.train.batch_size, int(a.seconds * a.frame_rate)
    text = torch.randint(4, cfg.lm.text_vocab, (b, a.text_len), device=dev)
    audio = torch.randint(0, v, (b, 1, la), device=dev)
    tgt = torch.randint(0, v, (b, 1, la), device=dev)

    def step() -> None:
        with autocast(dev, amp):
            logits = model(text, audio)
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.time()
    for _ in range(a.steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.time() - t0) / a.steps
    seq = a.text_len + la
    n = model.n_params()
    flops = 6 * n * b * seq + 12 * cfg.lm.n_layers * cfg.lm.d_model * seq * seq * b  # matmuls + attention, fwd+bwd
    out = {"task": a.task, "preset": a.preset, "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else
           f"cpu x{a.threads} threads", "precision": str(amp) if amp else "fp32", "n_params": n, "batch": b,
           "seq_len": seq, "step_s": round(dt, 4), "train_tokens_per_s": round(b * seq / dt, 1),
           "train_audio_s_per_s": round(b * a.seconds / dt, 2)}
    if dev.type == "cuda" and peak(out["device"]):
        out["mfu"] = round(flops / dt / peak(out["device"]), 4)
    model.eval()
    allowed = torch.zeros(1, v + 4, dtype=torch.bool)
    allowed[0, :v] = True
    g = item_generator(0, "bench")
    n_gen = int(a.gen_seconds * a.frame_rate)
    t0 = time.time()
    ar_generate(model, text[0], audio[0][:, : int(3 * a.frame_rate)], n_gen,
                lambda i, lg: sample(lg, allowed, 1.0, 50, g), amp_dtype=amp)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    gen_s = time.time() - t0
    out.update({"gen_frames": n_gen, "gen_s": round(gen_s, 3), "gen_rtf": round(gen_s / a.gen_seconds, 3)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
