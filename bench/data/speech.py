"""Recipe ``speech``: English sentences synthesized by every offline voice, with transcripts and IPA phonemes.

Voices marked ``heldout`` appear only in the test split (zero-shot TTS needs unseen speakers); each
test clip carries ``prompt_id``, another test clip of the same speaker, to use as the voice prompt.
The other voices give train and valid clips. Sentences are distinct across the whole dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.builder import ClipSpec
from bench.data.recipe import Plan

TEXT_LICENCE = "text: WordNet 3.0 licence (Princeton)"
ENGINE_LICENCE = {
    "piper": "audio: Piper en_US-joe-medium (voice data CC0, package MIT)",
    "flite": "audio: CMU flite voice (BSD-style CMU licence)",
    "espeak": "audio: espeak-ng synthesis (GPL-3.0 engine)",
}


@dataclass(frozen=True)
class Voice:
    name: str  # speaker id in the manifest
    engine: str  # piper | flite | espeak
    voice: str  # engine's own voice name (joe, slt, en-us+m3, ...)
    heldout: bool = False  # test split only
    pitch: int = 50  # espeak only
    weight: float = 1.0  # train/valid clips = round(weight * per-voice count): more of the natural voices


@dataclass(frozen=True)
class TunedVoice(Voice):
    """A voice with a base speaking rate and (flite) a mean pitch: more distinct voices from the few clear ones.

    A subclass rather than new Voice fields so the speech presets' configs, and with them the build hashes
    their records cite, stay as they were.
    """

    speed: float = 1.0  # base rate; each clip's rate = speed * (1 +- rate_jitter)
    f0: float = 0.0  # flite only: mean pitch in Hz (0 = the voice's own)

    def __post_init__(self) -> None:
        if self.speed <= 0 or (self.f0 and self.engine != "flite"):
            raise ValueError(f"voice {self.name}: speed must be > 0 and f0 is for flite voices only")


@dataclass(frozen=True)
class SpeechConfig:
    voices: tuple[Voice, ...]
    train_per_voice: int = 16
    valid_per_voice: int = 2
    test_per_voice: int = 12
    seed: int = 0
    sr: int = 16000
    text_source: str = "bundled"  # bundled | wordnet
    min_words: int = 4
    max_words: int = 14
    rate_jitter: float = 0.08  # per-clip speaking rate drawn from 1 +- jitter
    target_rms_db: float = -20.0
    corpus_dir: str | None = None  # paper preset: a real corpus handed to the folder recipe
    corpus_layout: str | None = None
    notes: str = ""


def _check_voices(voices: tuple[Voice, ...]) -> None:
    from bench.data.engines import check_engine

    names = [v.name for v in voices]
    if len(set(names)) != len(names):
        raise ValueError(f"speech: duplicate voice names in {names}")
    if not any(v.heldout for v in voices) or all(v.heldout for v in voices):
        raise ValueError("speech: need at least one held-out (test) voice and one training voice")
    for engine in sorted({v.engine for v in voices}):
        check_engine(engine)


def pair_prompts(rows: list[dict]) -> list[dict]:
    """Each test clip gets ``prompt_id`` = the next test clip (by id) of the same speaker, cyclically."""
    by_spk: dict[str, list[dict]] = {}
    for r in rows:
        if r["split"] == "test":
            by_spk.setdefault(r["speaker"], []).append(r)
    for group in by_spk.values():
        group.sort(key=lambda r: r["id"])
        if len(group) < 2:
            continue
        for i, r in enumerate(group):
            r["prompt_id"] = group[(i + 1) % len(group)]["id"]
    return rows


def voice_clips(utts: list[tuple[Voice, int, str, str]], *, seed: int, sr: int, rate_jitter: float,
                target_rms_db: float, text_licence: str = TEXT_LICENCE,
                meta: list[dict] | None = None) -> list[ClipSpec]:
    """One clip per (voice, index, split, text): IPA phonemes, a seeded per-clip speaking rate, and the manifest
    fields tts needs (text, phonemes, speaker, split). Shared by every synthesized speech recipe so they render,
    key and describe clips the same way; ``meta`` adds recipe-specific fields per utterance."""
    from bench.data.engines import synthesize
    from bench.data.phonemes import phonemize

    phones = phonemize([t for _, _, _, t in utts])
    rng = np.random.default_rng(seed + 1)
    specs: list[ClipSpec] = []
    for k, ((v, i, split, text), ph) in enumerate(zip(utts, phones, strict=True)):
        speed, f0 = (v.speed, v.f0) if isinstance(v, TunedVoice) else (1.0, 0.0)
        rate = round(float(speed * (1.0 + rng.uniform(-rate_jitter, rate_jitter))), 3)
        key = {"engine": v.engine, "voice": v.voice, "pitch": v.pitch, "rate": rate, "text": text,
               "sr": sr, "rms": target_rms_db, **({"f0": f0} if f0 else {})}
        specs.append(ClipSpec(
            id=f"{v.name}-{i:04d}", group=v.name, key=key,
            render=lambda v=v, text=text, rate=rate, f0=f0: synthesize(v.engine, v.voice, text, rate, v.pitch, f0),
            meta={"split": split, "text": text, "phonemes": ph, "speaker": v.name,
                  "source": f"{v.engine}:{v.voice}" + (f" f0={f0:g}" if f0 else ""),
                  "licence": f"{ENGINE_LICENCE[v.engine]}; {text_licence}",
                  **(meta[k] if meta else {})},
            parallel=v.engine in ("flite", "espeak"),
        ))
    return specs


def voice_counts(voices: tuple[Voice, ...], train: int, valid: int, test: int) -> list[tuple[Voice, int, int]]:
    """(voice, clips, of which valid) per voice: held-out voices give ``test`` test clips, the others
    round(weight * (train + valid)) train/valid clips, the first round(weight * valid) of them valid."""
    return [(v, test, 0) if v.heldout else (v, round(v.weight * (train + valid)), round(v.weight * valid))
            for v in voices]


def plan(cfg: SpeechConfig, out_dir: Path, cache_dir: Path) -> Plan:
    if cfg.corpus_layout is not None:
        return _real_corpus_plan(cfg, out_dir, cache_dir)
    from bench.data.text import load_sentences, select

    _check_voices(cfg.voices)
    counts = voice_counts(cfg.voices, cfg.train_per_voice, cfg.valid_per_voice, cfg.test_per_voice)
    texts = iter(select(load_sentences(cfg.text_source, cache_dir), sum(n for _, n, _ in counts), cfg.seed,
                        cfg.min_words, cfg.max_words))
    utts = [(v, i, "test" if v.heldout else ("valid" if i < n_valid else "train"), next(texts))
            for v, n, n_valid in counts for i in range(n)]
    specs = voice_clips(utts, seed=cfg.seed, sr=cfg.sr, rate_jitter=cfg.rate_jitter, target_rms_db=cfg.target_rms_db)
    voices = {v.name: {"engine": v.engine, "voice": v.voice, "heldout": v.heldout} for v in cfg.voices}
    return Plan(specs=specs, sr=cfg.sr, target_rms_db=cfg.target_rms_db, finalize_rows=pair_prompts,
                group_key="speaker", extra_stats={"voices": voices, "text_source": cfg.text_source})


def _real_corpus_plan(cfg: SpeechConfig, out_dir: Path, cache_dir: Path) -> Plan:
    """``paper``: the paper trains on a real corpus (LibriTTS); it cannot be synthesized, only pointed at."""
    if not cfg.corpus_dir:
        raise ValueError(
            f"speech/paper expects a real {cfg.corpus_layout} corpus, which cannot be downloaded here. "
            f"Get it (e.g. LibriTTS from https://www.openslr.org/60/) and run "
            f"`bench data build speech --preset paper --set corpus_dir=/path/to/LibriTTS`")
    from bench.data.folder import FolderConfig
    from bench.data.folder import plan as folder_plan

    return folder_plan(FolderConfig(root=cfg.corpus_dir, layout=cfg.corpus_layout, sr=cfg.sr, seed=cfg.seed),
                       out_dir, cache_dir)
