"""Zero-shot TTS, VALL-E style: phonemes + a 3 s prompt of the target speaker -> speech tokens.

Two models of the same size: the AR model samples codebook 0 frame by frame until EOS; the NAR
model (bidirectional, one level embedding) fills codebooks 1..n_q-1 one level at a time, greedily.
Sequence layout (both): text ``[BOS phonemes EOS]`` then audio ``[prompt frames | SEP | target frames]``.
The prompt is a window of *another* utterance of the same speaker (training) or the test item's
``prompt_id`` clip (test), so the model must take the voice from the prompt and the words from the
text. Outputs are decoded twice, as the paper's Table 1: "ar" (codebook 0 alone, decoded with
n_q=1) and "ar+nar" (all n_q codebooks).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bench.lazy import lazy
from bench.metrics import Item
from bench.tasks.common import Context, LMTask
from bench.tasks.lm.vocab import EOS, IGNORE, PAD, SEP, T_PAD, LMShape
from bench.tasks.score import groups_of, metric_of, score_items

# torch and the LM modules load on first use, so listing tasks (`bench tasks`) stays fast
torch = lazy("torch")
_gen = lazy("bench.tasks.lm.generate")
_train = lazy("bench.tasks.lm.train")


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


class _TTSData:
    """Training examples: (phoneme ids, codes [n_q, T]) plus same-speaker prompt candidates."""

    def __init__(self, ctx: Context) -> None:
        cfg = ctx.cfg
        self.ctx, self.n_q, self.v = ctx, cfg.data.n_q, cfg.lm.audio_vocab
        max_f = ctx.frames(cfg.data.max_train_seconds)
        rows = [r for r in ctx.split("train") if ctx.cache.index[r["id"]][2] <= max_f]
        if not rows:
            raise ValueError(f"tts: no training utterances of <= {cfg.data.max_train_seconds} s")
        self.rows = rows
        self.text = [ctx.vocab.encode(r["phonemes"]) for r in rows]
        self.codes = [ctx.cache.codes(r["id"], self.n_q) for r in rows]
        by_spk: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            by_spk.setdefault(r.get("speaker") or r["id"], []).append(i)
        self.same = [[j for j in by_spk[r.get("speaker") or r["id"]] if j != i] or [i] for i, r in enumerate(rows)]
        self.prompt_frames = ctx.frames(cfg.data.prompt_seconds)

    def prompt(self, i: int, rng: np.random.Generator) -> np.ndarray:
        c = self.codes[int(rng.choice(self.same[i]))]
        if c.shape[1] <= self.prompt_frames:
            return c
        s = int(rng.integers(0, c.shape[1] - self.prompt_frames + 1))
        return c[:, s : s + self.prompt_frames]


class TTSAR:
    """Codebook 0, causal: predict target frames then EOS after [prompt | SEP]."""

    def __init__(self, data: _TTSData) -> None:
        self.d = data
        self.shape = LMShape(n_streams=1, code_vocab=data.v, causal=True)

    def n_examples(self) -> int:
        return len(self.d.rows)

    def batch(self, idx: np.ndarray, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        v, xs, ys = self.d.v, [], []
        for i in idx:
            p, t = self.d.prompt(int(i), rng)[:1], self.d.codes[int(i)][:1]
            x = np.concatenate([p, [[v + SEP]], t], axis=1)
            y = np.concatenate([np.full_like(p, IGNORE), t, [[v + EOS]]], axis=1)
            xs.append(x)
            ys.append(y)
        return _batch([self.d.text[int(i)] for i in idx], xs, ys, v)

    def loss(self, model, batch):
        return _train.masked_ce(model(batch["text"], batch["audio"], batch["key_mask"]), batch["target"])


class TTSNAR:
    """Codebooks 1..n_q-1, bidirectional: given levels < k of the target (and the full prompt), predict level k."""

    def __init__(self, data: _TTSData) -> None:
        self.d = data
        self.shape = LMShape(n_streams=data.n_q, code_vocab=data.v, n_levels=data.n_q, causal=False)

    def n_examples(self) -> int:
        return len(self.d.rows)

    def batch(self, idx: np.ndarray, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        v, q, xs, ys, levels = self.d.v, self.d.n_q, [], [], []
        for i in idx:
            k = int(rng.integers(1, q))
            p, t = self.d.prompt(int(i), rng), self.d.codes[int(i)].copy()
            x, y = nar_input(p, t, k, v), np.full((q, p.shape[1] + 1 + t.shape[1]), IGNORE)
            y[k, p.shape[1] + 1 :] = t[k]
            xs.append(x)
            ys.append(y)
            levels.append(k)
        b = _batch([self.d.text[int(i)] for i in idx], xs, ys, v)
        b["level"] = torch.tensor(levels)
        return b

    def loss(self, model, batch):
        logits = model(batch["text"], batch["audio"], batch["key_mask"], level=batch["level"])
        return _train.masked_ce(logits, batch["target"])


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
    conditioning: ClassVar[str] = "phonemes + 3 s same-speaker prompt"
    metrics: ClassVar[tuple[str, ...]] = ("wer", "spk", "mos")
    text_field = "phonemes"
    text_unit = "char"
    variants = ("ar", "ar+nar")
    group_field = "speaker"

    def shapes(self, cfg) -> dict:
        v, q = cfg.lm.audio_vocab, cfg.data.n_q
        return {"ar": LMShape(1, v, 0, True), "nar": LMShape(q, v, q, False)}

    def objective(self, stage: str, ctx: Context):
        data = _TTSData(ctx)
        return TTSAR(data) if stage == "ar" else TTSNAR(data)

    def test_candidates(self, ctx: Context) -> list[dict]:
        rows = [r for r in ctx.split("test") if r.get("prompt_id")]
        if not rows:
            raise ValueError(f"{ctx.manifest}: no test utterances with a prompt_id (the speech recipe sets them)")
        return rows

    def prompt_codes(self, item: dict, ctx: Context) -> np.ndarray:
        c = ctx.cache.codes(item["prompt_id"], ctx.cfg.data.n_q)
        return c[:, : ctx.frames(ctx.cfg.data.prompt_seconds)]

    def generate(self, models: dict, item: dict, ctx: Context) -> dict[str, np.ndarray]:
        cfg, v, cb = ctx.cfg, ctx.cfg.lm.audio_vocab, ctx.codebook_size
        g = _gen.item_generator(cfg.generate.seed, item["id"])
        dev = next(models["ar"].parameters()).device
        text = torch.tensor(ctx.vocab.encode(item["phonemes"]))
        prompt = self.prompt_codes(item, ctx)
        prefix = torch.from_numpy(np.concatenate([prompt[:1], [[v + SEP]]], axis=1))
        allowed = torch.zeros(1, v + 4, dtype=torch.bool)
        allowed[0, :cb] = True
        min_f = ctx.frames(cfg.data.min_gen_seconds)

        def choose(i: int, logits: torch.Tensor) -> torch.Tensor | None:
            a = allowed.clone()
            a[0, v + EOS] = i >= min_f
            tok = _gen.sample(logits, a, cfg.generate.temperature, cfg.generate.top_k, g)
            return None if int(tok[0]) == v + EOS else tok

        ar = _gen.ar_generate(models["ar"], text, prefix, ctx.frames(cfg.data.max_gen_seconds), choose).numpy()
        codes = np.concatenate([ar, np.zeros((cfg.data.n_q - 1, ar.shape[1]), dtype=np.int64)], axis=0)
        nar = models["nar"]
        with torch.no_grad():
            for k in range(1, cfg.data.n_q):
                x = torch.from_numpy(nar_input(prompt, codes, k, v))[None].to(dev)
                logits = nar(text[None].to(dev), x, level=torch.tensor([k], device=dev))[0, k, prompt.shape[1] + 1 :]
                codes[k] = logits[:, :cb].float().argmax(-1).cpu().numpy()
        return {"ar": ar, "ar+nar": codes}

    def score(self, ctx: Context, items: list[dict], audio: dict[str, dict[str, np.ndarray]], sr: int, log=print):
        """WER vs text, speaker similarity vs the prompt, MOS; for each variant and for the clean reference."""
        prompt_s = ctx.cfg.data.prompt_seconds
        refs = {it["id"]: ctx.load_audio(it, sr) for it in items}
        prompts = {it["id"]: ctx.load_audio(ctx.by_id[it["prompt_id"]], sr)[: int(prompt_s * sr)] for it in items}

        def make(src: dict[str, np.ndarray]) -> list[Item]:
            return [Item(id=it["id"], audio=src[it["id"]], sr=sr, ref_audio=refs[it["id"]], ref_text=it.get("text"),
                         prompt_audio=prompts[it["id"]]) for it in items]

        records, reference, per_item = [], [], {it["id"]: {"id": it["id"]} for it in items}
        groups = groups_of(items, self.group_field)
        for name in ctx.cfg.metrics:
            m = metric_of(name)
            for variant in self.variants:
                vals, summ = score_items(name, make(audio[variant]), log, groups)
                records.append({**summ, "metric": f"{m}@{variant}", "variant": variant})
                for it, val in zip(items, vals, strict=True):
                    per_item[it["id"]][f"{name}@{variant}"] = val
            vals, summ = score_items(name, make(refs), log, groups)
            for variant in self.variants:  # the floor, in the same columns as the codec rows
                reference.append({**summ, "metric": f"{m}@{variant}", "variant": "reference"})
            for it, val in zip(items, vals, strict=True):
                per_item[it["id"]][f"{name}@reference"] = val
        return {"records": records, "reference": reference, "items": list(per_item.values())}
