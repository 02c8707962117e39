"""``bench metrics validate``: what the offline scorers say about clean speech, and what each costs here.

Validation: on a recipe's clean clips of one split, each WER backend's corpus WER (overall, with its CI,
and per voice: the floor every TTS row sits on), the four DNSMOS figures of the clean audio, and
resemblyzer's speaker EER over the split's voices (whether the speaker metric tells these voices apart at
all). Speed (``--speed``): seconds of compute per second of audio for each offline backend on this
machine's CPU, one thread, model load excluded and reported apart.

Both run on one thread (torch and ONNX/CTranslate2 via ``OMP_NUM_THREADS``), so the figures do not
depend on how many cores a machine has. Per-voice intelligibility of a recipe's voices (the other
question the scorers answer about clean data) is ``bench data check``.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

DNSMOS = ("mos/dnsmos-ovrl", "mos/dnsmos-sig", "mos/dnsmos-bak", "mos/dnsmos-p808")
SLOW = {"wer/openai-whisper-tiny.en": 3}  # clips timed for backends too slow for the full set on 2 cores


def one_thread() -> None:
    """One compute thread for every backend (set before any of them loads)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def clean_items(recipe: str, preset: str, split: str, data_dir=None) -> tuple[Path, list]:
    """(manifest, items): the split's clean clips at 16 kHz with their text and speaker; builds the recipe if
    needed. A split with no clips is an error naming the manifest."""
    from bench.audio import load
    from bench.data import ensure_built
    from bench.data.manifest import audio_path, read_manifest
    from bench.metrics.base import Item

    manifest = ensure_built(recipe, preset, data_dir=data_dir)
    rows = [r for r in read_manifest(manifest) if r["split"] == split]
    if not rows:
        raise ValueError(f"{manifest}: no clips in split {split!r}")
    items = []
    for r in rows:
        x, sr = load(audio_path(manifest, r), sr=16000)
        items.append(Item(r["id"], x, sr, ref_text=r.get("text"), meta={"speaker": r.get("speaker") or r["id"]}))
    return manifest, items


def by_voice(items: Sequence, values: Sequence) -> dict[str, dict]:
    """Mean and seeded bootstrap CI of per-clip values, per speaker."""
    from bench.metrics.stats import bootstrap_ci

    groups: dict[str, list] = defaultdict(list)
    for it, v in zip(items, values, strict=True):
        groups[it.meta["speaker"]].append(v)
    out = {}
    for spk, vals in sorted(groups.items()):
        m, lo, hi = bootstrap_ci(vals)
        out[spk] = {"value": m, "n": len(vals), "ci_low": lo, "ci_high": hi}
    return out


def speaker_eer(items: Sequence, embed: Callable[[np.ndarray, int], np.ndarray]) -> dict[str, Any]:
    """EER of cosine similarity over every pair of clips (same speaker vs different), and both means."""
    from bench.metrics.stats import eer

    if len({it.meta["speaker"] for it in items}) < 2:
        raise ValueError("speaker EER needs clips of at least two voices")
    embs = [embed(it.audio, it.sr) for it in items]
    same, diff = [], []
    for i, j in itertools.combinations(range(len(items)), 2):
        c = float(np.dot(embs[i], embs[j]) / (np.linalg.norm(embs[i]) * np.linalg.norm(embs[j])))
        (same if items[i].meta["speaker"] == items[j].meta["speaker"] else diff).append(c)
    e, thr = eer(same, diff)
    return {"eer": e, "threshold": thr, "voices": sorted({it.meta["speaker"] for it in items}),
            "n_same_pairs": len(same), "n_diff_pairs": len(diff), "mean_same": float(np.mean(same)) if same else None,
            "mean_diff": float(np.mean(diff))}


