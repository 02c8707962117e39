"""What other areas call: get a backend, score items (cached on disk), summarize with n and 95% CI.

A summary states how it was made (``scorer``): corpus ratio or mean, item or speaker-cluster bootstrap,
and a one-line signature (sacrebleu style) naming everything that changes the number, so two numbers
are comparable exactly when their signatures match.

Per-item scores are cached in ``<data>/cache/scores/scores.sqlite`` under sha256(backend identity,
item content), so re-scoring the same audio with the same model is free and a killed run resumes
where it stopped (results are committed every chunk). FAD caches per-clip embeddings as .npy files.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from bench.paths import cache_path

from . import METRICS
from .base import BackendUnavailable, Item, MetricBackend
from .stats import bootstrap, fad_bootstrap, paired_bootstrap

_INSTANCES: dict[str, MetricBackend] = {}
_IDENTITIES: dict[str, dict[str, Any]] = {}
CHUNK = 16


def resolve_name(name: str) -> str:
    """``wer`` -> ``wer/faster-whisper-tiny.en`` (the metric's default backend); full names pass through."""
    if "/" in name:
        return name
    from .catalog import DEFAULTS

    if name not in DEFAULTS:
        raise BackendUnavailable(f"unknown metric {name!r}; known: {', '.join(sorted(DEFAULTS))}")
    return f"{name}/{DEFAULTS[name]}"


def get_backend(name: str) -> MetricBackend:
    """The backend instance, created once per process; raises BackendUnavailable (with how-to)."""

    name = resolve_name(name)
    if name not in _INSTANCES:
        cls = METRICS.get(name)
        ok, why = cls.available()
        if not ok:
            raise BackendUnavailable(f"{name}: {why}")
        _INSTANCES[name] = cls()
    return _INSTANCES[name]


def identity(name: str) -> dict[str, Any]:
    name = resolve_name(name)
    if name not in _IDENTITIES:
        _IDENTITIES[name] = get_backend(name).identity()
    return _IDENTITIES[name]


# -- content hashing and the score cache ------------------------------------------------------------
def _key_fields(b: MetricBackend) -> tuple[str, ...]:
    # speaker backends fall back to ref_audio when there is no prompt; ASR backends hear lead_audio and split
    # its words from the item's by lead_text
    return tuple(b.needs) + (("ref_audio",) if b.metric == "spk" else ()) + (
        ("lead_audio", "lead_text") if getattr(b, "hears_lead", False) else ())


# hashed only when set, so the keys of items without one stay as they were
OPTIONAL_KEY_FIELDS = ("lead_audio", "lead_text")


def item_hash(it: Item, fields: Sequence[str]) -> str:
    h = hashlib.sha256()
    h.update(str(int(it.sr)).encode())
    h.update(np.ascontiguousarray(it.audio, dtype=np.float32).tobytes())
    for f in fields:
        v = getattr(it, f)
        if v is None and f in OPTIONAL_KEY_FIELDS:
            continue
        h.update(f"|{f}|".encode())
        if v is None:
            h.update(b"<none>")
        elif isinstance(v, str):
            h.update(v.encode())
        else:
            h.update(np.ascontiguousarray(v, dtype=np.float32).tobytes())
    return h.hexdigest()


def _ident_hash(ident: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def _db(root: Path | None = None) -> sqlite3.Connection:
    p = cache_path("scores", "scores.sqlite", root=root)
    p.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(p), timeout=60)
    con.execute("CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, backend TEXT, value REAL, detail TEXT)")
    return con


def score_items_detailed(name: str, items: list[Item], cache: bool = True,
                         progress: bool = True) -> list[tuple[float | None, dict[str, Any]]]:
    """Per-item (score, details) for an item-level backend, in input order."""
    from tqdm import tqdm

    name = resolve_name(name)
    b = get_backend(name)
    if b.level != "item":
        raise ValueError(f"{name} is a set-level metric: use scoring.fad(...)")
    ih = _ident_hash(identity(name))
    keys = [hashlib.sha256(f"{ih}|{item_hash(it, _key_fields(b))}".encode()).hexdigest() for it in items]
    found: dict[str, tuple[float | None, dict[str, Any]]] = {}
    with closing(_db()) as con:
        if cache:
            for i in range(0, len(keys), 500):
                part = keys[i:i + 500]
                q = f"SELECT key, value, detail FROM scores WHERE key IN ({','.join('?' * len(part))})"
                for k, v, d in con.execute(q, part):
                    det = json.loads(d) if d else {}
                    if all(f in det for f in b.detail_keys):  # else scored before these details existed
                        found[k] = (v, det)
        todo = [i for i, k in enumerate(keys) if k not in found]
        bar = tqdm(total=len(todo), desc=name, disable=not progress or not todo, leave=False)
        for s in range(0, len(todo), CHUNK):
            idx = todo[s:s + CHUNK]
            res = b.score_detailed([items[i] for i in idx])
            rows = []
            for i, (v, d) in zip(idx, res, strict=True):
                v = None if v is None or not np.isfinite(v) else float(v)
                found[keys[i]] = (v, d)
                rows.append((keys[i], name, v, json.dumps(d)))
            if cache:
                con.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)", rows)
                con.commit()
            bar.update(len(idx))
        bar.close()
    return [found[k] for k in keys]


