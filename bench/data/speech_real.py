"""Recipe ``speech-real``: real recorded human speech (Asterisk's Allison prompts), a real-voice test set.

Source: Debian ``asterisk-core-sounds-en-wav`` (8 kHz recordings) and ``asterisk-core-sounds-en``
(transcripts, ``name: text`` lines), unpacked as data-only packages. CC-BY-SA-3.0. Everything goes to
the test split (one speaker; resampled 8 -> 16 kHz, so the band stops at 4 kHz), with same-speaker prompts.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.builder import ClipSpec
from bench.data.recipe import Plan

SOUNDS = "usr/share/asterisk/sounds/en_US_f_Allison"
TRANSCRIPTS = "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
LICENCE = "CC-BY-SA-3.0 (Asterisk core sounds, Allison Smith / Digium)"


@dataclass(frozen=True)
class SpeechRealConfig:
    n_clips: int | None = 60  # None: every usable clip
    seed: int = 0
    sr: int = 16000
    min_words: int = 2
    max_words: int = 40
    target_rms_db: float = -20.0


def transcripts(cache_dir: Path) -> dict[str, str]:
    from bench.data.debs import unpacked

    path = unpacked("asterisk-core-sounds-en", cache_dir) / TRANSCRIPTS
    out = {}
    for line in gzip.decompress(path.read_bytes()).decode("utf-8", "replace").splitlines():
        if not line.strip() or line.startswith(";") or ":" not in line:
            continue
        name, text = line.split(":", 1)
        text = " ".join(text.split())
        if name.strip() and text and "[" not in text:  # [bracketed] entries are tones, not speech
            out[name.strip()] = text
    return out


def plan(cfg: SpeechRealConfig, out_dir: Path, cache_dir: Path) -> Plan:
    from bench import audio
    from bench.data.debs import unpacked
    from bench.data.phonemes import phonemize
    from bench.data.speech import pair_prompts

    sounds = unpacked("asterisk-core-sounds-en-wav", cache_dir) / SOUNDS
    texts = transcripts(cache_dir)
    usable = sorted(n for n, t in texts.items() if (sounds / f"{n}.wav").is_file()
                    and cfg.min_words <= len(t.split()) <= cfg.max_words)
    if cfg.n_clips is not None and cfg.n_clips < len(usable):
        idx = sorted(np.random.default_rng(cfg.seed).permutation(len(usable))[: cfg.n_clips])
        usable = [usable[i] for i in idx]
    phones = phonemize([texts[n] for n in usable])
    specs = []
    for name, ph in zip(usable, phones, strict=True):
        src = sounds / f"{name}.wav"
        cid = "allison-" + re.sub(r"[^A-Za-z0-9_-]+", "_", name)
        specs.append(ClipSpec(
            id=cid, group="allison", key={"src": name, "sr": cfg.sr, "rms": cfg.target_rms_db},
            render=lambda src=src: audio.load(src, checks=None),
            meta={"split": "test", "text": texts[name], "phonemes": ph, "speaker": "asterisk-allison",
                  "source": f"asterisk-core-sounds-en-wav:{name}.wav", "licence": LICENCE},
        ))
    return Plan(specs=specs, sr=cfg.sr, target_rms_db=cfg.target_rms_db, finalize_rows=pair_prompts,
                group_key="speaker", extra_stats={"native_sr": 8000})
