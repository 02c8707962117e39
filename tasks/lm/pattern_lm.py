"""One causal LM over all n_q codebooks through a codebook pattern (delay or flatten), for music
continuation and text-to-sound: text ``[BOS (caption words) EOS]`` then ``[BOS frame | patterned codes]``.

Generation runs the pattern forward: positions whose code is known (the prompt) are forced, delay
gaps are forced to PAD, the rest is sampled; then the pattern is reverted to [n_q, T] codes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from bench.tasks.lm import patterns
from bench.tasks.lm.generate import ar_generate, sample
from bench.tasks.lm.heldout import ValBatch, chunks, code_levels, other_text
from bench.tasks.lm.train import IGNORE, masked_ce
from bench.tasks.lm.transformer import BOS, N_SPECIAL, PAD, T_PAD, LMShape


def pattern_shape(kind: str, n_q: int, audio_vocab: int) -> LMShape:
    k, v = patterns.streams_and_vocab(kind, n_q, audio_vocab)
    return LMShape(n_streams=k, code_vocab=v, causal=True)


class PatternObjective:
    """Examples are (text ids, codes [n_q, T]); each training batch crops ``frames`` from a random offset.

    Built over the valid split (``ids`` given), :meth:`val_batches` crops from the start instead, so the
    held-out clips and frames are fixed, the same in every pass and for every codec.
    """

    def __init__(self, texts: list[list[int]], codes: list[np.ndarray], kind: str, n_q: int, audio_vocab: int,
                 frames: int, ids: list[str] | None = None) -> None:
        self.texts, self.codes, self.kind, self.n_q, self.v, self.frames = texts, codes, kind, n_q, audio_vocab, frames
        self.ids = ids
        self.shape = pattern_shape(kind, n_q, audio_vocab)

    def n_examples(self) -> int:
        return len(self.codes)

    def with_other_text(self) -> PatternObjective | None:
        """The same clips with each one's text (caption) swapped for the next one's (held-out ``text_bps``);
        None when every clip has the same text (music: a lone BOS), so swapping means nothing."""
        if all(t == self.texts[0] for t in self.texts):
            return None
        return PatternObjective(other_text(self.texts), self.codes, self.kind, self.n_q, self.v, self.frames, self.ids)

    def _crop(self, i: int, rng: np.random.Generator | None) -> np.ndarray:
        c = self.codes[i][: self.n_q]
        if c.shape[1] > self.frames:
            s = int(rng.integers(0, c.shape[1] - self.frames + 1)) if rng is not None else 0
            c = c[:, s : s + self.frames]
        return c

    def batch(self, idx: np.ndarray, rng: np.random.Generator | None) -> dict[str, torch.Tensor]:
        """Rows ``idx``; ``rng`` None crops every clip from its start (validation)."""
        cv = self.shape.code_vocab
        pad, bos = cv + PAD, cv + BOS
        xs, ys = [], []
        for i in idx:
            p = patterns.pattern(self._crop(int(i), rng), self.kind, self.v, pad)
            x = np.concatenate([np.full((p.shape[0], 1), bos), p[:, :-1]], axis=1)
            y = np.where(p == pad, IGNORE, p)
            xs.append(x)
            ys.append(y)
        n = max(x.shape[1] for x in xs)
        k = xs[0].shape[0]
        audio = torch.full((len(xs), k, n), pad, dtype=torch.long)
        target = torch.full((len(xs), k, n), IGNORE, dtype=torch.long)
        for j, (x, y) in enumerate(zip(xs, ys, strict=True)):
            audio[j, :, : x.shape[1]] = torch.from_numpy(x)
            target[j, :, : y.shape[1]] = torch.from_numpy(y)
        lt = max(len(self.texts[int(i)]) for i in idx)
        text = torch.tensor([self.texts[int(i)] + [T_PAD] * (lt - len(self.texts[int(i)])) for i in idx])
        lens = torch.tensor([x.shape[1] for x in xs])
        amask = torch.arange(n)[None] < lens[:, None]
        return {"text": text, "audio": audio, "target": target, "key_mask": torch.cat([text != T_PAD, amask], 1),
                "n_tokens": (target != IGNORE).sum(dim=(1, 2))}

    def val_batches(self, batch_size: int) -> Iterator[ValBatch]:
        """Every clip once, in order, cropped from its start; frames = the crop's frames."""
        if self.ids is None:
            raise ValueError("val_batches needs the clip ids (build the objective with ids=)")
        for r in chunks(len(self.codes), batch_size):
            yield ValBatch([self.ids[i] for i in r], [min(self.frames, self.codes[i].shape[1]) for i in r],
                           self.batch(np.array(r), None))

    def logits(self, model, batch):
        return model(batch["text"], batch["audio"], batch["key_mask"])

    def loss(self, model, batch):
        return masked_ce(self.logits(model, batch), batch["target"])

    def target_levels(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Codebook level per target: the stream (delay), or the id's level block (flatten); -1 for a special."""
        t = batch["target"]
        if self.kind == "flatten":
            return torch.where((t >= 0) & (t < self.shape.code_vocab), t // self.v, torch.full_like(t, -1))
        return code_levels(t, self.shape.code_vocab)


def pattern_generate(
    model, text: list[int], prompt: np.ndarray, n_frames: int, kind: str, audio_vocab: int, codebook_size: int,
    temperature: float, top_k: int, gen: torch.Generator,
) -> np.ndarray:
    """Continue ``prompt`` [n_q, P] to ``n_frames`` frames in total; return all [n_q, n_frames] codes."""
    n_q, p_len = prompt.shape
    k_, cv = patterns.streams_and_vocab(kind, n_q, audio_vocab)
    pad, bos, vocab = cv + PAD, cv + BOS, cv + N_SPECIAL
    full_prompt = patterns.pattern(prompt, kind, audio_vocab, pad)
    if kind == "delay":
        known_steps, total = p_len, n_frames + n_q - 1  # steps < P are fully known in every stream
    else:
        known_steps, total = p_len * n_q, n_frames * n_q
    prefix = np.concatenate([np.full((k_, 1), bos), full_prompt[:, :known_steps]], axis=1)

    def choose(i: int, logits: torch.Tensor) -> torch.Tensor:
        s = known_steps + i
        allowed = torch.zeros(k_, vocab, dtype=torch.bool)
        if kind == "delay":
            forced = {}
            for k in range(n_q):
                f = s - k
                if f < 0 or f >= n_frames:
                    forced[k] = pad
                elif f < p_len:
                    forced[k] = int(prompt[k, f])
                else:
                    allowed[k, :codebook_size] = True
            for k in forced:
                allowed[k, 0] = True  # placeholder so sampling is defined; overwritten below
            tok = sample(logits, allowed, temperature, top_k, gen)
            for k, val in forced.items():
                tok[k] = val
            return tok
        level = s % n_q
        allowed[0, level * audio_vocab : level * audio_vocab + codebook_size] = True
        return sample(logits, allowed, temperature, top_k, gen)

    out = ar_generate(model, torch.tensor(text), torch.from_numpy(prefix), total - known_steps, choose).numpy()
    seq = np.concatenate([full_prompt[:, :known_steps], out], axis=1)
    return patterns.unpattern(seq, kind, n_q, audio_vocab)[:, :n_frames]
