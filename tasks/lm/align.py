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

import numpy as np
import torch

from bench.tasks.lm.vocab import T_PAD

SPAN_FRAME_S, SPAN_DB = 0.02, -35.0  # speech_span: RMS frame, gate below the clip's loudest frame


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


def speech_span(audio: np.ndarray, sr: int) -> tuple[float, float]:
    """(onset, offset) of the speech in a clean clip, as fractions of its length: the first and last
    ``SPAN_FRAME_S`` frame whose RMS is within ``SPAN_DB`` dB of the clip's loudest frame.

    Why (``train.align_prior: letters-span``): synthetic voices pad their speech with silence of their own
    length (flite ~8% before, espeak-ng ~10% after), so a diagonal from the first frame to the last puts
    every word half a word late or early, by engine. Measured on 18 grammar/cpu training clips against
    faster-whisper tiny.en word midpoints: mean |error| 0.046 of the utterance for ``letters`` over the
    whole clip, 0.022 for ``letters`` inside this span (words are ~0.1 apart). An energy gate suffices
    for clean studio/synthetic speech; it is not a VAD for noisy audio."""
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    n = max(1, int(round(SPAN_FRAME_S * sr)))
    k = len(x) // n
    if k == 0:
        return 0.0, 1.0
    rms = np.sqrt((x[: k * n].reshape(k, n) ** 2).mean(1) + 1e-20)
    if rms.max() <= 1e-8:  # silence: no speech to find
        return 0.0, 1.0
    on = np.flatnonzero(20 * np.log10(rms / rms.max()) > SPAN_DB)  # never empty: the loudest frame is at 0 dB
    total = len(x) / sr
    return float(on[0] * n / sr / total), float(min(1.0, (on[-1] + 1) * n / sr / total))


def within_span(key_pos: torch.Tensor, span: torch.Tensor) -> torch.Tensor:
    """Key places in [0, 1] (:func:`key_positions`) mapped onto each row's speech ``span`` [B, 2] (fractions
    of its audio span): BOS at the onset, EOS at the offset, the words between in proportion; padding keys
    (> 1) stay past 1."""
    s, e = span[:, :1].to(key_pos.dtype), span[:, 1:].to(key_pos.dtype)
    return torch.where(key_pos <= 1.0, s + (e - s) * key_pos, key_pos)


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
