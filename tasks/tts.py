"""Zero-shot TTS, VALL-E style: phonemes + a prompt of the target speaker's codes -> speech tokens.

Two models of the same size: the AR model samples codebook 0 frame by frame until EOS; the NAR
model (bidirectional, one level embedding) fills codebooks 1..n_q-1 one level at a time, greedily.
Outputs are decoded twice, as the paper's Table 1: "ar" (codebook 0 alone, decoded with n_q=1) and
"ar+nar" (all n_q codebooks). Two protocols (``data.tts_mode``, docs/TASKS.md):

- ``continuation`` (VALL-E's continuation task): the text is the whole utterance's phonemes, the prompt
  the utterance's own start and the LM generates the rest. At test the prompt ends at a word boundary
  no later than ``prompt_seconds`` (at most half the utterance), the same instant for every codec, found once per item
  by ASR word timestamps on the clean audio and kept in the run dir (:mod:`bench.tasks.prompt_cut`). The
  AR model trains on whole utterances, ``[BOS | frames]`` -> ``[frames | EOS]``, as VALL-E's does; the NAR
  model on ``[prompt (all levels) | SEP | rest]``, predicting the rest, the test layout, with a prompt of
  a random length between half the limit and the limit (test prompts end at a word, so their length
  varies). The generated codes are stored and decoded with their prompt in front (prompt +
  continuation, one waveform); every metric scores the waveform after the prompt's last sample, WER
  against the reference words after the prompt's words: prompt frames are never scored.
- ``cross``: the prompt is a window of *another* utterance of the same speaker (training) or the test
  item's ``prompt_id`` clip (test), audio ``[prompt | SEP | target]``, so the model must take the voice
  from the prompt and the words from the text; only the generated target is decoded and scored.

Held-out passes (:mod:`bench.tasks.lm.heldout`) use the same layouts over the valid split.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from bench.lazy import lazy
from bench.metrics import Item
from bench.tasks import prompt_cut
from bench.tasks.common import Context, LMTask
from bench.tasks.config import TTS_TEXTS
from bench.tasks.lm.vocab import BOS, EOS, IGNORE, PAD, SEP, T_BOS, T_EOS, T_PAD, LMShape
from bench.tasks.score import groups_of, metric_of, score_items

# torch and the LM modules load on first use, so listing tasks (`bench tasks`) stays fast
torch = lazy("torch")
_gen = lazy("bench.tasks.lm.generate")
_train = lazy("bench.tasks.lm.train")
_heldout = lazy("bench.tasks.lm.heldout")
_align = lazy("bench.tasks.lm.align")


NULL_TEXT = [T_BOS, T_EOS]  # the empty text: train.text_dropout's rows and classifier-free guidance's other half


def _pad_stack(seqs: list[np.ndarray], value: int) -> torch.Tensor:
    """list of [K, L_i] -> [B, K, max L] padded with ``value``."""
    k, n = seqs[0].shape[0], max(s.shape[1] for s in seqs)
    out = np.full((len(seqs), k, n), value, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, :, : s.shape[1]] = s
    return torch.from_numpy(out)


def _text_batch(texts: list[list[int]]) -> torch.Tensor:
    n = max(len(t) for t in texts)
    return torch.tensor([t + [T_PAD] * (n - len(t)) for t in texts], dtype=torch.long)


VAL_TAG = 0x7A11D  # seeds the held-out prompt draws apart from every training step's


def prompt_split(n_frames: int, prompt_frames: int) -> int:
    """Continuation mode: the most frames of an utterance its prompt may take, ``prompt_seconds`` but at most
    half of it, so a short utterance still has a continuation to model and to score. Training draws prompts
    up to it; a test prompt ends at the last word boundary before it (:mod:`bench.tasks.prompt_cut`)."""
    return min(prompt_frames, n_frames // 2)


def tts_mode(cfg) -> str:
    from bench.tasks.config import TTS_MODES

    if cfg.data.tts_mode not in TTS_MODES:
        raise ValueError(f"data.tts_mode={cfg.data.tts_mode!r}; known: {', '.join(TTS_MODES)}")
    return cfg.data.tts_mode


class _TTSData:
    """Examples of one split: (phoneme ids, codes [n_q, T]) plus same-speaker prompt candidates in that split."""

    def __init__(self, ctx: Context, rows: list[dict], val_seed: tuple[int, str] | None = None) -> None:
        cfg = ctx.cfg
        self.ctx, self.n_q, self.v, self.mode = ctx, cfg.data.n_q, cfg.lm.audio_vocab, tts_mode(cfg)
        self.rows, self.val_seed = rows, val_seed
        self.ids = [r["id"] for r in rows]
        self.text = [ctx.vocab.encode(r[ctx.text_field]) for r in rows]
        self.codes = [ctx.cache.codes(r["id"], self.n_q) for r in rows]
        by_spk: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            by_spk.setdefault(r.get("speaker") or r["id"], []).append(i)
        self.same = [[j for j in by_spk[r.get("speaker") or r["id"]] if j != i] or [i] for i, r in enumerate(rows)]
        self.prompt_frames = ctx.frames(cfg.data.prompt_seconds)
        self._spans: dict[int, tuple[float, float]] = {}

    def speech_span(self, i: int) -> tuple[float, float]:
        """Row i's speech (onset, offset) as fractions of its clip (``train.align_prior: letters-span``), read
        from the clean audio on first use. Cross mode aligns the target after SEP, the same clip."""
        if i not in self._spans:
            self._spans[i] = _align.speech_span(self.ctx.load_audio(self.rows[i]), 16000)
        return self._spans[i]

    @classmethod
    def train(cls, ctx: Context) -> _TTSData:
        max_f = ctx.frames(ctx.cfg.data.max_train_seconds)
        rows = [r for r in ctx.split("train") if ctx.cache.index[r["id"]][2] <= max_f]
        if not rows:
            raise ValueError(f"tts: no training utterances of <= {ctx.cfg.data.max_train_seconds} s")
        return cls(ctx, rows)

    def prompt(self, i: int, rng: np.random.Generator) -> np.ndarray:
        """Cross mode: a ``prompt_seconds`` window of another utterance of the speaker."""
        c = self.codes[int(rng.choice(self.same[i]))]
        if c.shape[1] <= self.prompt_frames:
            return c
        s = int(rng.integers(0, c.shape[1] - self.prompt_frames + 1))
        return c[:, s : s + self.prompt_frames]

    def prompt_and_target(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The NAR's (prompt [n_q, P], target [n_q, T]): the mode's prompt and the frames the model predicts
        (continuation: the rest of the same utterance after a prompt of ``prompt_len`` frames; cross: the
        whole utterance)."""
        if self.mode == "continuation":
            c = self.codes[i]
            p = self.prompt_len(c.shape[1], rng)
            return c[:, :p], c[:, p:]
        return self.prompt(i, rng), self.codes[i]

    def prompt_len(self, n_frames: int, rng: np.random.Generator) -> int:
        """Continuation mode: the NAR's prompt frames. Training: drawn uniformly from [limit // 2, limit]
        (limit: :func:`prompt_split`), because a test prompt ends at the last word boundary before the limit,
        so its length varies by up to a word and the NAR should have seen that range, not one SEP position.
        Held-out passes: the limit, one length per utterance at every level (its frames are counted once)."""
        hi = prompt_split(n_frames, self.prompt_frames)
        if self.val_seed is not None or hi <= 1:
            return hi
        return int(rng.integers(max(1, hi // 2), hi + 1))

    def val_rng(self, b: int) -> np.random.Generator:
        """Fixed draws for held-out batch ``b``: the same prompts in every pass and for every codec."""
        seed, stage = self.val_seed or (0, "")
        return np.random.default_rng([seed, zlib.crc32(stage.encode()), VAL_TAG, b])


class _OtherText:
    """The held-out pass with each valid utterance's text swapped for the next one's (:class:`~bench.tasks.lm.
    heldout.TextConditioned`); prompts and codes stay the utterance's own."""

    d: _TTSData

    def with_other_text(self):
        d = copy.copy(self.d)
        d.text = _heldout.other_text(d.text)
        return type(self)(d)


class TTSAR(_OtherText):
    """Codebook 0, causal. Cross: predict target frames then EOS after [prompt | SEP]. Continuation: the whole
    utterance after BOS, then EOS (VALL-E; at test the prompt frames are a given prefix of the same sequence)."""

    def __init__(self, data: _TTSData) -> None:
        self.d = data
        self.shape = LMShape(n_streams=1, code_vocab=data.v, causal=True)

    def n_examples(self) -> int:
        return len(self.d.rows)

    def _example(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int, int]:
        """(input [1, L], target [1, L], frames of codes scored, input position where the utterance's own
        frames start: BOS or SEP, the span the guided-attention loss aligns with the text)."""
        v, t = self.d.v, self.d.codes[i][:1]
        if self.d.mode == "continuation":
            x = np.concatenate([[[v + BOS]], t], axis=1)
            return x, np.concatenate([t, [[v + EOS]]], axis=1), t.shape[1], 0
        p = self.d.prompt(i, rng)[:1]
        x = np.concatenate([p, [[v + SEP]], t], axis=1)
        return x, np.concatenate([np.full_like(p, IGNORE), t, [[v + EOS]]], axis=1), t.shape[1], p.shape[1]

    def batch(self, idx: np.ndarray, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        ex = [self._example(int(i), rng) for i in idx]
        noise = self.d.ctx.cfg.train.input_noise
        if noise > 0:  # random codes in place of some input codes (never BOS/SEP, never a target)
            cb = self.d.ctx.codebook_size
            ex = [(np.where((e[0] < cb) & (rng.random(e[0].shape) < noise), rng.integers(0, cb, e[0].shape), e[0]),
                   *e[1:]) for e in ex]
        texts = [self.d.text[int(i)] for i in idx]
        drop = self.d.ctx.cfg.train.text_dropout
        dropped = rng.random(len(ex)) < drop if drop > 0 else np.zeros(len(ex), dtype=bool)
        texts = [NULL_TEXT if d else t for t, d in zip(texts, dropped, strict=True)]
        b = _batch(texts, [e[0] for e in ex], [e[1] for e in ex], self.d.v)
        b["align_start"] = torch.tensor([e[3] for e in ex])
        if self.d.ctx.cfg.train.align_prior == "letters-span":
            b["align_span"] = torch.tensor([self.d.speech_span(int(i)) for i in idx], dtype=torch.float32)
        # BOS/SEP + the frames; none for a row without its text (no diagonal to pull towards)
        b["align_len"] = torch.tensor([0 if d else e[2] + 1 for e, d in zip(ex, dropped, strict=True)])
        return b

    def val_batches(self, batch_size: int) -> Iterator:
        """Every held-out utterance once, in order, in batches built afresh (and alike) at every pass."""
        for b, r in enumerate(_heldout.chunks(len(self.d.rows), batch_size)):
            rng = self.d.val_rng(b)
            ex = [self._example(i, rng) for i in r]
            batch = _batch([self.d.text[i] for i in r], [e[0] for e in ex], [e[1] for e in ex], self.d.v)
            yield _heldout.ValBatch([self.d.ids[i] for i in r], [e[2] for e in ex], batch)

    def logits(self, model, batch):
        return model(batch["text"], batch["audio"], batch["key_mask"])

    def _key_weight(self) -> torch.Tensor:
        """Per text id, its share of the reading for ``train.align_prior: letters`` and ``letters-span``: a word's
        letters + 1 (its space), one for a character and for BOS/EOS/UNK."""
        if getattr(self, "_kw", None) is None:
            vocab, n = self.d.ctx.vocab, self.d.ctx.cfg.lm.text_vocab
            w = torch.ones(n)
            if vocab.unit == "word":
                for s, i in vocab.ids.items():
                    if i < n:
                        w[i] = len(s) + 1
            self._kw = w
        return self._kw

    def loss(self, model, batch):
        """Cross-entropy, plus ``train.align_weight`` x the guided-attention loss when that is on
        (:mod:`bench.tasks.lm.align`; held-out passes score the cross-entropy alone)."""
        tc = self.d.ctx.cfg.train
        if tc.align_weight <= 0:
            return _train.masked_ce(self.logits(model, batch), batch["target"])
        logits, attn = model(batch["text"], batch["audio"], batch["key_mask"],
                             text_attn=(tc.align_layer, tc.align_heads))
        pos = _align.key_positions(batch["text"], self._key_weight() if tc.align_prior != "uniform" else None)
        if tc.align_prior == "letters-span":
            pos = _align.within_span(pos, batch["align_span"])
        guide = _align.guided_attention_loss(attn, pos, (batch["text"] != T_PAD).sum(1), batch["align_start"],
                                             batch["align_len"], tc.align_sigma)
        return _train.masked_ce(logits, batch["target"]) + tc.align_weight * guide


class TTSNAR(_OtherText):
    """Codebooks 1..n_q-1, bidirectional: given levels < k of the target (and the full prompt), predict level k."""

    def __init__(self, data: _TTSData) -> None:
        self.d = data
        self.shape = LMShape(n_streams=data.n_q, code_vocab=data.v, n_levels=data.n_q, causal=False)

    def n_examples(self) -> int:
        return len(self.d.rows)

    def _example(self, i: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
        p, t = self.d.prompt_and_target(i, rng)
        x, y = nar_input(p, t, k, self.d.v), np.full((self.d.n_q, p.shape[1] + 1 + t.shape[1]), IGNORE)
        y[k, p.shape[1] + 1 :] = t[k]
        return x, y, t.shape[1]

    def batch(self, idx: np.ndarray, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        xs, ys, levels = [], [], []
        for i in idx:
            k = int(rng.integers(1, self.d.n_q))
            x, y, _ = self._example(int(i), k, rng)
            xs.append(x)
            ys.append(y)
            levels.append(k)
        b = _batch([self.d.text[int(i)] for i in idx], xs, ys, self.d.v)
        b["level"] = torch.tensor(levels)
        return b

    def val_batches(self, batch_size: int) -> Iterator:
        """Every held-out utterance at every level 1..n_q-1 (utterance-major), in fixed batches."""
        pairs = [(i, k) for i in range(len(self.d.rows)) for k in range(1, self.d.n_q)]
        for b, r in enumerate(_heldout.chunks(len(pairs), batch_size)):
            rng = self.d.val_rng(b)
            ex = [self._example(pairs[j][0], pairs[j][1], rng) for j in r]
            batch = _batch([self.d.text[pairs[j][0]] for j in r], [e[0] for e in ex], [e[1] for e in ex], self.d.v)
            batch["level"] = torch.tensor([pairs[j][1] for j in r])
            yield _heldout.ValBatch([self.d.ids[pairs[j][0]] for j in r], [e[2] for e in ex], batch)

    def logits(self, model, batch):
        return model(batch["text"], batch["audio"], batch["key_mask"], level=batch["level"])

    def loss(self, model, batch):
        """Cross-entropy of each row's level alone (its targets are the only ones not IGNORE)."""
        lv = batch["level"]
        logits = model(batch["text"], batch["audio"], batch["key_mask"], level=lv, stream=lv)
        return _train.masked_ce(logits, batch["target"][torch.arange(len(lv)), lv][:, None])


def nar_input(prompt: np.ndarray, target: np.ndarray, k: int, v: int) -> np.ndarray:
    """[prompt (all levels) | SEP | target levels < k, PAD above] as [n_q, P+1+T]."""
    q = prompt.shape[0]
    sep = np.full((q, 1), v + PAD)
    sep[0, 0] = v + SEP
    t = target.copy()
    t[k:] = v + PAD
    return np.concatenate([prompt, sep, t], axis=1)


def _batch(texts, xs, ys, v) -> dict[str, torch.Tensor]:
    text = _text_batch(texts)
    audio = _pad_stack(xs, v + PAD)
    target = _pad_stack(ys, IGNORE)
    lens = torch.tensor([x.shape[1] for x in xs])
    amask = torch.arange(audio.shape[2])[None] < lens[:, None]
    return {"text": text, "audio": audio, "target": target, "key_mask": torch.cat([text != T_PAD, amask], dim=1),
            "n_tokens": (target != IGNORE).sum(dim=(1, 2))}


class TTSTask(LMTask):
    name: ClassVar[str] = "tts"
    recipe: ClassVar[str] = "speech"
    conditioning: ClassVar[str] = "phonemes + 3 s prompt of the speaker (data.tts_mode: continuation or cross)"
    metrics: ClassVar[tuple[str, ...]] = ("wer", "spk", "mos")
    text_field = "phonemes"
    text_unit = "char"
    variants = ("ar", "ar+nar")
    group_field = "speaker"

    def __init__(self) -> None:
        self._cuts: dict[tuple[str, str], prompt_cut.Cut] = {}  # (run dir, item id) -> its continuation prompt

    def text_spec(self, cfg) -> tuple[str, str]:
        """``data.tts_text``: the IPA phonemes one symbol a token, or the words one word a token."""
        return TTS_TEXTS[cfg.data.tts_text]

    def shapes(self, cfg) -> dict:
        v, q = cfg.lm.audio_vocab, cfg.data.n_q
        return {"ar": LMShape(1, v, 0, True), "nar": LMShape(q, v, q, False)}

    def objective(self, stage: str, ctx: Context):
        data = _TTSData.train(ctx)
        return TTSAR(data) if stage == "ar" else TTSNAR(data)

    def heldout(self, stage: str, ctx: Context):
        """The valid utterances in the mode's layout; cross prompts come from valid utterances of the same voice."""
        data = _TTSData(ctx, self.valid_rows(ctx), (ctx.cfg.train.seed, stage))
        return TTSAR(data) if stage == "ar" else TTSNAR(data)

    def valid_candidates(self, ctx: Context) -> list[dict]:
        """Valid utterances no longer than ``data.max_train_seconds`` by the manifest's duration (training's
        limit, read from the manifest so that the set is one for every codec, whatever its frame rate)."""
        return [r for r in ctx.split("valid") if float(r.get("duration") or 0.0) <= ctx.cfg.data.max_train_seconds]

    def record_extra(self, ctx: Context) -> dict:
        return {"tts_mode": tts_mode(ctx.cfg)}

    def test_candidates(self, ctx: Context) -> list[dict]:
        if tts_mode(ctx.cfg) == "continuation":
            rows = ctx.split("test")
            if not rows:
                raise ValueError(f"{ctx.manifest}: no test utterances")
            return rows
        rows = [r for r in ctx.split("test") if r.get("prompt_id")]
        if not rows:
            raise ValueError(f"{ctx.manifest}: no test utterances with a prompt_id (the speech recipe sets them)")
        return rows

    def cuts(self, items: list[dict], ctx: Context) -> dict[str, prompt_cut.Cut]:
        """Continuation mode: each item's prompt cut at a word boundary, from ``<run dir>/prompt_cuts.json``
        (computed there once, for every test item together, on first use)."""
        rd = str(ctx.run_dir)
        missing = [it for it in items if (rd, it["id"]) not in self._cuts]
        if missing:
            ids = {it["id"] for it in missing}
            todo = [*missing, *(it for it in self.test_items(ctx) if it["id"] not in ids)]
            got = prompt_cut.cuts(ctx.run_dir, todo, lambda it: ctx.load_audio(it, prompt_cut.SR), ctx.frame_rate,
                                  ctx.cfg.data.prompt_seconds)
            self._cuts.update({(rd, i): c for i, c in got.items()})
        return {it["id"]: self._cuts[rd, it["id"]] for it in items}

    def prompt_frames(self, item: dict, ctx: Context) -> int:
        """Continuation mode: frames of the item's own codes given as its prompt, up to the word boundary
        its cut found (0 in cross mode)."""
        if tts_mode(ctx.cfg) != "continuation":
            return 0
        return self.cuts([item], ctx)[item["id"]].prompt_frames

    def prompt_codes(self, item: dict, ctx: Context) -> np.ndarray:
        if tts_mode(ctx.cfg) == "continuation":
            return ctx.cache.codes(item["id"], ctx.cfg.data.n_q)[:, : self.prompt_frames(item, ctx)]
        c = ctx.cache.codes(item["prompt_id"], ctx.cfg.data.n_q)
        return c[:, : ctx.frames(ctx.cfg.data.prompt_seconds)]

    def generate(self, models: dict, item: dict, ctx: Context) -> dict[str, np.ndarray]:
        """{"ar": codebook 0, "ar+nar": all levels}; in continuation mode the prompt's codes come first.
        Without a "nar" model in ``models``, {"ar": ...} alone."""
        cfg, v, cb = ctx.cfg, ctx.cfg.lm.audio_vocab, ctx.codebook_size
        cont = tts_mode(cfg) == "continuation"
        g = _gen.item_generator(cfg.generate.seed, item["id"])
        dev = next(models["ar"].parameters()).device
        text = torch.tensor(ctx.vocab.encode(item[ctx.text_field]))
        prompt = self.prompt_codes(item, ctx)
        if cont:  # the prompt frames are the start of the utterance the AR model continues
            prefix = torch.from_numpy(np.concatenate([[[v + BOS]], prompt[:1]], axis=1))
        else:
            prefix = torch.from_numpy(np.concatenate([prompt[:1], [[v + SEP]]], axis=1))
        allowed = torch.zeros(1, v + 4, dtype=torch.bool)
        allowed[0, :cb] = True
        min_f = ctx.frames(cfg.data.min_gen_seconds)

        def choose(i: int, logits: torch.Tensor) -> torch.Tensor | None:
            a = allowed.clone()
            a[0, v + EOS] = i >= min_f
            tok = _gen.sample(logits, a, cfg.generate.temperature, cfg.generate.top_k, g)
            return None if int(tok[0]) == v + EOS else tok

        guide = (torch.tensor(NULL_TEXT), cfg.generate.cfg_scale) if cfg.generate.cfg_scale > 0 else None
        ar = _gen.ar_generate(models["ar"], text, prefix, ctx.frames(cfg.data.max_gen_seconds), choose,
                              guide=guide).numpy()
        if "nar" not in models:  # AR alone (exploration: scripts/explore_tts_ar.py, sweep_tts_decoding.py)
            return {"ar": np.concatenate([prompt[:1], ar], axis=1) if cont else ar}
        codes = np.concatenate([ar, np.zeros((cfg.data.n_q - 1, ar.shape[1]), dtype=np.int64)], axis=0)
        nar = models["nar"]
        with torch.no_grad():
            for k in range(1, cfg.data.n_q):
                x = torch.from_numpy(nar_input(prompt, codes, k, v))[None].to(dev)
                lv = torch.tensor([k], device=dev)
                logits = nar(text[None].to(dev), x, level=lv, stream=lv)[0, 0, prompt.shape[1] + 1 :]
                codes[k] = logits[:, :cb].float().argmax(-1).cpu().numpy()
        if cont:
            return {"ar": np.concatenate([prompt[:1], ar], axis=1), "ar+nar": np.concatenate([prompt, codes], axis=1)}
        return {"ar": ar, "ar+nar": codes}

    def score(self, ctx: Context, items: list[dict], audio: dict[str, dict[str, np.ndarray]], sr: int, log=print):
        """WER vs text, speaker similarity vs the prompt, MOS; for each variant and for the clean reference.

        Continuation mode: ``audio`` holds prompt + continuation. Every metric scores the samples after the
        prompt (cut at ``prompt_frames / frame_rate``; the clean reference at the cut instant, the same for every
        codec), WER against the reference words after the prompt's
        words, speaker similarity against the clean prompt; the clean reference rows score the clean
        continuation the same way, so the floor is comparable. The prompt frames, the codec's resynthesis of
        real codes, are never scored; with ``data.asr_context: prompt`` the ASR hears the clean prompt before
        every row's continuation (the same context for every system, so only the continuation differs) and
        scores the words its transcript aligns to the continuation's text (the prompt's words are the lead's).
        """
        cont = tts_mode(ctx.cfg) == "continuation"
        refs = {it["id"]: ctx.load_audio(it, sr) for it in items}
        cuts = self.cuts(items, ctx) if cont else {}
        # the codec's rows continue after its prompt frames; the clean reference after the codec-independent
        # cut instant, so the floor is the same in every codec's run (they differ by under a frame)
        row_cut = {i: round(c.prompt_frames / ctx.frame_rate * sr) for i, c in cuts.items()}
        ref_cut = {i: round(c.cut_seconds * sr) for i, c in cuts.items()}
        if not cont:
            prompt_s = ctx.cfg.data.prompt_seconds
            prompts = {it["id"]: ctx.load_audio(ctx.by_id[it["prompt_id"]], sr)[: int(prompt_s * sr)] for it in items}

        in_context = cont and ctx.cfg.data.asr_context == "prompt"
        text = {it["id"]: it.get("text") or "" for it in items}

        def make(src: dict[str, np.ndarray], cut: dict[str, int]) -> list[Item]:
            if cont:  # in context: the ASR hears the clean prompt before every row's continuation (asr_context)
                return [Item(id=i, audio=src[i][cut[i]:], sr=sr, ref_audio=refs[i][cut[i]:],
                             ref_text=cuts[i].continuation_text, prompt_audio=refs[i][: cut[i]],
                             lead_audio=refs[i][: cut[i]] if in_context else None,
                             lead_text=cuts[i].prompt_text(text[i]) if in_context else None)
                        for i in (it["id"] for it in items)]
            return [Item(id=it["id"], audio=src[it["id"]], sr=sr, ref_audio=refs[it["id"]], ref_text=it.get("text"),
                         prompt_audio=prompts[it["id"]]) for it in items]

        extra: dict = {"tts_mode": tts_mode(ctx.cfg), "scored_audio": "continuation" if cont else "generated"}
        if in_context:
            extra["asr_context"] = "prompt"
        if cont:
            flags = sorted({f for c in cuts.values() for f in c.flags})
            extra.update(prompt_cut=prompt_cut.METHOD,
                         prompt_cut_flags={f: sum(f in c.flags for c in cuts.values()) for f in flags})
        records, reference = [], []
        per_item: dict[str, dict] = {it["id"]: {"id": it["id"]} for it in items}
        for i, c in cuts.items():
            per_item[i].update(prompt_frames=c.prompt_frames, prompt_seconds=c.prompt_seconds,
                               cut_seconds=c.cut_seconds, continuation_text=c.continuation_text, cut_flags=c.flags)
        groups = groups_of(items, self.group_field)
        for name in ctx.cfg.metrics:
            m = metric_of(name)
            for variant in self.variants:
                vals, summ = score_items(name, make(audio[variant], row_cut), log, groups)
                records.append({**summ, "metric": f"{m}@{variant}", "variant": variant,
                                "extra": {**summ.get("extra", {}), **extra}})
                for it, val in zip(items, vals, strict=True):
                    per_item[it["id"]][f"{name}@{variant}"] = val
            vals, summ = score_items(name, make(refs, ref_cut), log, groups)
            for variant in self.variants:  # the floor, in the same columns as the codec rows
                reference.append({**summ, "metric": f"{m}@{variant}", "variant": "reference",
                                  "extra": {**summ.get("extra", {}), **extra}})
            for it, val in zip(items, vals, strict=True):
                per_item[it["id"]][f"{name}@reference"] = val
        return {"records": records, "reference": reference, "items": list(per_item.values())}
