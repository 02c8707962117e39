"""Codec reconstruction evaluation (``bench eval-codec``) on a speech recipe's test split (``speech`` by default).

Per codec and per n_q (the published 1, 2, 3, 4, 8 up to the codec's count, plus the full count):
PESQ-wb, STOI, log-mel L1, SI-SDR, bitrate; WER of the offline ASR on the resynthesis at n_q = 1 and
at full n_q (the paper's point: the first codebook should carry the words), with the clean
reference's WER beside it; encode and decode real-time factors; codebook usage and perplexity per
level. Every number goes through ``bench.metrics.scoring`` and lands as records (docs/RESULTS_SCHEMA.md) in
``results/records/<preset>/codec__<name>.jsonl`` (replaced atomically per run). ``--limit`` takes a seeded
subset with an equal share per test voice (:mod:`bench.data.subset`); CIs resample voices, then clips.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.subset import describe, stratified, test_set_hash

SIGNAL_METRICS = ("pesq/pesq-wb", "stoi/pystoi", "mel/logmel-l1", "sisdr/closed-form")
# The ASR backend of the WER probe (``--asr``). Beside WER, DASB's dWER where the model has one: the resynthesis
# transcript against the same ASR's transcript of the original, so the ASR's own errors on clean speech are not
# charged to the codec (the clean audio's transcript is memoised, so cheap).
ASR = "faster-whisper-tiny.en"


def asr_metrics(asr: str) -> list[str]:
    """The WER probe's backends for ASR backend ``asr`` (e.g. ``faster-whisper-base``): WER, and dWER where that
    model has a dWER backend; an unknown backend fails by name."""
    from bench.metrics import METRICS

    if f"wer/{asr}" not in METRICS.names():
        raise ValueError(f"--asr {asr!r}: no wer/{asr} backend (known: "
                         f"{', '.join(n[4:] for n in METRICS.names() if n.startswith('wer/'))})")
    return [f"wer/{asr}"] + ([f"dwer/{asr}"] if f"dwer/{asr}" in METRICS.names() else [])
PUBLISHED_N_Q = (1, 2, 3, 4, 8)
EVAL_SR = 16000  # the speech recipe's rate; PESQ-wb is defined at 16 kHz
# Level-1 codes carrying under 2 bits per frame (perplexity < 4): the codec passes almost nothing on, so
# its downstream numbers measure a collapsed codebook (the leaderboard and this command say so).
COLLAPSED_PERPLEXITY = 4.0
# Level-1 perplexity under 32 (5 bits per frame): below the level at which a preset trains LMs over a codec's
# tokens (issue #16: a trained-here peer runs the cpu preset's tts only above it; scripts/run_peers.py).
HEALTHY_PERPLEXITY = 32.0


def is_collapsed(perplexity: float) -> bool:
    """The one collapse rule (eval-codec's warning, the token stage's warning, the leaderboard's flag)."""
    return perplexity < COLLAPSED_PERPLEXITY


def health(perplexity: float) -> str:
    """Level-1 codebook state: "collapsed" (< 4), "low" (< 32: no LM is trained on it) or "ok"."""
    return "collapsed" if is_collapsed(perplexity) else "low" if perplexity < HEALTHY_PERPLEXITY else "ok"


def n_q_points(n_codebooks: int) -> list[int]:
    return sorted({n for n in PUBLISHED_N_Q if n <= n_codebooks} | {n_codebooks})


def token_stats(codes: list[np.ndarray], codebook_size: int) -> list[dict[str, float]]:
    """Per level: share of the codebook used and perplexity (exp of the code entropy) over all frames."""
    allc = np.concatenate([c.reshape(c.shape[0], -1) for c in codes], axis=1)  # [n_q, frames]
    out = []
    for level in allc:
        p = np.bincount(level, minlength=codebook_size) / level.size
        nz = p[p > 0]
        out.append({"usage": float((p > 0).mean()), "perplexity": float(np.exp(-(nz * np.log(nz)).sum()))})
    return out


def test_clips(preset: str, data_dir=None, limit: int | None = None,
               recipe: str = "speech") -> tuple[list[dict[str, Any]], dict]:
    """The scored clips (all test clips, or ``limit`` of them stratified over speakers) and the record's ``data``."""
    from bench.audio import load
    from bench.data import ensure_built
    from bench.data.manifest import read_manifest

    manifest = Path(ensure_built(recipe, preset, data_dir))
    test = [r for r in read_manifest(manifest) if r.get("split") == "test"]
    rows = stratified(test, limit, "speaker")
    for r in rows:
        r["audio"], _ = load(manifest.parent / r["path"], sr=EVAL_SR, checks=None)
    return rows, data_facts(manifest, rows, describe(len(test), limit))


def data_facts(manifest: Path, clips: list[dict], subset: str) -> dict:
    """The record's ``data``: data build, test-set identity, clips, speakers and how they were chosen."""
    from bench.tasks.score import groups_of
    from bench.tasks.tokens import data_hash

    build = data_hash(manifest)
    groups = groups_of(clips, "speaker")
    return {"build_hash": build, "test_set_hash": test_set_hash(build, [c["id"] for c in clips]),
            "items": len(clips), "speakers": None if groups is None else len(set(groups)), "subset": subset}


def codec_budget(codec) -> dict | None:
    """The record's ``budget`` for a trained-here codec, from its checkpoint: the hash of the resolved config that
    trained it, steps configured and reached, and why it stopped (a ``train.max_minutes`` wall clock, or steps)."""
    from bench.train.checkpoint import load
    from bench.train.config import run_hash

    w = codec.weights()
    if w.origin != "trained-here" or not w.present or not Path(w.detail).is_file():
        return None
    ck = load(w.detail)
    cfg = ck.get("config") or {}
    train = cfg.get("train") or {}
    steps, reached = train.get("steps"), int(ck["step"])
    reason = "steps" if steps is None or reached >= steps else "wall_clock" if train.get("max_minutes") else "stopped"
    return {"hash": run_hash(cfg), "steps": steps, "steps_reached": reached, "stop_reason": reason}


def resynthesize(codec, clips: list[dict], points: list[int]) -> tuple[dict[int, list[np.ndarray]], list, dict]:
    """Encode each clip once at full n_q, decode every prefix; returns audio per n_q, codes, timings."""
    import torch
    from tqdm import tqdm

    from bench.audio import resample

    out: dict[int, list[np.ndarray]] = {k: [] for k in points}
    codes_all, t_enc, t_dec, dur = [], 0.0, 0.0, 0.0
    full = codec.n_codebooks
    if hasattr(codec, "teacher_cache"):
        codec.teacher_cache = False  # encode timings include the semantic teacher
    for c in tqdm(clips, desc=f"{codec.name} resynthesis", leave=False):
        x = c["audio"]
        xin = resample(x, EVAL_SR, codec.sample_rate)
        wav = torch.from_numpy(np.ascontiguousarray(xin))[None, None]
        t0 = time.perf_counter()
        codes = codec.encode(wav, full)
        t_enc += time.perf_counter() - t0
        dur += len(x) / EVAL_SR
        codes_all.append(codes[0].cpu().numpy())
        for k in points:
            t0 = time.perf_counter()
            y = codec.decode(codes[:, :k])[0, 0].float().cpu().numpy()
            if k == full:
                t_dec += time.perf_counter() - t0
            y = resample(y, codec.sample_rate, EVAL_SR)
            y = np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]
            out[k].append(y.astype(np.float32))
    return out, codes_all, {"rtf_encode": t_enc / dur, "rtf_decode": t_dec / dur, "seconds": dur}


