"""Codec reconstruction evaluation (``bench eval-codec``) on the speech recipe's test split.

Per codec and per n_q (the published 1, 2, 3, 4, 8 up to the codec's count, plus the full count):
PESQ-wb, STOI, log-mel L1, SI-SDR, bitrate; WER of the offline ASR on the resynthesis at n_q = 1 and
at full n_q (the paper's point: the first codebook should carry the words), with the clean
reference's WER beside it; encode and decode real-time factors; codebook usage and perplexity per
level. Every number goes through ``bench.metrics.scoring`` and lands as schema-v1 records in
``results/records/<preset>/codec__<name>.jsonl`` (replaced atomically per run).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

SIGNAL_METRICS = ("pesq/pesq-wb", "stoi/pystoi", "mel/logmel-l1", "sisdr/closed-form")
WER_METRIC = "wer/faster-whisper-tiny.en"
PUBLISHED_N_Q = (1, 2, 3, 4, 8)
EVAL_SR = 16000  # the speech recipe's rate; PESQ-wb is defined at 16 kHz
# Level-1 codes carrying under 2 bits per frame (perplexity < 4): the codec passes almost nothing on, so
# its downstream numbers measure a collapsed codebook (the leaderboard and this command say so).
COLLAPSED_PERPLEXITY = 4.0


def is_collapsed(perplexity: float) -> bool:
    """The one collapse rule (eval-codec's warning, the token stage's warning, the leaderboard's flag)."""
    return perplexity < COLLAPSED_PERPLEXITY


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


def test_clips(preset: str, data_dir=None, limit: int | None = None) -> list[dict[str, Any]]:
    from bench.audio import load
    from bench.data import ensure_built
    from bench.data.manifest import read_manifest

    manifest = Path(ensure_built("speech", preset, data_dir))
    rows = [r for r in read_manifest(manifest) if r.get("split") == "test"][: limit or None]
    for r in rows:
        r["audio"], _ = load(manifest.parent / r["path"], sr=EVAL_SR, checks=None)
    return rows


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


def _items(clips, audios):
    from bench.metrics.base import Item

    return [Item(id=c["id"], audio=a, sr=EVAL_SR, ref_audio=c["audio"], ref_text=c.get("text")) for c, a in
            zip(clips, audios, strict=True)]


def _record(common: dict, metric: str, value: float | None, n: int, extra: dict | None = None,
            summary: dict | None = None) -> dict:
    from bench.results import make_record

    fields = dict(summary) if summary else {"metric": metric, "backend": {"name": "bench.codec_eval"},
                                            "value": value, "n": n, "higher_is_better": None}
    fields["metric"] = metric
    return make_record(**common, **fields, extra=extra or {})


def evaluate_codec(name: str, clips: list[dict], preset: str, codec_preset: str | None = None, data_dir=None,
                   device: str = "cpu", wer: bool = True) -> list[dict]:
    import bench.registry_builtin  # noqa: F401
    from bench.codecs import get_codec
    from bench.config import config_hash
    from bench.metrics import scoring

    codec = get_codec(name, preset=codec_preset or preset, device=device, data_dir=data_dir)
    w = codec.weights()
    points = n_q_points(codec.n_codebooks)
    audios, codes, timing = resynthesize(codec, clips, points)
    common = {"run_id": f"codec-eval-{name}-{preset}-{config_hash([w.source, preset, len(clips)])}",
              "kind": "codec", "task": None, "codec": name, "preset": preset, "config_hash": config_hash(w.source)}
    base_extra = {"weights": w.source, "teacher": w.teacher, "origin": w.origin, "clips": len(clips)}
    recs = []
    for k in points:
        extra = {**base_extra, "n_q": k, "kbps": codec.bitrate(k) / 1000}
        items = _items(clips, audios[k])
        metrics = list(SIGNAL_METRICS) + ([WER_METRIC] if wer and k in (1, codec.n_codebooks) else [])
        for m in metrics:
            vals = scoring.score_items(m, items)
            s = scoring.summarize(m, vals)
            per_item = {"per_item": {"ids": [c["id"] for c in clips], "values": vals}}
            recs.append(_record(common, f"{s['metric']}@nq{k}", None, 0, {**extra, **per_item}, s))
        recs.append(_record(common, f"kbps@nq{k}", codec.bitrate(k) / 1000, len(clips), extra))
    for key in ("rtf_encode", "rtf_decode"):
        recs.append(_record(common, key, timing[key], len(clips), {**base_extra, "device": device,
                                                                   "audio_seconds": timing["seconds"]}))
    for level, st in enumerate(token_stats(codes, codec.codebook_size), 1):
        for key, v in st.items():
            recs.append(_record(common, f"{key}@level{level}", v, len(clips), {**base_extra, "level": level}))
    return recs


def evaluate_reference(clips: list[dict], preset: str) -> list[dict]:
    from bench.metrics import scoring

    items = _items(clips, [c["audio"] for c in clips])
    vals = scoring.score_items(WER_METRIC, items)
    s = scoring.summarize(WER_METRIC, vals)
    common = {"run_id": f"codec-eval-reference-{preset}", "kind": "reference", "task": None, "codec": "reference",
              "preset": preset, "config_hash": "clean"}
    extra = {"clips": len(clips), "per_item": {"ids": [c["id"] for c in clips], "values": vals}}
    return [_record(common, f"{s['metric']}@clean", None, 0, extra, s)]


def paired_wer(records: list[dict], metric: str = "wer@nq1") -> list[dict]:
    """Paired bootstrap of ``metric`` between every pair of evaluated codecs (same utterances)."""
    import bench.registry_builtin  # noqa: F401 - registers the metric catalogue
    from bench.metrics import scoring

    by_codec = {r["codec"]: r["extra"]["per_item"]["values"] for r in records
                if r["metric"] == metric and "per_item" in r.get("extra", {})}
    names = sorted(by_codec)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            c = scoring.compare(WER_METRIC, by_codec[a], by_codec[b])
            out.append({**c, "a": a, "b": b, "metric": metric})
    return out


def write_records(records: list[dict], preset: str, codec: str, results_dir=None) -> Path:
    from bench.atomic import write_text
    from bench.paths import results_root
    from bench.results import validate

    for r in records:
        validate(r)
    path = results_root(results_dir) / "records" / preset / f"codec__{codec}.jsonl"
    write_text(path, "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records))
    return path


def evaluate(names: list[str], preset: str, codec_preset: str | None = None, data_dir=None, device: str = "cpu",
             limit: int | None = None, wer: bool = True, results_dir=None) -> list[dict]:
    clips = test_clips(preset, data_dir, limit)
    allrecs = []
    if wer:
        ref = evaluate_reference(clips, preset)
        write_records(ref, preset, "reference", results_dir)
        allrecs += ref
    for name in names:
        recs = evaluate_codec(name, clips, preset, codec_preset, data_dir, device, wer)
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

    cols = ["codec", "n_q", "kbps", "pesq", "stoi", "mel", "sisdr", "wer", "rtf_encode", "rtf_decode",
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