def score_items(name: str, items: list[Item], cache: bool = True, progress: bool = True) -> list[float | None]:
    """Per-item scores (None where undefined), cached on disk by (audio content, backend identity)."""
    return [v for v, _ in score_items_detailed(name, items, cache=cache, progress=progress)]


# -- set-level: FAD ---------------------------------------------------------------------------------
def embeddings(name: str, items: list[Item], cache: bool = True, progress: bool = True) -> list[np.ndarray]:
    """Per-clip frame embeddings of a FAD backend, cached as .npy by (audio content, identity)."""
    from tqdm import tqdm

    from bench.atomic import atomic_path

    name = resolve_name(name)
    b = get_backend(name)
    folder = cache_path("embeddings", name.replace("/", "__"), _ident_hash(identity(name)))
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for it in tqdm(items, desc=f"{name} embed", disable=not progress or len(items) < 8, leave=False):
        p = folder / f"{item_hash(it, ())}.npy"
        if cache and p.is_file():
            out.append(np.load(p))
            continue
        e = np.asarray(b.embed(it.audio, it.sr), dtype=np.float32)  # type: ignore[attr-defined]
        if cache:
            with atomic_path(p) as tmp, open(tmp, "wb") as f:
                np.save(f, e)
        out.append(e)
    return out


def fad(name: str, hyp: list[Item], ref: list[Item], n_boot: int = 100, seed: int = 0) -> dict[str, Any]:
    """FAD of ``hyp`` against ``ref`` with a bootstrap CI over clips; a dict ready for make_record(**...)."""
    name = resolve_name(name)
    b = get_backend(name)
    if b.level != "set":
        raise ValueError(f"{name} is an item-level metric: use score_items")
    value, lo, hi = fad_bootstrap(embeddings(name, hyp), embeddings(name, ref), n_boot=n_boot, seed=seed)
    return {"metric": b.metric, "backend": identity(name), "value": value, "n": len(hyp),
            "ci_low": lo, "ci_high": hi, "higher_is_better": b.higher_is_better}


# -- summaries ---------------------------------------------------------------------------------------
# Per-item detail keys a record keeps as parallel lists (per_item_fields); transcripts included, so a
# reader can recount corpus WER or look at what the ASR heard.
DETAIL_FIELDS = ("hyp", "ref", "num", "den", "sub", "del", "ins", "temperature", "pair", "vad_fallback", "lag0_corr")


def per_item_fields(details: Sequence[dict[str, Any]] | None) -> dict[str, list]:
    """Known detail keys present on every item, as parallel lists: {"num": [...], "den": [...], ...}."""
    if not details:
        return {}
    return {k: [d[k] for d in details] for k in DETAIL_FIELDS if all(k in d for d in details)}


