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


def diagonal_penalty(text_len: torch.Tensor, start: torch.Tensor, length: torch.Tensor, lt: int, la: int,
                     sigma: float) -> torch.Tensor:
    """W [B, La, Lt]: 1 - exp(-(n/N - t/T)^2 / (2 sigma^2)) for audio query t inside its row's span
    [start, start + length) and text key n < N = text_len; 0 elsewhere (padding, prompt frames)."""
    dev = text_len.device
    n = torch.arange(lt, device=dev)[None, None, :].float()
    t = torch.arange(la, device=dev)[None, :, None].float() - start[:, None, None].float()
    nf = n / (text_len[:, None, None].float() - 1).clamp(min=1)
    tf = t / (length[:, None, None].float() - 1).clamp(min=1)
    w = 1.0 - torch.exp(-((nf - tf) ** 2) / (2 * sigma**2))
    inside = (t >= 0) & (t < length[:, None, None]) & (n < text_len[:, None, None])
    return torch.where(inside, w, torch.zeros_like(w))


def guided_attention_loss(attn: torch.Tensor, text_len: torch.Tensor, start: torch.Tensor, length: torch.Tensor,
                          sigma: float) -> torch.Tensor:
    """Mean off-diagonal attention mass per guided (head, audio frame): ``attn`` [B, H, La, Lt] (each query's
    weights over the text keys sum to 1), frames outside ``[start, start + length)`` not counted. In [0, 1]:
    0 when every guided head attends on the diagonal."""
    b, h, la, lt = attn.shape
    w = diagonal_penalty(text_len, start, length, lt, la, sigma)
    frames = (length.clamp(max=la) * h).sum().clamp(min=1)
    return (attn * w[:, None]).sum() / frames
