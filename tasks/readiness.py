"""LM-readiness of a codec's tokens: held-out NLL in bits per second of audio, and per-codebook perplexity.

Why: a tokenizer is good for an audio LM to the degree the LM can predict its tokens, and that can be read
long before generated samples are intelligible. At an equal LM budget (tasks/budget.py), the last
held-out pass of each stage (:mod:`bench.tasks.lm.heldout`, valid split) gives, per stage,

- ``nll_bps@<stage variant>``: bits per second of audio, sum of nats / ln 2 over the seconds whose codes
  were scored (frames / frame rate). Per second, not per token, so codecs of different frame rates and
  codebook counts compare: a 75 Hz codec is not rewarded for spreading the same audio over more tokens.
  The AR model's figure covers codebook 0 and its EOS (the length decision is part of what it models);
  the NAR model's covers levels 1..n_q-1 of the frames it predicts (all levels counted per second);
- ``ppl@level<k>``: exp of the mean nats per code of level k (EOS left out: it is not a code);
- ``text_bps@<stage>`` (text-conditioned tasks): bits per second the model's text saves it, against the same
  pass with another utterance's text (:func:`text_record`): whether the LM reads at all.

Values are corpus figures (ratios of sums over utterances, like corpus WER); the 95% CI resamples valid
utterances, whole speakers first when there are several (``bench.metrics.stats.bootstrap``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench.tasks.lm.heldout import OTHER, HeldOut

BACKEND = {"name": "bench.lm_readiness", "model": None, "version": "1", "weights_hash": None}
N_BOOT, SEED = 1000, 0


def _scorer(metric: str, n: int, clusters: int | None) -> dict:
    ci = "cluster-bootstrap" if clusters is not None and clusters >= 2 else "item-bootstrap"
    sig = f"{metric}:{BACKEND['name']}|v:{BACKEND['version']}|split:valid|agg:corpus|ci:{ci}|boot:{N_BOOT}|seed:{SEED}"
    return {"aggregate": "corpus", "ci": ci, "n_boot": N_BOOT, "seed": SEED, "items": n, "clusters": clusters,
            "signature": sig}


def _ratio(num: list[float], den: list[float], groups: list[str] | None) -> tuple[float | None, float | None,
                                                                                  float | None]:
    from bench.metrics.stats import bootstrap

    return bootstrap(num, den, groups=groups, n_boot=N_BOOT, seed=SEED)


def bits_per_second(h: HeldOut, frame_rate: float) -> tuple[list[float], list[float]]:
    """(bits, seconds) per utterance: every target of the pass (codes and EOS), over the frames it scored."""
    bits = [sum(v[i] for v in h.nll.values()) / math.log(2) for i in range(len(h.ids))]
    return bits, [f / frame_rate for f in h.frames]


def records(stage: str, h: HeldOut, frame_rate: float, groups: Sequence[str] | None,
            extra: dict | None = None, other: HeldOut | None = None) -> list[dict]:
    """Record fields (metric, backend, value, n, CI, scorer, per_item, variant, extra) of one stage's pass.

    The stage names the decoding variant of its bits-per-second row (``nll_bps@ar``, ``nll_bps@nar``;
    ``nll_bps`` for the one-model tasks, whose one variant "lm" records carry as none); per-level rows have none
    (``ppl@level<k>``: a decode variant would make every NAR level one cell). ``other``, the same pass with each
    utterance's text swapped for another's, adds ``text_bps@<stage>`` (:func:`text_record`)."""
    g = list(groups) if groups is not None else None
    clusters = len(set(g)) if g is not None else None
    n = len(h.ids)
    base = {"backend": dict(BACKEND), "n": n, "higher_is_better": False}
    ex = {**(extra or {}), "stage": stage, "split": "valid"}
    bits, secs = bits_per_second(h, frame_rate)
    val, lo, hi = _ratio(bits, secs, g)
    per = {"ids": list(h.ids), "values": [b / s if s > 0 else None for b, s in zip(bits, secs, strict=True)],
           "num": [round(b, 6) for b in bits], "den": [round(s, 6) for s in secs]}
    metric = "nll_bps" if stage == "lm" else f"nll_bps@{stage}"
    tokens = sum(sum(v) for v in h.tokens.values())
    out = [{**base, "metric": metric, "variant": stage, "value": val, "ci_low": lo, "ci_high": hi,
            "scorer": _scorer("nll_bps", n, clusters), "per_item": _with_groups(per, g),
            "extra": {**ex, "tokens": tokens, "seconds": round(sum(secs), 4)}}]
    for level in (k for k in h.nll if k != OTHER):
        nats, toks = h.nll[level], h.tokens[level]
        val, lo, hi = _ratio(nats, [float(t) for t in toks], g)
        per = {"ids": list(h.ids), "values": [math.exp(a / t) if t else None for a, t in zip(nats, toks, strict=True)],
               "num": [round(a, 6) for a in nats], "den": list(toks)}
        out.append({**base, "metric": f"ppl@level{level}", "variant": None, "value": _exp(val), "ci_low": _exp(lo),
                    "ci_high": _exp(hi), "scorer": _scorer("ppl", n, clusters), "per_item": _with_groups(per, g),
                    "extra": {**ex, "tokens": sum(toks), "nll_nats_per_token": val}})
    if other is not None:
        out.append(text_record(stage, h, other, frame_rate, g, base, ex))
    return out


def text_record(stage: str, h: HeldOut, other: HeldOut, frame_rate: float, groups: list[str] | None, base: dict,
                extra: dict) -> dict:
    """``text_bps@<stage>``: bits per second of audio the model saves by reading the utterance's own text rather
    than another utterance's, on the same codes (paired per utterance). Why: a TTS LM that ignores its text
    still models speech well (low NLL) and babbles; this is the share of its prediction that comes from the
    text, readable long before its samples are intelligible. 0 = the text is ignored; higher is better."""
    if other.ids != h.ids or other.frames != h.frames:
        raise ValueError(f"readiness: the other-text pass of {stage} scored other utterances than its held-out pass")
    bits, secs = bits_per_second(h, frame_rate)
    obits, _ = bits_per_second(other, frame_rate)
    gain = [o - b for o, b in zip(obits, bits, strict=True)]
    val, lo, hi = _ratio(gain, secs, groups)
    n, clusters = len(h.ids), len(set(groups)) if groups is not None else None
    per = {"ids": list(h.ids), "values": [x / s if s > 0 else None for x, s in zip(gain, secs, strict=True)],
           "num": [round(x, 6) for x in gain], "den": [round(s, 6) for s in secs]}
    metric = "text_bps" if stage == "lm" else f"text_bps@{stage}"
    return {**base, "metric": metric, "variant": stage, "value": val, "ci_low": lo, "ci_high": hi,
            "higher_is_better": True, "scorer": _scorer("text_bps", n, clusters), "per_item": _with_groups(per, groups),
            "extra": {**extra, "text_swap": "each utterance's text replaced by the next valid utterance's"}}


def _exp(x: float | None) -> float | None:
    return None if x is None else math.exp(x)


def _with_groups(per: dict, groups: list[str] | None) -> dict:
    return per if groups is None else {**per, "groups": groups}
