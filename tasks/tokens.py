"""Token cache: a recipe encoded once per codec into compact integer arrays the LM trainers read.

Layout (under ``data/tokens/<codec>/<codec-id>/<recipe>-<preset>-<datahash>/``):
``<split>.npy`` int16 [n_q, total_frames] (every clip of the split, concatenated along time) and
``index.json`` (codec figures + per clip: split, offset, frames). ``codec-id`` hashes the codec's
weights identity (checkpoint content for trained-here codecs), ``datahash`` the manifest bytes, so a
retrained codec or a rebuilt dataset never reuses stale tokens. Encoding is batched (clips sorted by
length, padded per batch) and resumable: finished chunks land in ``parts/`` and are skipped on rerun;
``index.json`` is written last, so its presence means the cache is complete. One writer per cache: a
second tokenizer of the same cache waits on its ``.tokenize.lock`` (saying for whom), then reads it.
Every file is written atomically; the temp files of a writer killed mid-write are removed by the next.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import paths
from bench.atomic import atomic_path, clean_temps, write_json
from bench.locks import exclusive

STORE_N_Q = 8  # codebooks kept per codec (RVQ prefix: the first 8 at full rate are the 8-codebook codes)
CHUNK_BATCHES = 8  # batches per resumable part file
FORMAT = 1


def file_sha(path: Path, n: int = 16) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:n]


def weights_digest(path: Path) -> str:
    """Content hash of a weights file. A bench checkpoint (``ckpt.pt``) hashes what it holds (config, teacher,
    generator tensors), not its bytes: torch's zip container names its records after the file it was saved to
    (a random temp name here) and the export records the training manifest's path, so two bit-identical
    trainings in two data dirs would otherwise get two identities (issue #18's repro). Other files: bytes."""
    if path.suffix == ".pt":
        import torch

        from bench.train.checkpoint import FORMAT as CKPT_FORMAT

        obj = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(obj, dict) and obj.get("format") == CKPT_FORMAT:
            h = hashlib.sha256(json.dumps([obj["family"], obj["config"], obj.get("teacher")], sort_keys=True,
                                          default=str).encode())
            for k, v in sorted(obj["generator"].items()):
                t = v.detach().contiguous().cpu()
                h.update(f"{k}|{t.dtype}|{tuple(t.shape)}".encode())
                h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
            return h.hexdigest()[:16]
    return file_sha(path)


def codec_identity(codec) -> str:
    """Hash of what determines a codec's tokens: its name, weight source and weights' content."""
    w = codec.weights()
    parts = [codec.name, w.origin, w.source, str(codec.n_codebooks), str(codec.codebook_size), str(codec.frame_rate)]
    for cand in (codec.weights_path, Path(w.detail) if w.detail else None):
        if cand is not None and Path(cand).is_file():
            parts.append(weights_digest(Path(cand)))
            break
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def data_hash(manifest: Path) -> str:
    return file_sha(Path(manifest), 12)


@dataclass
class TokenCache:
    dir: Path
    meta: dict
    index: dict[str, tuple[str, int, int]]  # id -> (split, offset, frames)

    @classmethod
    def open(cls, d: Path) -> TokenCache:
        raw = json.loads((Path(d) / "index.json").read_text())
        index = {i["id"]: (i["split"], i["offset"], i["frames"]) for i in raw["items"]}
        return cls(Path(d), raw["meta"], index)

    def __post_init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def _array(self, split: str) -> np.ndarray:
        if split not in self._arrays:
            self._arrays[split] = np.load(self.dir / f"{split}.npy", mmap_mode="r")
        return self._arrays[split]

    def codes(self, item_id: str, n_q: int | None = None) -> np.ndarray:
        """[n_q, frames] int64 codes of one clip."""
        split, off, n = self.index[item_id]
        a = self._array(split)
        return np.asarray(a[: n_q or a.shape[0], off : off + n], dtype=np.int64)

    def level1_perplexity(self) -> float:
        """Perplexity of the level-1 codes over every cached frame (all splits)."""
        from bench.codec_eval import token_stats

        rows = [self._array(s)[:1] for s in sorted({v[0] for v in self.index.values()})]
        return token_stats([np.asarray(r, dtype=np.int64) for r in rows], int(self.meta["codebook_size"]))[0][
            "perplexity"]

    @property
    def frame_rate(self) -> float:
        return float(self.meta["frame_rate"])

    @property
    def n_q(self) -> int:
        return int(self.meta["n_q"])


def cache_dir(codec_name: str, codec_id: str, recipe: str, preset: str, dhash: str, data_dir=None) -> Path:
    return paths.token_dir(codec_name, codec_id, recipe, preset, dhash, data_dir)


def tokenize_manifest(
    codec, manifest: Path, recipe: str, preset: str, data_dir=None, batch_size: int = 8, log=print
) -> TokenCache:
    """Encode every clip of ``manifest`` with ``codec`` (resumable); return the opened cache."""
    manifest = Path(manifest)
    d = cache_dir(codec.name, codec_identity(codec), recipe, preset, data_hash(manifest), data_dir)
    if (d / "index.json").is_file() and (not (d / "parts").exists() or not os.access(d, os.W_OK)):
        log(f"tokens: cached {d}")
        return _checked(TokenCache.open(d), log)
    # One writer per cache: a second tokenizer of the same cache waits here, then finds it complete.
    with exclusive(d / LOCK, f"tokens: {codec.name} {recipe}/{preset}", log):
        clean_temps(d, recursive=True)  # what a writer killed mid-write left (we hold the lock: no live writer)
        if (d / "index.json").is_file():
            log(f"tokens: cached {d}" + (" (removing parts/ a killed writer left)" if (d / "parts").exists()
                                         else " (made while waiting)"))
            _drop_parts(d)  # a writer killed after index.json, while it removed its parts
        else:
            _encode(codec, manifest, d, recipe, preset, batch_size, log)
    return _checked(TokenCache.open(d), log)


LOCK = ".tokenize.lock"  # in the cache folder, with its ``.owner`` while held


def _encode(codec, manifest: Path, d: Path, recipe: str, preset: str, batch_size: int, log) -> None:
    import torch
    from tqdm import tqdm

    from bench.audio import load
    from bench.data.manifest import audio_path, read_manifest

    rows = read_manifest(manifest)
    n_q = min(STORE_N_Q, codec.n_codebooks)
    dtype = np.int16 if codec.codebook_size <= np.iinfo(np.int16).max else np.int32
    log(f"tokens: encoding {len(rows)} clips of {recipe}/{preset} with {codec.name} ({n_q} codebooks) -> {d}")
    (d / "parts").mkdir(parents=True, exist_ok=True)
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["duration"], rows[i]["id"]))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    chunks = [batches[i : i + CHUNK_BATCHES] for i in range(0, len(batches), CHUNK_BATCHES)]
    sr, fr = codec.sample_rate, codec.frame_rate
    bar = tqdm(total=len(rows), desc=f"tokenize {codec.name}", unit="clip")
    # a part's name says how it was chunked: a rerun with another batch size never mixes in the old parts
    parts = [d / "parts" / f"b{batch_size}x{CHUNK_BATCHES}-{ci:05d}.npz" for ci in range(len(chunks))]
    for part, chunk in zip(parts, chunks, strict=True):
        if part.is_file():
            bar.update(sum(len(b) for b in chunk))
            continue
        ids, codes_out = [], []
        for b in chunk:
            wavs = [load(audio_path(manifest, rows[i]), sr=sr, checks=None)[0] for i in b]
            t = max(len(w) for w in wavs)
            x = torch.zeros(len(wavs), 1, t)
            for j, w in enumerate(wavs):
                x[j, 0, : len(w)] = torch.from_numpy(w)
            with torch.no_grad():
                c = codec.encode(x, n_q=n_q).cpu().numpy()
            for j, i in enumerate(b):
                frames = min(c.shape[-1], max(1, math.ceil(len(wavs[j]) * fr / sr)))
                ids.append(rows[i]["id"])
                codes_out.append(c[j, :, :frames].astype(dtype))
            bar.update(len(b))
        lens = np.array([c.shape[1] for c in codes_out])
        with atomic_path(part) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, ids=np.array(ids), lens=lens, codes=np.concatenate(codes_out, axis=1))
    bar.close()
    _assemble(d, rows, codec, n_q, dtype, manifest, recipe, preset, parts)