def encode_only(codec, clips: list[dict]) -> tuple[list, dict]:
    """An encode-only tokenizer's codes of each clip at full n_q and its encode timing (no decode exists)."""
    import torch
    from tqdm import tqdm

    from bench.audio import resample

    codes_all, t_enc, dur = [], 0.0, 0.0
    for c in tqdm(clips, desc=f"{codec.name} encode", leave=False):
        wav = torch.from_numpy(np.ascontiguousarray(resample(c["audio"], EVAL_SR, codec.sample_rate)))[None, None]
        t0 = time.perf_counter()
        codes = codec.encode(wav, codec.n_codebooks)
        t_enc += time.perf_counter() - t0
        dur += len(c["audio"]) / EVAL_SR
        codes_all.append(codes[0].cpu().numpy())
    return codes_all, {"rtf_encode": t_enc / dur, "rtf_decode": None, "seconds": dur}


def _items(clips, audios):
    from bench.metrics.base import Item

    return [Item(id=c["id"], audio=a, sr=EVAL_SR, ref_audio=c["audio"], ref_text=c.get("text")) for c, a in
            zip(clips, audios, strict=True)]


def _record(common: dict, metric: str, value: float | None, n: int, extra: dict | None = None,
            summary: dict | None = None, **typed) -> dict:
    """One record; ``common`` and ``typed`` carry the typed fields (codec_facts, data, budget, variant)."""
    from bench.results import make_record

    fields = dict(summary) if summary else {"metric": metric, "backend": {"name": "bench.codec_eval"},
                                            "value": value, "n": n, "higher_is_better": None}
    fields["metric"] = metric
    merged = {**fields.pop("extra", {}), **(extra or {})}
    return make_record(**{**common, **typed}, **fields, extra=merged)


