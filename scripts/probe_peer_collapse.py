#!/usr/bin/env python
"""Why a trained-here codec's codebooks collapse: latent spread, offset drift and code perplexity over steps.

Trains the generator of a trained-here library codec (no discriminator: the first ``disc_start``
steps of a real run) on the speech data of a preset, with the shared trainer's data, losses, optimizer
settings and seed, and every ``--every`` steps measures on the current batch:

- ``spread``: RMS distance of the encoder's latent frames from their mean (the input-dependent part);
- ``offset``: norm of that mean, and ``drift``: how far the mean moved per step since the last probe;
- ``ppl1``: perplexity of the level-1 code assignment of those frames (vq variants only);
- the reconstruction losses.

Variants pair "as trained" with "no quantizer" (decoder(encoder(x)), reconstruction losses only) and
with config overrides, so the table separates what the quantizer does from what the autoencoder does.
Figures go to ``--out``.json and ``--out``.md. Examples (about 6 and 12 minutes on one CPU thread):

    .venv/bin/python scripts/probe_peer_collapse.py --steps 400 --out results/codecs/collapse_probe_smoke
    .venv/bin/python scripts/probe_peer_collapse.py --steps 2000 --every 50 \
        --only "encodec@here 24 kHz, as trained" --only "with quantizer" --out results/codecs/collapse_probe_smoke_2000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

# (label, family, overrides, quantize)
VARIANTS: list[tuple[str, str, list[str], bool]] = [
    ("encodec@here 24 kHz, as trained", "encodec", [], True),
    ("encodec@here 24 kHz, no quantizer", "encodec", [], False),
    ("encodec@here at 16 kHz, no quantizer", "encodec", ["model.sample_rate=16000"], False),
    ("encodec@here at 16 kHz, with quantizer", "encodec", ["model.sample_rate=16000"], True),
    ("speechtokenizer@here, as trained", "speechtokenizer", [], True),
    ("speechtokenizer@here, no quantizer", "speechtokenizer", [], False),
]


def probe(family: str, overrides: list[str], quantize: bool, preset: str, steps: int, every: int) -> list[dict]:
    import torch

    from bench.codecs.library import fit_length
    from bench.codecs.peer_here import load_peer_config
    from bench.codecs.peer_train import PeerTrainable
    from bench.data import ensure_built
    from bench.train.loop import _data, _weighted

    cfg = load_peer_config(family, preset, overrides)
    tc = cfg.train
    trainable = PeerTrainable(cfg, load_teacher=quantize and cfg.teacher is not None)
    torch.manual_seed(tc.seed)
    gen = trainable.build_generator()
    model = gen.model
    opt = torch.optim.AdamW(gen.parameters(), tc.lr, betas=tuple(tc.betas), weight_decay=tc.weight_decay)
    data = _data(trainable, ensure_built("speech", preset), None, False)
    weights = trainable.loss_weights
    dim = int(cfg.model["dimension"])
    rows: list[dict] = []
    prev_mean = None
    prev_step = 0
    for step in range(1, steps + 1):
        batch = data.batch(step - 1, tc.batch_size, tc.seed, 0)
        wav = batch.pop("wav")
        if quantize:
            out = gen(wav, batch)
        else:  # the same encoder and decoder with the quantizer left out
            out = {"audio": fit_length(model.decoder(model.encoder(wav)), wav.shape[-1])}
        losses = {k: v for k, v in {**out, **trainable.generator_losses(wav, out, None, False)}.items() if "/" in k}
        opt.zero_grad(set_to_none=True)
        _weighted(losses, weights).backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), tc.grad_clip)
        opt.step()
        if step % every and step not in (1, steps):
            continue
        with torch.no_grad():
            z = model.encoder(wav).transpose(1, 2).reshape(-1, dim)
            mean = z.mean(0)
            row = {"step": step, "spread": float((z - mean).pow(2).sum(1).mean().sqrt()),
                   "offset": float(mean.norm()),
                   "drift": None if prev_mean is None else float((mean - prev_mean).norm()) / (step - prev_step),
                   "ppl1": None}
            if quantize:
                codes = torch.cdist(z, model.quantizer.vq.layers[0]._codebook.embed).argmin(1)
                p = torch.bincount(codes).float()
                p = p[p > 0] / p.sum()
                row["ppl1"] = math.exp(-float((p * p.log()).sum()))
            row.update({k: float(v) for k, v in losses.items() if not k.startswith("vq/")})
        prev_mean, prev_step = mean, step
        rows.append(row)
    return rows


AWAKE_PERPLEXITY = 32.0  # "left the collapse": the batch's frames spread over at least this many codes


def summarize(rows: list[dict]) -> dict:
    last = rows[-3:]  # the last three probes, to smooth batch noise
    awake = next((r["step"] for r in rows if r["ppl1"] is not None and r["ppl1"] >= AWAKE_PERPLEXITY), None)

    def avg(k):
        vals = [r[k] for r in last if r[k] is not None]
        return sum(vals) / len(vals) if vals else None

    return {"spread_first": rows[0]["spread"], "spread_end": avg("spread"), "offset_end": avg("offset"),
            "drift_end": avg("drift"), "ppl1_end": avg("ppl1"), "first_step_ppl1_ge_32": awake}


def markdown(results: list[dict], meta: dict) -> str:
    lines = [f"# Codebook collapse probe ({meta['preset']}, {meta['steps']} generator steps)", "",
             f"Made by `{meta['command']}` on {meta['machine']}, {meta['minutes']:.1f} min.",
             "Latent figures are on the training batch; the last three probes are averaged "
             f"(every {meta['every']} steps).", "",
             "| variant | spread after step 1 | spread at end | offset at end | drift per step at end "
             "| drift / spread | level-1 perplexity at end | first step with level-1 perplexity >= 32 |",
             "|---|---|---|---|---|---|---|---|"]

    def f(v, nd=4):
        return "-" if v is None else f"{v:.{nd}g}"

    for r in results:
        s = r["summary"]
        lines.append(f"| {r['label']} | {f(s['spread_first'])} | {f(s['spread_end'])} | {f(s['offset_end'])} "
                     f"| {f(s['drift_end'])} | {f(s['drift_end'] / s['spread_end'], 2)} | {f(s['ppl1_end'], 3)} "
                     f"| {'-' if not r['quantize'] else s['first_step_ppl1_ge_32'] or 'never'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="smoke")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--every", type=int, default=25)
    p.add_argument("--only", action="append", default=[],
                   help="run only the variants whose label contains this text (repeatable)")
    p.add_argument("--out", default=None, help="write OUT.json and OUT.md")
    a = p.parse_args(argv)

    import torch

    from bench.atomic import write_json, write_text

    torch.set_num_threads(1)
    t0 = time.time()
    results = []
    for label, family, overrides, quantize in VARIANTS:
        if a.only and not any(o in label for o in a.only):
            continue
        rows = probe(family, overrides, quantize, a.preset, a.steps, a.every)
        results.append({"label": label, "family": family, "overrides": overrides, "quantize": quantize,
                        "summary": summarize(rows), "probes": rows})
        print(json.dumps({"label": label, **results[-1]["summary"]}), flush=True)
    meta = {"preset": a.preset, "steps": a.steps, "every": a.every, "machine": f"{platform.machine()}, 1 CPU thread",
            "minutes": (time.time() - t0) / 60,
            "command": "python scripts/probe_peer_collapse.py " + shlex.join(sys.argv[1:] if argv is None else argv)}
    if a.out:
        write_json(Path(a.out + ".json"), {"meta": meta, "results": results})
        write_text(Path(a.out + ".md"), markdown(results, meta))
    return results


if __name__ == "__main__":
    main()
