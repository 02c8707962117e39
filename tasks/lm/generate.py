"""Sampling from the shared LM: KV-cached autoregressive decoding, one item at a time.

One item at a time on purpose: an item's output then depends only on (model, its inputs, its seed),
never on which other items share a batch, so generation is reproducible and resumable per item.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import torch

from bench.tasks.lm.transformer import TokenLM


def item_generator(seed: int, item_id: str) -> torch.Generator:
    """A CPU generator seeded by (run seed, item id): the same item samples the same way in every run."""
    g = torch.Generator()
    g.manual_seed(seed * 1_000_003 + zlib.crc32(item_id.encode()))
    return g


def sample(
    logits: torch.Tensor, allowed: torch.Tensor, temperature: float, top_k: int, gen: torch.Generator
) -> torch.Tensor:
    """logits [K, V], allowed [K, V] bool -> one token per stream [K] (top-k, temperature; 0 = greedy)."""
    x = logits.detach().float().cpu().masked_fill(~allowed, float("-inf"))
    if temperature <= 0:
        return x.argmax(-1)
    x = x / temperature
    if 0 < top_k < x.shape[-1]:
        kth = torch.topk(x, top_k, dim=-1).values[:, -1:]
        x = x.masked_fill(x < kth, float("-inf"))
    return torch.multinomial(torch.softmax(x, dim=-1), 1, generator=gen).squeeze(-1)


@torch.no_grad()
def ar_generate(
    model: TokenLM,
    text: torch.Tensor,
    prefix: torch.Tensor,
    max_steps: int,
    choose: Callable[[int, torch.Tensor], torch.Tensor | None],
    amp_dtype: torch.dtype | None = None,
    guide: tuple[torch.Tensor, float] | None = None,
) -> torch.Tensor:
    """Continue ``prefix`` [K, P] after ``text`` [Lt]; ``choose(i, logits[K,V])`` gives step i's tokens (None: stop).

    ``guide=(other_text, s)``: classifier-free guidance. A second KV-cached pass reads ``other_text`` (the empty
    text) over the same tokens, and ``choose`` gets ``c + s * (c - u)`` of the two passes' log-probabilities:
    what the text adds to the continuation, amplified (s = 0 is the plain model). Returns the generated tokens
    [K, n] (n <= max_steps), excluding the prefix.
    """
    model.eval()
    dev = next(model.parameters()).device
    passes = [(text, model.new_cache())] + ([(guide[0], model.new_cache())] if guide is not None else [])
    ctx = torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None)

    def step(tokens: torch.Tensor, start: int | None) -> torch.Tensor:
        """Next-token logits [K, V] after ``tokens`` [K, n] (the prefix when ``start`` is None)."""
        out = [model(t[None].to(dev) if start is None else None, tokens[None].to(dev), cache=c,
                     audio_start=start or 0)[0, :, -1] for t, c in passes]
        if guide is None:
            return out[0]
        c, u = (x.float().log_softmax(-1) for x in out)
        return c + guide[1] * (c - u)

    out: list[torch.Tensor] = []
    with ctx:
        logits = step(prefix, None)
        p = prefix.shape[1]
        for i in range(max_steps):
            tok = choose(i, logits)
            if tok is None:
                break
            out.append(tok)
            if i + 1 == max_steps:
                break
            logits = step(tok.view(-1, 1), p + i)
    if not out:
        return torch.zeros(prefix.shape[0], 0, dtype=torch.long)
    return torch.stack(out, dim=1).long().cpu()