def _checked(cache: TokenCache, log) -> TokenCache:
    """Say so before an LM is trained on the tokens of a codec whose level-1 codebook collapsed."""
    from bench.codec_eval import COLLAPSED_PERPLEXITY, is_collapsed

    ppl = cache.level1_perplexity()
    if is_collapsed(ppl):
        log(f"warning: {cache.meta['codec']} tokens: level-1 perplexity {ppl:.2f} < {COLLAPSED_PERPLEXITY:g} "
            "(collapsed codebook): an LM over them has almost nothing to learn")
    return cache


def _assemble(d: Path, rows: list[dict], codec, n_q: int, dtype, manifest: Path, recipe: str, preset: str,
              parts: list[Path]) -> None:
    """Join the part files into one array per split plus the index (written last)."""
    by_id: dict[str, np.ndarray] = {}
    for part in parts:
        z = np.load(part)
        offs = np.concatenate([[0], np.cumsum(z["lens"])])
        for k, i in enumerate(z["ids"]):
            by_id[str(i)] = z["codes"][:, offs[k] : offs[k + 1]]
    items = []
    for split in sorted({r["split"] for r in rows}):
        arrs, off = [], 0
        for r in sorted((r for r in rows if r["split"] == split), key=lambda r: r["id"]):
            c = by_id[r["id"]]
            items.append({"id": r["id"], "split": split, "offset": off, "frames": int(c.shape[1])})
            arrs.append(c)
            off += c.shape[1]
        with atomic_path(d / f"{split}.npy") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, np.concatenate(arrs, axis=1).astype(dtype))
    meta = {"format": FORMAT, "codec": codec.name, "codec_id": codec_identity(codec), "weights": codec.weights().source,
            "sample_rate": codec.sample_rate, "frame_rate": codec.frame_rate, "n_q": n_q,
            "codebook_size": codec.codebook_size, "recipe": recipe, "preset": preset,
            "manifest": str(manifest), "data_hash": data_hash(manifest)}
    write_json(d / "index.json", {"meta": meta, "items": items})  # the completion mark: last
    _drop_parts(d)


def _drop_parts(d: Path) -> None:
    if (d / "parts").is_dir():
        shutil.rmtree(d / "parts")


def tokenize(
    codec_name: str, recipe: str, preset: str, codec_preset: str | None = None, data_dir=None, device: str = "cpu",
    batch_size: int = 8, log=print,
) -> TokenCache:
    """``bench tokenize``: build the data if missing, load the codec, encode (or reuse) the cache."""
    from bench.codecs import CODECS
    from bench.data import ensure_built
    from bench.tasks.codec_setup import load_codec

    CODECS.meta(codec_name)  # an unknown name fails (did you mean ...?) before any data is built
    manifest = ensure_built(recipe, preset, data_dir=data_dir)
    codec = load_codec(codec_name, codec_preset or preset, device=device, data_dir=data_dir, log=log)
    return tokenize_manifest(codec, manifest, recipe, preset, data_dir=data_dir, batch_size=batch_size, log=log)