def validate(recipe: str, preset: str, split: str, asr: Sequence[str], data_dir=None, log=print) -> dict:
    """The validation document (see the module docstring)."""
    from bench.metrics import scoring
    from bench.results import git_sha, hardware, now

    t0 = time.time()
    manifest, items = clean_items(recipe, preset, split, data_dir)
    res: dict[str, Any] = {"recipe": recipe, "preset": preset, "split": split, "manifest": str(manifest),
                           "n_clips": len(items), "audio_seconds": round(sum(len(i.audio) / i.sr for i in items), 2),
                           "threads": 1, "git_sha": git_sha(), "hardware": hardware(), "time": now(),
                           "asr": {}, "mos": {}, "speaker": {}}
    for name in asr:
        t = time.time()
        det = scoring.score_items_detailed(name, items)
        vals = [v for v, _ in det]
        pairs = list(zip(items, det, strict=True))[:: max(1, len(items) // 6)]
        res["asr"][name] = {**scoring.summarize(name, vals), "by_voice": by_voice(items, vals),
                            "examples": [{"id": it.id, "ref": it.ref_text, "hyp": d["hyp"], "wer": v}
                                         for it, (v, d) in pairs],
                            "wall_s": round(time.time() - t, 1)}
        r = res["asr"][name]
        log(f"{name}: WER {r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] n={r['n']}")
    for name in DNSMOS:
        t = time.time()
        vals = scoring.score_items(name, items)
        res["mos"][name] = {**scoring.summarize(name, vals), "by_voice": by_voice(items, vals),
                            "wall_s": round(time.time() - t, 1)}
        r = res["mos"][name]
        log(f"{name}: {r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]")
    t = time.time()
    spk = scoring.get_backend("spk/resemblyzer")
    res["speaker"]["spk/resemblyzer"] = {"backend": scoring.identity("spk/resemblyzer"),
                                         **speaker_eer(items, spk.embed),  # type: ignore[attr-defined]
                                         "wall_s": round(time.time() - t, 1)}
    r = res["speaker"]["spk/resemblyzer"]
    log(f"spk/resemblyzer: EER {r['eer']:.3f} (same {r['mean_same']:.3f} vs different {r['mean_diff']:.3f})")
    res["wall_s"] = round(time.time() - t0, 1)
    return res


def _clear_memos() -> None:
    """WER/CER share transcripts and the DNSMOS backends one model pass per clip: time each backend alone."""
    from bench.metrics import asr, mos

    asr._TRANSCRIPTS.clear()
    mos._dnsmos_clip.cache_clear()


def speed(recipe: str, preset: str, n: int, only: Sequence[str] = (), data_dir=None, log=print) -> dict:
    """Seconds of compute per second of audio for each offline backend (or ``only`` these), on the first ``n``
    test clips after one warm-up clip, the disk cache off. Each backend gets what it needs: the clean clip as
    reference and prompt (reversed), a slightly noisy copy as the hypothesis."""
    from bench.metrics import METRICS, scoring
    from bench.results import git_sha, hardware, now

    _, items = clean_items(recipe, preset, "test", data_dir)
    items = items[: n + 1]
    rng = np.random.default_rng(0)
    for it in items:
        it.ref_audio = it.audio
        it.prompt_audio = it.audio[::-1].copy()
        it.audio = (it.audio + 0.01 * rng.standard_normal(len(it.audio))).astype(np.float32)
    names = list(only) or [m for m in METRICS.names() if METRICS.get(m).tier == "offline"]
    rows: dict[str, dict] = {}
    for name in names:
        ok, why = METRICS.get(name).available()
        if not ok:
            rows[name] = {"available": False, "why": why}
            log(f"{name:32s} unavailable: {why}")
            continue
        warm, timed = items[:1], items[1: 1 + SLOW.get(name, n)]
        b = scoring.get_backend(name)
        t = time.perf_counter()
        if b.level == "set":
            b.embed(warm[0].audio, warm[0].sr)  # type: ignore[attr-defined]
        else:
            b.score(warm)
        load_s = time.perf_counter() - t
        _clear_memos()
        t = time.perf_counter()
        if b.level == "set":
            for it in timed:
                b.embed(it.audio, it.sr)  # type: ignore[attr-defined]
        else:
            b.score(timed)
        dt = time.perf_counter() - t
        audio_s = sum(len(it.audio) / it.sr for it in timed)
        rows[name] = {"available": True, "sec_per_audio_sec": round(dt / audio_s, 4), "n_clips": len(timed),
                      "audio_seconds": round(audio_s, 2), "wall_s": round(dt, 2),
                      "first_clip_s_incl_load": round(load_s, 2), "backend": scoring.identity(name)}
        log(f"{name:32s} {dt / audio_s:8.4f} s/s  ({len(timed)} clips, {audio_s:.1f} s audio)")
    return {"recipe": recipe, "preset": preset, "threads": 1, "git_sha": git_sha(), "hardware": hardware(),
            "time": now(), "backends": rows}
