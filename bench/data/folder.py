"""Recipe ``folder``: real corpora plug in the same way as the synthetic ones.

Layouts (``layout:``):

* ``librispeech``: ``<root>/<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac`` + ``*.trans.txt``
* ``libritts``: ``<root>/<subset>/<spk>/<chapter>/<id>.wav`` + ``<id>.normalized.txt``
  (subset ``train-*`` -> train, ``dev-*`` -> valid, ``test-*`` -> test; test clips get same-speaker prompts)
* ``csv``: a folder of audio plus CSV files with a file column and a caption column (AudioCaps-like:
  ``train.csv``/``val.csv``/``test.csv`` give the split; MusicCaps-like: one CSV, ``is_audioset_eval``
  marks test; otherwise a ``split`` column, else a seeded split by file)
* ``jsonl``: any JSONL manifest with at least ``path`` per line (relative to the manifest or absolute)

Audio is decoded by ``bench.audio.load``, resampled to ``sr`` and stored as FLAC beside the manifest.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from bench.data.builder import ClipSpec
from bench.data.manifest import OPTIONAL_STR, SPLITS, ManifestError, parse_json_line
from bench.data.recipe import Plan

AUDIO_EXT = (".wav", ".flac", ".ogg", ".mp3")
FILE_COLS = ("file", "path", "filename", "file_name", "audio", "audiocap_id", "ytid", "youtube_id")
TEXT_COLS = ("caption", "text", "description")
SUBSET_SPLIT = {"train": "train", "dev": "valid", "val": "valid", "valid": "valid", "test": "test"}


@dataclass(frozen=True)
class FolderConfig:
    root: str | None = None  # the corpus folder (or the .jsonl file for layout jsonl)
    layout: str = "librispeech"  # librispeech | libritts | csv | jsonl
    sr: int = 16000
    seed: int = 0
    valid_fraction: float = 0.05  # only where the corpus carries no split
    test_fraction: float = 0.05
    max_clips: int | None = None  # a quick subset (first N by id)
    licence: str | None = None


def _seeded_split(group: str, cfg: FolderConfig) -> str:
    u = int(hashlib.sha256(f"{cfg.seed}:{group}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if u < cfg.test_fraction else "valid" if u < cfg.test_fraction + cfg.valid_fraction else "train"


def _subset_split(subset: str, where: Path) -> str:
    head = subset.split("-")[0].lower()
    if head not in SUBSET_SPLIT:
        raise ManifestError(f"{where}: subset folder {subset!r} is not train-*, dev-* or test-*")
    return SUBSET_SPLIT[head]


def _libri(root: Path, tts: bool) -> list[dict]:
    rows = []
    for subset in sorted(p for p in root.iterdir() if p.is_dir()):
        split = _subset_split(subset.name, subset)
        if tts:
            for txt in sorted(subset.glob("*/*/*.normalized.txt")):
                utt = txt.name[: -len(".normalized.txt")]
                wav = txt.with_name(utt + ".wav")
                if wav.is_file():
                    rows.append({"id": utt, "src": wav, "text": txt.read_text(encoding="utf-8").strip(),
                                 "speaker": utt.split("_")[0], "split": split})
            continue
        for trans in sorted(subset.glob("*/*/*.trans.txt")):
            for lineno, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                parts = line.split(" ", 1)
                if len(parts) != 2 or not parts[1].strip():
                    raise ManifestError(f"{trans}:{lineno}: expected 'UTTERANCE-ID TRANSCRIPT', got {line!r}")
                utt, text = parts
                audio = next((trans.parent / (utt + e) for e in AUDIO_EXT if (trans.parent / (utt + e)).is_file()),
                             None)
                if audio is None:
                    raise ManifestError(f"{trans}:{lineno}: no audio file for {utt!r} in {trans.parent}")
                rows.append({"id": utt, "src": audio, "text": text.strip(), "speaker": utt.split("-")[0],
                             "split": split})
    if not rows:
        raise ManifestError(f"{root}: no {'LibriTTS' if tts else 'LibriSpeech'} utterances found "
                            "(expected <root>/<subset>/<speaker>/<chapter>/...)")
    return rows


def _find_audio(root: Path, name: str) -> Path | None:
    p = root / name
    if p.suffix.lower() in AUDIO_EXT and p.is_file():
        return p
    for e in AUDIO_EXT:
        for cand in (root / (name + e), root / "audio" / (name + e)):
            if cand.is_file():
                return cand
    return None


def _csv(root: Path, cfg: FolderConfig) -> list[dict]:
    files = sorted(root.glob("*.csv"))
    if not files:
        raise ManifestError(f"{root}: no CSV files (layout csv expects audio + a CSV with file and caption columns)")
    rows = []
    for f in files:
        with open(f, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = [c.strip() for c in (reader.fieldnames or [])]
            fcol = next((c for c in FILE_COLS if c in cols), None)
            tcol = next((c for c in TEXT_COLS if c in cols), None)
            if fcol is None or tcol is None:
                raise ManifestError(f"{f}:1: header needs a file column ({'/'.join(FILE_COLS)}) and a caption "
                                    f"column ({'/'.join(TEXT_COLS)}); got {cols}")
            file_split = SUBSET_SPLIT.get(f.stem.lower())
            for lineno, rec in enumerate(reader, start=2):
                name, cap = (rec.get(fcol) or "").strip(), (rec.get(tcol) or "").strip()
                if not name or not cap:
                    raise ManifestError(f"{f}:{lineno}: empty {fcol!r} or {tcol!r}")
                audio = _find_audio(root, name)
                if audio is None:
                    continue  # AudioCaps/MusicCaps folders routinely miss clips that are gone from YouTube
                if "split" in rec and rec["split"]:
                    split = SUBSET_SPLIT.get(rec["split"].strip().lower())
                    if split is None:
                        raise ManifestError(f"{f}:{lineno}: split {rec['split']!r} is not train/valid/test")
                elif "is_audioset_eval" in rec:
                    split = "test" if rec["is_audioset_eval"].strip().lower() in ("true", "1") else "train"
                else:
                    split = file_split or _seeded_split(audio.stem, cfg)
                cid = Path(name).stem
                if "start_s" in rec or "start_time" in rec:
                    cid = f"{cid}-{rec.get('start_s') or rec.get('start_time')}"
                rows.append({"id": cid, "src": audio, "caption": cap, "split": split, "source": audio.name})
    return rows


def _jsonl(path: Path, cfg: FolderConfig) -> list[dict]:
    if not path.is_file():
        raise ManifestError(f"{path}: no such JSONL manifest")
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        rec = parse_json_line(line, where)
        if not isinstance(rec, dict) or not isinstance(rec.get("path"), str):
            raise ManifestError(f"{where}: each line needs an object with a string 'path'")
        src = Path(rec["path"]) if Path(rec["path"]).is_absolute() else path.parent / rec["path"]
        if not src.is_file():
            raise ManifestError(f"{where}: audio {rec['path']!r} does not exist")
        split = rec.get("split") or _seeded_split(str(rec.get("speaker") or rec.get("piece") or src.stem), cfg)
        if split not in SPLITS:
            raise ManifestError(f"{where}: split {split!r} is not one of {SPLITS}")
        row = {"id": str(rec.get("id") or src.stem), "src": src, "split": split}
        for k in OPTIONAL_STR:
            if k in rec and rec[k] is not None:
                if not isinstance(rec[k], str):
                    raise ManifestError(f"{where}: field {k!r} must be a string")
                row[k] = rec[k]
        rows.append(row)
    return rows


def collect(cfg: FolderConfig) -> list[dict]:
    if not cfg.root:
        raise ValueError(f"folder/{cfg.layout}: set the corpus location with --set root=/path")
    root = Path(cfg.root).expanduser()
    if cfg.layout in ("librispeech", "libritts"):
        if not root.is_dir():
            raise ManifestError(f"{root}: no such folder")
        return _libri(root, tts=cfg.layout == "libritts")
    if cfg.layout == "csv":
        if not root.is_dir():
            raise ManifestError(f"{root}: no such folder")
        return _csv(root, cfg)
    if cfg.layout == "jsonl":
        return _jsonl(root, cfg)
    raise ValueError(f"folder: unknown layout {cfg.layout!r}; known: librispeech, libritts, csv, jsonl")


def plan(cfg: FolderConfig, out_dir: Path, cache_dir: Path) -> Plan:
    from bench import audio
    from bench.data.speech import pair_prompts

    rows = sorted(collect(cfg), key=lambda r: r["id"])
    seen: set[str] = set()
    for r in rows:
        if r["id"] in seen:
            raise ManifestError(f"{cfg.root}: duplicate clip id {r['id']!r} ({r['src']})")
        seen.add(r["id"])
    if cfg.max_clips is not None:
        rows = rows[: cfg.max_clips]
    specs = []
    for r in rows:
        src: Path = r.pop("src")
        st = src.stat()
        meta = {k: v for k, v in r.items() if k != "id"}
        meta.setdefault("source", src.name)
        if cfg.licence:
            meta.setdefault("licence", cfg.licence)
        group = r.get("speaker") or r["split"]
        specs.append(ClipSpec(id=r["id"], group=group, key={"src": str(src), "size": st.st_size, "sr": cfg.sr},
                              render=lambda src=src: audio.load(src, sr=cfg.sr, checks=None), meta=meta))
    has_spk = any("speaker" in r for r in rows)
    return Plan(specs=specs, sr=cfg.sr, target_rms_db=None, finalize_rows=pair_prompts if has_spk else None,
                group_key="speaker" if has_spk else "source", extra_stats={"layout": cfg.layout, "root": cfg.root})