def _scores(metric: str, clips: list[dict], audios: list[np.ndarray]) -> dict:
    """Summary and per-item fields of one metric over the clips, speakers as clusters."""
    from bench.metrics import scoring
    from bench.tasks.score import groups_of, summarize_items

    scored = scoring.score_items_detailed(metric, _items(clips, audios))
    return summarize_items(metric, [c["id"] for c in clips], scored, groups_of(clips, "speaker"))


def evaluate_codec(name: str, clips: list[dict], preset: str, codec_preset: str | None = None, data_dir=None,
                   device: str = "cpu", wer: bool = True, data: dict | None = None, asr: str = ASR) -> list[dict]:
    """Every record of one codec over ``clips``; ``data`` is the record's data object (see :func:`test_clips`)."""
    from bench.codecs import get_codec
    from bench.config import config_hash
    from bench.tasks import score
    from bench.tasks.tokens import codec_identity

    codec = get_codec(name, preset=codec_preset or preset, device=device, data_dir=data_dir)
    w = codec.weights()
    points = n_q_points(codec.n_codebooks)
    if codec.decodes:
        audios, codes, timing = resynthesize(codec, clips, points)
    else:  # encode-only: tokens and their statistics; every measure of audio is unavailable, with the reason
        audios, (codes, timing) = {}, encode_only(codec, clips)
    ids = [c["id"] for c in clips]
    common = {"run_id": f"codec-eval-{name}-{preset}-{config_hash([w.source, preset, len(clips)])}",
              "kind": "codec", "task": None, "codec": name, "preset": preset, "config_hash": config_hash(w.source),
              "data": data, "budget": codec_budget(codec)}
    facts = {"weights": w.source, "teacher": w.teacher, "origin": w.origin, "codec_id": codec_identity(codec),
             "frame_rate": float(codec.frame_rate), "codebook_size": int(codec.codebook_size)}
    if data is None:
        common["data"] = {"items": len(clips), "test_set_hash": test_set_hash(None, ids)}
    recs = []
    probe = asr_metrics(asr) if wer else []
    for k in points:
        at_k = {"codec_facts": {**facts, "n_q": k, "kbps": codec.bitrate(k) / 1000}, "variant": {"n_q": k}}
        metrics = list(SIGNAL_METRICS) + (probe if k in (1, codec.n_codebooks) else [])
        for m in metrics:
            if codec.decodes:
                s = _scores(m, clips, audios[k])
            else:  # no audio to score: the record says why
                s = score.unavailable(m, codec.no_decoder(), len(clips))
            recs.append(_record(common, f"{s['metric']}@nq{k}", None, 0, None, s, **at_k))
        recs.append(_record(common, f"kbps@nq{k}", codec.bitrate(k) / 1000, len(clips), None, **at_k))
    full = {"codec_facts": facts}  # diagnostics of the whole codec: no one n_q
    for key in ("rtf_encode", "rtf_decode"):
        extra = {"device": device, "audio_seconds": timing["seconds"]}
        if timing[key] is None:
            extra["unavailable"] = codec.no_decoder()
        recs.append(_record(common, key, timing[key], len(clips) if timing[key] is not None else 0, extra, **full))
    for level, st in enumerate(token_stats(codes, codec.codebook_size), 1):
        for key, v in st.items():
            recs.append(_record(common, f"{key}@level{level}", v, len(clips), {"level": level}, **full))
    return recs


def evaluate_reference(clips: list[dict], preset: str, data: dict | None = None, asr: str = ASR) -> list[dict]:
    s = _scores(asr_metrics(asr)[0], clips, [c["audio"] for c in clips])
    common = {"run_id": f"codec-eval-reference-{preset}", "kind": "reference", "task": None, "codec": "reference",
              "preset": preset, "config_hash": "clean", "data": data}
    return [_record(common, f"{s['metric']}@clean", None, 0, None, s)]