def signature(name: str, aggregate: str, ci: str, n_boot: int, seed: int, context: str | None = None) -> str:
    """One line naming what changes the number: backend, weights, decoding/normalization, what the model heard
    (``context``: e.g. "lead" when an ASR heard each item after its lead audio), aggregation, CI."""
    b = get_backend(name)
    ident = identity(name)
    parts = [f"{b.metric}:{b.backend}", f"model:{str(ident.get('weights_hash') or 'none')[:8]}"]
    parts += [f"{k}:{v}" for k, v in b.signature_parts()]
    if context:
        parts.append(f"ctx:{context}")
    parts += [f"agg:{aggregate}", f"ci:{ci}", f"boot:{n_boot}", f"seed:{seed}"]
    return "|".join(parts)


def _ratio_inputs(values: Sequence[float | None], details: Sequence[dict[str, Any]] | None,
                  ) -> tuple[list[float | None], list[float | None]] | None:
    """(num, den) per item for a corpus ratio, None where the item is undefined; None if details lack them."""
    if details is None or len(details) != len(values) or not all("num" in d and "den" in d for d in details):
        return None
    num = [None if v is None else float(d["num"]) for v, d in zip(values, details, strict=True)]
    den = [None if v is None else float(d["den"]) for v, d in zip(values, details, strict=True)]
    return num, den


def summarize(name: str, values: Sequence[float | None], details: Sequence[dict[str, Any]] | None = None,
              groups: Sequence[Any] | None = None, n_boot: int = 1000, seed: int = 0,
              strict: bool = False) -> dict[str, Any]:
    """Value with n and seeded 95% bootstrap CI: ``make_record(**summarize(...), run_id=..., ...)``.

    Ratio backends (WER, CER, dWER) given their details report the corpus figure sum(num) / sum(den);
    otherwise the mean of item values. ``groups`` (speaker per item) with >= 2 distinct labels makes the
    CI a two-stage cluster bootstrap: utterances of one speaker are not independent evidence.
    None marks an item where the metric is undefined (e.g. PESQ finds no speech); it is left out and
    ``n`` counts the defined values. ``strict=True`` makes the whole value None instead.
    """
    name = resolve_name(name)
    b = get_backend(name)
    if groups is not None and len(groups) != len(values):
        raise ValueError(f"summarize {name}: {len(values)} values but {len(groups)} group labels")
    ratio = _ratio_inputs(values, details) if b.aggregate == "ratio" else None
    est, lo, hi = bootstrap(*(ratio or (values, None)), groups=groups, n_boot=n_boot, seed=seed)
    missing = sum(v is None for v in values)
    if missing and strict:
        est = lo = hi = None
    kept = [g for g, v in zip(groups, values, strict=True) if v is not None] if groups is not None else None
    clusters = len(set(kept)) if kept is not None else None
    aggregate = "corpus" if ratio else "mean"
    ci = "cluster-bootstrap" if clusters is not None and clusters >= 2 else "item-bootstrap"
    contexts = {d.get("context") for d in details or []}
    if len(contexts) > 1:
        raise ValueError(f"summarize {name}: items heard in different contexts ({sorted(map(str, contexts))}); "
                         "their scores are not one number")
    context = next(iter(contexts), None)
    scorer = {"aggregate": aggregate, "ci": ci, "n_boot": n_boot, "seed": seed, "items": len(values) - missing,
              "clusters": clusters, "signature": signature(name, aggregate, ci, n_boot, seed, context)}
    return {"metric": b.metric, "backend": identity(name), "value": est, "n": len(values) - missing,
            "ci_low": lo, "ci_high": hi, "higher_is_better": b.higher_is_better, "scorer": scorer}


def compare(name: str, a: Sequence[float | None], b: Sequence[float | None], n_boot: int = 1000,
            seed: int = 0) -> dict[str, Any]:
    """Paired difference mean(a - b) on the same utterances, with its 95% CI and whether it excludes 0."""

    d, lo, hi = paired_bootstrap(a, b, n_boot=n_boot, seed=seed)
    cls = METRICS.get(resolve_name(name))
    n = sum(x is not None and y is not None for x, y in zip(a, b, strict=True))
    sig = lo is not None and hi is not None and (lo > 0 or hi < 0)
    return {"metric": cls.metric, "diff": d, "ci_low": lo, "ci_high": hi, "n": n, "significant": bool(sig),
            "higher_is_better": cls.higher_is_better}
