"""Guided attention (Tachibana et al. 2018, DCTTS): a training-only loss that pulls some attention heads of the
TTS AR model toward a near-diagonal text-to-audio alignment.

Why: speech is read left to right, so audio frame t of T speaks text symbol about n = t / T * N. A decoder-only
LM has to discover that monotonic alignment from the data, and a small one trained for CPU-minutes does not:
it learns to babble grammatical speech that ignores the text (held-out NLL with the utterance's own text
barely below that with another utterance's text). Penalising attention mass far from the diagonal, on a
few heads of one layer, gives those heads the alignment from the first steps; the rest of the model learns
to read through them. It changes no weights' shape and nothing at inference: the model still finds its
place in the text from the audio it has produced, since it never sees T.
"""

from __future__ import annotations

import torch

from bench.tasks.lm.vocab import T_PAD


def key_positions(text: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """[B, Lt] text ids -> [B, Lt]: each text key's place in its row, 0 (the first key, BOS) to 1 (the last real
    key, EOS), the midpoint of its share of the reading when key id i takes ``weight[i]`` of it (None: every
    key alike, i.e. n / (N - 1)). Padding keys get positions past 1 (the penalty ignores them).

    Why weights: a word-level text is read at words of very unequal length ("the" vs "yesterday"), so the
    uniform diagonal misplaces a content word by up to a word; with each word weighted by its letters the
    diagonal follows the reading closely enough for a narrow ``sigma``."""
    real = text != T_PAD
    w = (weight[text] if weight is not None else torch.ones_like(text, dtype=torch.float32)) * real
    c = torch.cumsum(w, 1) - w / 2
    n = real.sum(1, keepdim=True).clamp(min=1)
    first, last = c[:, :1], c.gather(1, n - 1)
    pos = (c - first) / (last - first).clamp(min=1e-6)
    return torch.where(real, pos, torch.full_like(pos, 2.0))


def diagonal_penalty(key_pos: torch.Tensor, text_len: torch.Tensor, start: torch.Tensor, length: torch.Tensor,
                     la: int, sigma: float) -> torch.Tensor:
    """W [B, La, Lt]: 1 - exp(-(p_n - t/T)^2 / (2 sigma^2)) for audio query t inside its row's span
    [start, start + length) and text key n < N = text_len at place p_n (:func:`key_positions`); 0 elsewhere
    (padding, prompt frames)."""
    dev = text_len.device
    lt = key_pos.shape[1]
    n = torch.arange(lt, device=dev)[None, None, :]
    t = torch.arange(la, device=dev)[None, :, None].float() - start[:, None, None].float()
    nf = key_pos[:, None, :].float()
    tf = t / (length[:, None, None].float() - 1).clamp(min=1)
    w = 1.0 - torch.exp(-((nf - tf) ** 2) / (2 * sigma**2))
    inside = (t >= 0) & (t < length[:, None, None]) & (n < text_len[:, None, None])
    return torch.where(inside, w, torch.zeros_like(w))


def guided_attention_loss(attn: torch.Tensor, key_pos: torch.Tensor, text_len: torch.Tensor, start: torch.Tensor,
                          length: torch.Tensor, sigma: float) -> torch.Tensor:
    """Mean off-diagonal attention mass per guided (head, audio frame): ``attn`` [B, H, La, Lt] (each query's
    weights over the text keys sum to 1), frames outside ``[start, start + length)`` not counted. In [0, 1]:
    0 when every guided head attends on the diagonal."""
    b, h, la, lt = attn.shape
    w = diagonal_penalty(key_pos, text_len, start, length, la, sigma)
    frames = (length.clamp(max=la) * h).sum().clamp(min=1)
    return (attn * w[:, None]).sum() / frames