def paired_wer(records: list[dict], metric: str = "wer@nq1") -> list[dict]:
    """Paired bootstrap of ``metric`` between every pair of evaluated codecs on the same utterances: a difference
    of corpus WERs (ratios of summed errors to summed words) where the records carry the counts, by speaker."""
    from bench.report.significance import paired_diff

    by_codec = {r["codec"]: r["per_item"] for r in records if r["metric"] == metric and r.get("per_item")}
    names = sorted(by_codec)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if by_codec[a]["ids"] != by_codec[b]["ids"]:
                raise ValueError(f"{metric}: {a} and {b} scored different clips")
            d = paired_diff(by_codec[a], by_codec[b], n_boot=2000, ratio=True)
            out.append({"metric": metric, "a": a, "b": b, "diff": None if d is None else d.diff,
                        "ci_low": None if d is None else d.ci_low, "ci_high": None if d is None else d.ci_high,
                        "n": 0 if d is None else d.n, "p": None if d is None else d.p_value,
                        "significant": d is not None and d.significant, "higher_is_better": False})
    return out


def write_records(records: list[dict], preset: str, codec: str, results_dir=None) -> Path:
    from bench.atomic import write_text
    from bench.paths import records_file
    from bench.results import validate

    for r in records:
        validate(r)
    path = records_file(preset, "codec", codec, results_dir)
    write_text(path, "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records))
    return path


def evaluate(names: list[str], preset: str, codec_preset: str | None = None, data_dir=None, device: str = "cpu",
             limit: int | None = None, wer: bool = True, results_dir=None, recipe: str = "speech",
             asr: str = ASR) -> list[dict]:
    if wer:
        asr_metrics(asr)  # an unknown backend fails before any data is built or decoded
    clips, data = test_clips(preset, data_dir, limit, recipe)
    allrecs = []
    if wer:
        ref = evaluate_reference(clips, preset, data, asr)
        write_records(ref, preset, "reference", results_dir)
        allrecs += ref
    for name in names:
        recs = evaluate_codec(name, clips, preset, codec_preset, data_dir, device, wer, data, asr)
        write_records(recs, preset, name, results_dir)
        allrecs += recs
    return allrecs


def table_rows(records: list[dict]) -> list[dict[str, Any]]:
    """One row per (codec, n_q): kbps, PESQ, STOI, mel, SI-SDR, WER; RTF and level-1 perplexity per codec."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    per_codec: dict[str, dict[str, float]] = {}
    for r in records:
        m, codec = r["metric"], r["codec"]
        if "@nq" in m:
            base, k = m.split("@nq")
            rows.setdefault((codec, int(k)), {"codec": codec, "n_q": int(k)})[base] = r["value"]
        elif m.startswith("wer@clean"):
            rows[("reference", 0)] = {"codec": "reference (clean)", "n_q": "-", "wer": r["value"]}
        elif m in ("rtf_encode", "rtf_decode") or m == "perplexity@level1":
            per_codec.setdefault(codec, {})[m] = r["value"]
    out = []
    for (codec, _), row in sorted(rows.items(), key=lambda kv: (kv[0][0] != "reference", kv[0])):
        row.update(per_codec.get(codec, {}))
        out.append(row)
    return out


def collapsed(records: list[dict]) -> dict[str, float]:
    """Codec -> level-1 perplexity, for the codecs whose level-1 codebook has collapsed."""
    return {r["codec"]: r["value"] for r in records if r["metric"] == "perplexity@level1"
            and r["value"] is not None and is_collapsed(r["value"])}


def print_comparisons(records: list[dict]) -> None:
    for c in paired_wer(records):
        verdict = "significant" if c["significant"] else "not significant"
        print(f"{c['metric']}: {c['a']} - {c['b']} = {c['diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}] "
              f"(n={c['n']}, {verdict})")
    for codec, ppl in collapsed(records).items():
        print(f"warning: {codec}: level-1 codebook collapsed (perplexity {ppl:.2f} < {COLLAPSED_PERPLEXITY:g}); "
              "its numbers measure a codec that passes almost nothing on")


def print_table(records: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    cols = ["codec", "n_q", "kbps", "pesq", "stoi", "mel", "sisdr", "wer", "dwer", "rtf_encode", "rtf_decode",
            "perplexity@level1"]
    t = Table(title="codec reconstruction (speech test split)")
    for c in cols:
        t.add_column(c)
    for row in table_rows(records):
        t.add_row(*(_fmt(row.get(c)) for c in cols))
    Console(width=max(140, Console().width)).print(t)


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3f}" if math.isfinite(v) else str(v)
    return str(v)
