"""Guided attention (bench.tasks.lm.align): the penalty's geometry and the attention the model exposes for it
(the tts AR objective that uses them: tests/test_tasks_continuation.py)."""

from __future__ import annotations

import torch

from bench.tasks.config import LMCfg
from bench.tasks.lm.align import diagonal_penalty, guided_attention_loss, key_positions
from bench.tasks.lm.transformer import LMShape, TokenLM
from bench.tasks.lm.vocab import T_PAD


def _diag_attn(text_len: int, start: int, length: int, lt: int, la: int) -> torch.Tensor:
    """One-hot attention on the diagonal: frame t of the span -> text key round(t / (length-1) * (text_len-1))."""
    a = torch.full((1, 1, la, lt), 1.0 / text_len)
    a[..., text_len:] = 0
    for t in range(start, start + length):
        a[0, 0, t] = 0
        a[0, 0, t, round((t - start) / (length - 1) * (text_len - 1))] = 1
    return a


def test_penalty_is_zero_on_the_diagonal_and_outside_the_span():
    text = torch.tensor([[1, 4, 5, 6, 2, T_PAD, T_PAD]])
    w = diagonal_penalty(key_positions(text), torch.tensor([5]), torch.tensor([3]), torch.tensor([9]), la=14,
                         sigma=0.2)
    assert w.shape == (1, 14, 7)
    assert torch.all(w[0, :3] == 0) and torch.all(w[0, 12:] == 0)  # prompt frames and padding: not counted
    assert torch.all(w[0, :, 5:] == 0)  # padded text keys
    assert w[0, 3, 0] == 0 and w[0, 11, 4] == 0  # the span's first frame reads the first symbol, its last the last
    assert w[0, 3, 4] > 0.99 and w[0, 11, 0] > 0.99  # the opposite corners are penalised fully


def test_key_positions_run_from_bos_to_eos_uniformly_or_by_weight():
    text = torch.tensor([[1, 4, 5, 2], [1, 4, 2, T_PAD]])
    assert torch.allclose(key_positions(text), torch.tensor([[0, 1 / 3, 2 / 3, 1], [0, 0.5, 1, 2.0]]))
    weight = torch.ones(8)
    weight[4] = 3.0  # token 4 reads three times as long as the others
    p = key_positions(text, weight)
    # midpoints of spans 1, 3, 1, 1: 0.5, 2.5, 4.5, 5.5 -> (c - 0.5) / 5
    assert torch.allclose(p[0], torch.tensor([0, 0.4, 0.8, 1.0]))
    assert torch.allclose(p[1, :3], torch.tensor([0, 0.5, 1.0])) and p[1, 3] > 1  # padding past the end


def test_loss_separates_diagonal_from_uniform_and_reversed_attention():
    tl, st, ln = torch.tensor([6]), torch.tensor([0]), torch.tensor([20])
    diag = _diag_attn(6, 0, 20, 8, 20)
    uniform = torch.zeros(1, 1, 20, 8)
    uniform[..., :6] = 1 / 6
    rev = diag.flip(2)
    pos = key_positions(torch.tensor([[1, 4, 5, 6, 7, 2, T_PAD, T_PAD]]))
    g = [float(guided_attention_loss(a, pos, tl, st, ln, 0.2)) for a in (diag, uniform, rev)]
    assert g[0] < 0.05 < g[1] < g[2]
    assert 0 <= min(g) and max(g) <= 1


def test_model_exposes_text_attention_that_sums_to_one_over_real_text():
    torch.manual_seed(0)
    m = TokenLM(LMCfg(d_model=32, n_layers=2, n_heads=4, text_vocab=16, audio_vocab=8), LMShape(1, 8, 0, True)).eval()
    text = torch.tensor([[1, 5, 6, 7, 2], [1, 5, 2, T_PAD, T_PAD]])
    audio = torch.randint(0, 8, (2, 1, 6))
    key_mask = torch.cat([text != T_PAD, torch.ones(2, 6, dtype=torch.bool)], dim=1)
    logits, attn = m(text, audio, key_mask, text_attn=(1, 2))
    assert logits.shape == (2, 1, 6, m.vocab) and attn.shape == (2, 2, 6, 5)
    assert torch.allclose(attn.sum(-1), torch.ones(2, 2, 6))
    assert torch.all(attn[1, :, :, 3:] == 0)  # padded text keys get no weight
    assert torch.equal(logits, m(text, audio, key_mask))  # asking for the attention changes no output


def test_speech_span_finds_the_speech_between_silences_and_whole_clip_without_any():
    import numpy as np

    from bench.tasks.lm.align import speech_span

    sr = 16000
    rng = np.random.default_rng(0)
    x = np.zeros(sr * 2)
    x[int(0.4 * sr): int(1.5 * sr)] = 0.3 * rng.standard_normal(int(1.1 * sr))  # speech 0.4-1.5 s of 2 s
    x += 1e-5 * rng.standard_normal(len(x))  # a noise floor far below the -35 dB gate
    s, e = speech_span(x, sr)
    assert abs(s - 0.2) <= 0.011 and abs(e - 0.75) <= 0.011  # to one 20 ms frame
    assert speech_span(np.zeros(sr), sr) == (0.0, 1.0)  # silence: no span, the whole clip
    assert speech_span(np.zeros(10), sr) == (0.0, 1.0)  # shorter than a frame


def test_within_span_lays_the_key_places_over_the_speech_and_leaves_padding():
    from bench.tasks.lm.align import within_span

    text = torch.tensor([[1, 4, 5, 2], [1, 4, 2, T_PAD]])
    pos = within_span(key_positions(text), torch.tensor([[0.1, 0.9], [0.0, 0.5]]))
    assert torch.allclose(pos, torch.tensor([[0.1, 0.1 + 0.8 / 3, 0.1 + 1.6 / 3, 0.9], [0.0, 0.25, 0.5, 2.0]]))
