"""Recipe ``sound``: real recorded sound effects from data-only Debian packages, one caption per clip.

Sources (each unpacked with ``apt-get download`` + ``dpkg -x``, never installed):

* ``tuxpaint-stamps-default``: ``X.ogg`` beside ``X.txt``; caption = first line of the text, label =
  stamp category (animals, vehicles, ...). GPL-2.
* ``scratch``: ``Media/Sounds/<Category>/<Name>``; label = category. CC-BY-SA-3.0.
* ``sonic-pi-samples``: ``<prefix>_<name>.flac``; label = prefix (ambi, bass, drum, tabla, ...). CC0.
* ``sound-theme-freedesktop``: desktop UI sounds; label = ui. CC-BY-SA / GPL (per file, see package).

Splits are by source file. Valid/test clips are the first ``clip_seconds`` of a file, unaltered;
training adds ``augment_per_file`` variants each: a random crop, a random gain, and with
probability ``mix_prob`` a second training file of another class mixed underneath (caption says so).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.builder import ClipSpec
from bench.data.recipe import Plan

AUDIO_EXT = (".wav", ".flac", ".ogg", ".oga", ".mp3")
LICENCES = {
    "tuxpaint-stamps-default": "GPL-2 (Tux Paint stamps)",
    "scratch": "CC-BY-SA-3.0 (Scratch 1.4 media)",
    "sonic-pi-samples": "CC0 (Sonic Pi samples, freesound.org)",
    "sound-theme-freedesktop": "GPL-2+/CC-BY-SA (freedesktop sound theme)",
}
# Coarse classes (~12) so each has enough files for every split; the fine name stays in ``source``.
CLASS = {
    "sonic-pi-samples": {"ambi": "ambient", "bass": "bass", "bd": "percussion", "sn": "percussion",
                         "drum": "percussion", "perc": "percussion", "tabla": "percussion", "elec": "electronic",
                         "glitch": "electronic", "mehackit": "electronic", "guit": "instrument",
                         "loop": "music loop", "misc": "effects", "vinyl": "effects"},
    "scratch": {"animal": "animals", "effects": "effects", "electronic": "electronic", "human": "human",
                "instruments": "instrument", "music loops": "music loop", "percussion": "percussion",
                "vocals": "human"},
    "tuxpaint-stamps-default": {"animals": "animals", "vehicles": "vehicles", "people": "human",
                                "naturalforces": "nature", "plants": "nature", "symbols": "speech"},
}
SONIC_PI_WORDS = {"ambi": "ambient", "bd": "bass drum", "sn": "snare", "elec": "electronic", "guit": "guitar",
                  "perc": "percussion", "misc": "miscellaneous", "mehackit": "synth"}


@dataclass(frozen=True)
class SoundConfig:
    packages: tuple[str, ...] = ("tuxpaint-stamps-default", "scratch", "sonic-pi-samples", "sound-theme-freedesktop")
    max_files_per_package: int | None = None  # seeded subset for small presets
    clip_seconds: float = 5.0
    min_seconds: float = 0.3
    valid_fraction: float = 0.1
    test_fraction: float = 0.15
    augment_per_file: int = 2
    gain_db: float = 6.0  # train gain drawn from +-gain_db
    mix_prob: float = 0.3
    mix_snr_db: tuple[float, float] = (3.0, 12.0)  # foreground over background
    seed: int = 0
    sr: int = 16000
    target_rms_db: float = -20.0


def _words(name: str) -> str:
    name = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    name = re.sub(r"[_\-]+", " ", name)
    name = re.sub(r"(\D)(\d)", r"\1 \2", name)
    return " ".join(name.split()).lower()


def _tuxpaint(root: Path) -> list[dict]:
    base = root / "usr/share/tuxpaint/stamps"
    out = []
    for ogg in sorted(base.rglob("*.ogg")):
        txt = ogg.with_suffix(".txt")
        if not txt.is_file():  # X_<lang>.ogg / X_desc_<lang>.ogg are spoken names, not the sound
            continue
        first = txt.read_text(encoding="utf-8", errors="replace").splitlines()[0].strip()
        label = CLASS["tuxpaint-stamps-default"].get(ogg.relative_to(base).parts[0], "objects")
        out.append({"src": ogg, "label": label, "caption": first or _words(ogg.stem)})
    return out


def _scratch(root: Path) -> list[dict]:
    base = root / "usr/share/scratch/Media/Sounds"
    out = []
    for f in sorted(p for p in base.rglob("*") if p.suffix.lower() in AUDIO_EXT):
        cat = _words(f.relative_to(base).parts[0])
        label = CLASS["scratch"].get(cat, "effects")
        out.append({"src": f, "label": label, "caption": f"{_words(f.stem).capitalize()} ({cat} sound)."})
    return out


def _sonic_pi(root: Path) -> list[dict]:
    base = root / "usr/share/sonic-pi/samples"
    out = []
    for f in sorted(base.glob("*.flac")):
        prefix, _, rest = f.stem.partition("_")
        kind = SONIC_PI_WORDS.get(prefix, prefix)
        out.append({"src": f, "label": CLASS["sonic-pi-samples"].get(prefix, "effects"),
                    "caption": f"{kind.capitalize()} sample: {_words(rest)}."})
    return out


def _freedesktop(root: Path) -> list[dict]:
    base = root / "usr/share/sounds/freedesktop/stereo"
    return [{"src": f, "label": "ui", "caption": f"Computer notification sound: {_words(f.stem)}."}
            for f in sorted(base.glob("*.oga")) if not f.stem.startswith("audio-channel")]  # those are speech


COLLECT = {"tuxpaint-stamps-default": _tuxpaint, "scratch": _scratch, "sonic-pi-samples": _sonic_pi,
           "sound-theme-freedesktop": _freedesktop}


def _u(*key) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256(repr(key).encode()).hexdigest()[:12], 16))


def _load(src: Path, sr: int) -> np.ndarray:
    from bench import audio

    if src.suffix.lower() == ".mp3":
        # libsndfile's MP3 frame count is an estimate, so bench.audio.load's truncation check misfires
        import soundfile as sf

        x, native = sf.read(str(src), dtype="float32", always_2d=True)
        return audio.resample(x.mean(axis=1), native, sr)
    x, _ = audio.load(src, sr=sr, checks=None)
    return x


def _crop(x: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    return x[start:start + n]


def _original(src: Path, cfg: SoundConfig) -> tuple[np.ndarray, int]:
    return _crop(_load(src, cfg.sr), int(cfg.clip_seconds * cfg.sr)), cfg.sr


def _augmented(src: Path, bg: Path | None, seed_key: tuple, snr_db: float, cfg: SoundConfig) -> tuple[np.ndarray, int]:
    """Random crop + gain; with ``bg``, a second file (random crop, looped to length) mixed at ``snr_db``."""
    rng = _u(*seed_key)
    x = _load(src, cfg.sr)
    n = int(cfg.clip_seconds * cfg.sr)
    start = int(rng.integers(0, max(1, len(x) - n + 1)))
    x = _crop(x, n, start) * 10 ** (rng.uniform(-cfg.gain_db, cfg.gain_db) / 20)
    if bg is not None:
        b = _load(bg, cfg.sr)
        b = np.resize(b, len(x)) if len(b) else np.zeros_like(x)
        px, pb = np.mean(x.astype(np.float64) ** 2), np.mean(b.astype(np.float64) ** 2)
        if pb > 0 and px > 0:
            x = x + b * np.sqrt(px / (pb * 10 ** (snr_db / 10)))
    return x.astype(np.float32), cfg.sr


def collect(cfg: SoundConfig, cache_dir: Path) -> list[dict]:
    """Every usable source file with package, label and caption; a seeded subset per package if asked."""
    from bench import audio
    from bench.data.debs import unpacked

    items = []
    for pkg in cfg.packages:
        if pkg not in COLLECT:
            raise ValueError(f"sound: unknown package {pkg!r}; known: {', '.join(COLLECT)}")
        found = COLLECT[pkg](unpacked(pkg, cache_dir))
        found = [f for f in found if audio.info_seconds(f["src"]) >= cfg.min_seconds]
        if cfg.max_files_per_package is not None and len(found) > cfg.max_files_per_package:
            idx = sorted(_u(cfg.seed, pkg).permutation(len(found))[: cfg.max_files_per_package])
            found = [found[i] for i in idx]
        for f in found:
            f["package"] = pkg
        items.extend(found)
    return items


def plan(cfg: SoundConfig, out_dir: Path, cache_dir: Path) -> Plan:
    items = collect(cfg, cache_dir)
    # split by source file, stratified by label so every class with >= 3 files reaches test
    by_label: dict[str, list[dict]] = {}
    for it in items:
        by_label.setdefault(it["label"], []).append(it)
    for label, group in sorted(by_label.items()):
        order = _u(cfg.seed, "split", label).permutation(len(group))
        n_test = int(round(cfg.test_fraction * len(group))) if len(group) >= 3 else 0
        n_valid = int(round(cfg.valid_fraction * len(group))) if len(group) >= 3 else 0
        for rank, i in enumerate(order):
            group[i]["split"] = "test" if rank < n_test else "valid" if rank < n_test + n_valid else "train"
    train = [it for it in items if it["split"] == "train"]
    specs = []
    for it in items:
        src: Path = it["src"]
        stem = re.sub(r"[^A-Za-z0-9]+", "_", f"{it['package'].split('-')[0]}-{it['label']}-{src.stem}").strip("_")
        meta = {"split": it["split"], "label": it["label"], "caption": it["caption"],
                "source": f"{it['package']}:{src.name}", "licence": LICENCES[it["package"]]}
        base_key = {"src": f"{it['package']}/{src.relative_to(cache_dir / 'debs' / it['package'])}",
                    "sr": cfg.sr, "len": cfg.clip_seconds, "rms": cfg.target_rms_db}
        specs.append(ClipSpec(id=stem, group=it["label"], key=base_key,
                              render=lambda src=src: _original(src, cfg), meta=meta))
        if it["split"] != "train":
            continue
        for a in range(cfg.augment_per_file):
            rng = _u(cfg.seed, "aug", stem, a)
            bg = None
            others = [o for o in train if o["label"] != it["label"]]
            if others and rng.uniform() < cfg.mix_prob:
                bg = others[int(rng.integers(len(others)))]
            snr = round(float(rng.uniform(*cfg.mix_snr_db)), 2)
            cap = it["caption"] if bg is None else f"{it['caption'].rstrip('.')}, with {bg['caption'][0].lower()}" \
                f"{bg['caption'][1:].rstrip('.')} in the background."
            key = {**base_key, "aug": a, "seed": cfg.seed, "gain": cfg.gain_db,
                   "bg": str(bg["src"].name) if bg else None, "snr": snr}
            specs.append(ClipSpec(
                id=f"{stem}-aug{a}", group=it["label"], key=key,
                render=lambda src=src, bg=bg, k=(cfg.seed, stem, a), snr=snr: _augmented(
                    src, bg["src"] if bg else None, k, snr, cfg),
                meta={**meta, "caption": cap, "source": meta["source"] + (f"+{bg['src'].name}" if bg else "")},
            ))
    labels = sorted(by_label)
    balance = {lab: {s: sum(1 for it in by_label[lab] if it["split"] == s) for s in ("train", "valid", "test")}
               for lab in labels}
    return Plan(specs=specs, sr=cfg.sr, target_rms_db=cfg.target_rms_db, group_key="label",
                extra_stats={"class_balance": balance, "source_files": len(items),
                             "packages": {p: sum(1 for it in items if it["package"] == p) for p in cfg.packages}})
