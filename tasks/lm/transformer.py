"""The one LM every task and codec uses: a pre-norm decoder-only transformer over [text | audio].

Input is a text prefix (phonemes, caption words, or a lone BOS) followed by K parallel audio streams
whose embeddings are summed per step (K = 1 for the VALL-E AR model and flatten; K = n_q for the
NAR model and the delay pattern). Each stream has its own output head. Attention is PyTorch SDPA,
causal (AR) or bidirectional (NAR), with a key-padding mask; a KV cache makes AR sampling linear.
Positions are sinusoidal and counted separately in text and audio (as VALL-E), so no length cap.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench.tasks.config import LMCfg
from bench.tasks.lm.vocab import (  # noqa: F401 - re-exported for the modules that import them from here
    BOS,
    EOS,
    N_SPECIAL,
    PAD,
    SEP,
    T_BOS,
    T_EOS,
    T_PAD,
    T_SPECIAL,
    T_UNK,
    LMShape,
    audio_special,
)


def sinusoid(pos: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, device=pos.device, dtype=torch.float32) / half)
    ang = pos.float()[..., None] * freq
    return torch.cat([ang.sin(), ang.cos()], dim=-1)


class Block(nn.Module):
    def __init__(self, d: int, n_heads: int, ffn_mult: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, ffn_mult * d), nn.GELU(), nn.Linear(ffn_mult * d, d))
        self.drop = nn.Dropout(dropout)
        self.p_attn = dropout

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None, cache: dict | None, text_attn: tuple[int, int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """-> (output, text attention). ``text_attn=(text_len, heads)``: also return the first ``heads`` heads'
        attention of the audio queries over the text keys alone, renormalised over them ([B, heads, La, Lt]),
        the quantity the guided-attention loss shapes (:mod:`bench.tasks.lm.align`)."""
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.p_attn if self.training else 0.0)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, n, d)))
        probs = None
        if text_attn is not None:
            lt, h = text_attn
            s = q[:, :h, lt:] @ k[:, :h, :lt].transpose(-1, -2) * (q.shape[-1] ** -0.5)
            if mask is not None:  # the key-padding part of the mask over text keys (causality never hides text)
                m = mask[:, :, lt:, :lt] if mask.shape[2] > 1 else mask[:, :, :, :lt]
                s = s.masked_fill(~m.expand_as(s), float("-inf"))
            probs = s.float().softmax(-1)
        return x + self.drop(self.mlp(self.ln2(x))), probs


class TokenLM(nn.Module):
    def __init__(self, cfg: LMCfg, shape: LMShape) -> None:
        super().__init__()
        d = cfg.d_model
        if d % cfg.n_heads:
            raise ValueError(f"d_model {d} is not divisible by n_heads {cfg.n_heads}")
        self.cfg, self.shape = cfg, shape
        self.vocab = shape.code_vocab + N_SPECIAL
        self.text_emb = nn.Embedding(cfg.text_vocab, d, padding_idx=T_PAD)
        self.audio_emb = nn.ModuleList(nn.Embedding(self.vocab, d) for _ in range(shape.n_streams))
        self.seg_emb = nn.Embedding(2, d)
        self.level_emb = nn.Embedding(shape.n_levels, d) if shape.n_levels else None
        self.blocks = nn.ModuleList(Block(d, cfg.n_heads, cfg.ffn_mult, cfg.dropout) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, shape.n_streams * self.vocab, bias=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def embed(
        self, text: torch.Tensor | None, audio: torch.Tensor, level: torch.Tensor | None, audio_start: int = 0
    ) -> torch.Tensor:
        """text [B, Lt] (or None when continuing from a cache), audio [B, K, La] -> [B, Lt+La, D]."""
        d = self.cfg.d_model
        b, _, la = audio.shape
        a = sum(emb(audio[:, k]) for k, emb in enumerate(self.audio_emb))
        pos = torch.arange(audio_start, audio_start + la, device=audio.device)
        a = a + sinusoid(pos, d).to(a.dtype) + self.seg_emb.weight[1]
        if self.level_emb is not None and level is not None:
            a = a + self.level_emb(level)[:, None, :]
        if text is None:
            return self.drop(a)
        t = self.text_emb(text) + sinusoid(torch.arange(text.shape[1], device=text.device), d) + self.seg_emb.weight[0]
        return self.drop(torch.cat([t, a], dim=1))

    def forward(
        self,
        text: torch.Tensor | None,
        audio: torch.Tensor,
        key_mask: torch.Tensor | None = None,
        level: torch.Tensor | None = None,
        cache: list[dict] | None = None,
        audio_start: int = 0,
        text_attn: tuple[int, int] | None = None,
        stream: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits [B, K, La, vocab] for the audio positions.

        ``stream`` [B]: only that output stream's logits per row ([B, 1, La, vocab]); the VALL-E NAR scores
        one level per row, and the other K - 1 heads' logits and softmax were most of its step's cost.

        ``key_mask`` [B, L_total_keys] is True where a key is real. With ``cache`` (a list of one dict
        per block, filled in place) the call appends to earlier keys: pass ``text=None`` after the first.
        ``text_attn=(layer, heads)`` (training, with text): return ``(logits, attention)``, the attention of
        that layer's first ``heads`` heads from audio to text (:meth:`Block.forward`).
        """
        x = self.embed(text, audio, level, audio_start)
        n = x.shape[1]
        past = cache[0]["k"].shape[2] if cache and "k" in cache[0] else 0
        mask = self._mask(n, past, key_mask, x.device)
        attn = None
        for i, blk in enumerate(self.blocks):
            want = (text.shape[1], text_attn[1]) if text_attn is not None and text is not None and i == text_attn[0] \
                else None
            x, p = blk(x, mask, cache[i] if cache is not None else None, want)
            attn = p if p is not None else attn
        la = audio.shape[2]
        h = self.ln_f(x[:, n - la :])
        b = h.shape[0]
        if stream is not None:
            # One matmul per stream present, not a gather of each row's head: the gather's backward adds the rows
            # of one head in a thread-dependent order on CPU, so a NAR step (and its records) changed run to run.
            w = self.head.weight.view(self.shape.n_streams, self.vocab, -1)
            logits = h.new_empty(b, la, self.vocab)
            for s in stream.unique().tolist():
                rows = (stream == s).nonzero(as_tuple=True)[0]
                logits[rows] = h[rows] @ w[s].T
            logits = logits[:, None]
        else:
            logits = self.head(h).view(b, la, self.shape.n_streams, self.vocab).transpose(1, 2)
        if text_attn is not None:
            if attn is None:
                raise ValueError(f"text_attn={text_attn}: needs text and a layer index < {len(self.blocks)}")
            return logits, attn
        return logits

    def _mask(self, n: int, past: int, key_mask: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
        m = None
        if self.shape.causal:
            qi = torch.arange(past, past + n, device=device)[:, None]
            ki = torch.arange(past + n, device=device)[None, :]
            m = (ki <= qi)[None, None]  # [1, 1, n, past+n]
        if key_mask is not None:
            km = key_mask[:, None, None, :]
            m = km if m is None else (m & km)
        return m

    def new_cache(self) -> list[dict]:
        return [{} for _ in self.blocks]
