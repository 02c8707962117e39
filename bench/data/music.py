"""Recipe ``music``: scores from the music21 corpus rendered through a sampled GM soundfont (FluidR3_GM).

Each piece gets a seeded General MIDI program per part (strings, winds, brass, keys, plucked), is
cut to its first ``max_measures`` measures, rendered by fluidsynth, mixed to mono, and split into
``segments_per_piece`` consecutive clips. Splits are by piece (no piece in two splits); test clips
carry ``prompt_id`` = the preceding segment of the same piece (prompt -> continuation pairs).
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.builder import ClipSpec, SkipClip
from bench.data.recipe import Plan

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
LICENCE = "score: music21 corpus (public-domain works; BSD-3 package); timbres: FluidR3_GM soundfont (MIT)"
SCORE_EXT = (".mxl", ".xml", ".musicxml", ".krn")
RENDER_VERSION = 2  # part of every clip's key: bump when rendering code changes, so old clips are not reused


@dataclass(frozen=True)
class MusicConfig:
    n_pieces: int = 20
    segments_per_piece: int = 3
    segment_seconds: float = 8.0
    max_measures: int = 24
    valid_pieces: int = 2
    test_pieces: int = 4
    seed: int = 0
    sr: int = 16000
    gain: float = 0.6
    soundfont: str = SOUNDFONT
    composers: tuple[str, ...] = ("bach", "palestrina", "monteverdi", "trecento")
    # GM programs (0-based): piano, harpsichord, organ, guitar, strings, harp, choir, brass, reeds, flutes
    programs: tuple[int, ...] = (0, 6, 19, 24, 40, 41, 42, 43, 46, 48, 52, 56, 57, 60, 68, 70, 71, 73, 74)
    target_rms_db: float = -20.0
    min_rms_db: float = -45.0  # segments quieter than this (before normalization) are skipped
    render_timeout_s: float = 60.0  # a few scores make fluidsynth spin; they are skipped


def corpus_pieces(composers: tuple[str, ...]) -> dict[str, list[Path]]:
    """Single-score files of the bundled music21 corpus, by composer folder (sorted, so selection is stable)."""
    try:
        from music21 import corpus
    except ImportError:
        raise RuntimeError("music: install `pip install music21` (its wheel carries the corpus)") from None
    out: dict[str, list[Path]] = {c: [] for c in composers}
    for p in corpus.getCorePaths():
        p = Path(p)
        parts = p.parts
        comp = parts[parts.index("corpus") + 1] if "corpus" in parts else None
        if comp in out and p.suffix in SCORE_EXT:
            out[comp].append(p)
    missing = [c for c, v in out.items() if not v]
    if missing:
        raise ValueError(f"music: no scores for composers {missing} in the music21 corpus")
    # one file per work: some works ship as both .mxl and .krn; keep the first format in SCORE_EXT order
    rank = {e: i for i, e in enumerate(SCORE_EXT)}
    dedup: dict[str, list[Path]] = {}
    for c, files in out.items():
        best: dict[Path, Path] = {}
        for p in sorted(files, key=lambda p: rank[p.suffix]):
            best.setdefault(p.with_suffix(""), p)
        dedup[c] = sorted(best.values())
    return dedup


def choose_pieces(pool: dict[str, list[Path]], n: int, seed: int) -> list[tuple[str, Path]]:
    """Round-robin over composers (each in seeded order) so small collections are not drowned out."""
    rng = np.random.default_rng(seed)
    queues = {c: [v[i] for i in rng.permutation(len(v))] for c, v in sorted(pool.items())}
    chosen: list[tuple[str, Path]] = []
    while len(chosen) < n and any(queues.values()):
        for c in sorted(queues):
            if queues[c] and len(chosen) < n:
                chosen.append((c, queues[c].pop(0)))
    return chosen


def rel_score(composer: str, path: Path) -> str:
    """``composer/sub/dirs/file.ext`` inside the corpus (file stems repeat across opus folders)."""
    parts = path.parts
    return "/".join(parts[parts.index(composer, parts.index("corpus")):])


def piece_id(composer: str, path: Path) -> str:
    rel = rel_score(composer, path).rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9]+", "_", rel).strip("_")


def part_programs(pid: str, n_parts: int, cfg: MusicConfig) -> list[int]:
    seed = int(hashlib.sha256(f"{cfg.seed}:{pid}".encode()).hexdigest()[:8], 16)
    return [int(p) for p in np.random.default_rng(seed).choice(cfg.programs, size=n_parts)]


def _render_midi(midi: Path, seconds: float, cfg: MusicConfig) -> tuple[np.ndarray, int]:
    """First ``seconds`` of fluidsynth's render, read from its raw stdout.

    Reading a fixed amount and then stopping the process bounds the work: a few corpus MIDI files
    make fluidsynth's file renderer run on past the end of the score, writing silence forever.
    """
    import time

    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RuntimeError("music: `fluidsynth` not found; `apt-get install fluidsynth fluid-soundfont-gm`")
    if not Path(cfg.soundfont).is_file():
        raise RuntimeError(f"music: soundfont {cfg.soundfont} not found; `apt-get install fluid-soundfont-gm`")
    want = int(seconds * cfg.sr) * 4  # stereo int16
    cmd = [exe, "-ni", "-q", "-g", str(cfg.gain), "-r", str(cfg.sr), "-T", "raw", "-O", "s16", "-E", "little",
           "-F", "-", cfg.soundfont, str(midi)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    buf = bytearray()
    t0 = time.time()
    try:
        while len(buf) < want:
            chunk = proc.stdout.read(min(1 << 16, want - len(buf)))
            if not chunk:
                break
            buf += chunk
            if time.time() - t0 > cfg.render_timeout_s:
                raise subprocess.TimeoutExpired(cmd, cfg.render_timeout_s)
    finally:
        proc.kill()
        proc.wait()
    x = np.frombuffer(bytes(buf[: len(buf) // 4 * 4]), dtype="<i2").reshape(-1, 2).astype(np.float32) / 32768.0
    return x.mean(axis=1), cfg.sr


def _drop_repeats(s) -> None:
    """Play straight through: a cut score often keeps half a repeat, which MIDI export cannot expand."""
    from music21 import bar, repeat, stream

    for m in s.recurse().getElementsByClass(stream.Measure):
        if isinstance(m.leftBarline, bar.Repeat):
            m.leftBarline = None
        if isinstance(m.rightBarline, bar.Repeat):
            m.rightBarline = None
    for r in list(s.recurse().getElementsByClass(repeat.RepeatExpression)):
        r.activeSite.remove(r)


@functools.lru_cache(maxsize=2)
def render_piece(composer: str, path: Path, cfg: MusicConfig) -> tuple[np.ndarray, int, str] | str:
    """Full render of one piece -> (mono audio, rate, caption), or a reason string if it cannot be used."""
    from music21 import converter, instrument, stream

    pid = piece_id(composer, path)
    try:
        s = converter.parse(str(path))
        if isinstance(s, stream.Opus):
            s = s.scores[0]
        if s.parts:
            s = s.measures(1, cfg.max_measures)
        _drop_repeats(s)
        parts = list(s.parts) or [s]
        progs = part_programs(pid, len(parts), cfg)
        names = []
        for part, prog in zip(parts, progs, strict=True):
            for inst in list(part.recurse().getElementsByClass(instrument.Instrument)):
                inst.activeSite.remove(inst)
            ins = instrument.instrumentFromMidiProgram(prog)
            ins.midiProgram = prog
            part.insert(0, ins)
            names.append(ins.instrumentName or f"program {prog}")
        with tempfile.TemporaryDirectory() as td:
            midi = Path(td) / "piece.mid"
            s.write("midi", fp=str(midi))
            x, sr = _render_midi(midi, cfg.segments_per_piece * cfg.segment_seconds, cfg)
    except subprocess.TimeoutExpired:
        return f"{pid}: fluidsynth took over {cfg.render_timeout_s} s"
    except RuntimeError:
        raise
    except Exception as e:  # noqa: BLE001 - some corpus works do not parse or expand; they are skipped
        return f"{pid}: cannot render ({type(e).__name__}: {e})"
    caption = f"{composer.replace('_', ' ').title()}: {len(parts)}-part piece for {', '.join(sorted(set(names)))}"
    return x, sr, caption


def _segment(composer: str, path: Path, k: int, cfg: MusicConfig) -> tuple[np.ndarray, int, dict]:
    r = render_piece(composer, path, cfg)
    if isinstance(r, str):
        raise SkipClip(r)
    x, sr, caption = r
    n = int(cfg.segment_seconds * sr)
    seg = x[k * n:(k + 1) * n]
    if len(seg) < n:
        raise SkipClip(f"piece shorter than {k + 1} segments of {cfg.segment_seconds} s")
    rms_db = 10 * np.log10(np.mean(np.square(seg, dtype=np.float64)) + 1e-20)
    if rms_db < cfg.min_rms_db:  # past the end of a short piece: reverb tail or silence
        raise SkipClip(f"segment {k} nearly silent ({rms_db:.0f} dBFS)")
    return seg, sr, {"caption": caption}


def pair_continuations(rows: list[dict]) -> list[dict]:
    ids = {r["id"] for r in rows}
    for r in rows:
        if r["split"] == "test":
            k = int(r["id"].rsplit("-s", 1)[1])
            prev = f"{r['id'].rsplit('-s', 1)[0]}-s{k - 1}"
            if k > 0 and prev in ids:
                r["prompt_id"] = prev
    return rows


def plan(cfg: MusicConfig, out_dir: Path, cache_dir: Path) -> Plan:
    pieces = choose_pieces(corpus_pieces(cfg.composers), cfg.n_pieces, cfg.seed)
    if len(pieces) < cfg.test_pieces + cfg.valid_pieces + 1:
        raise ValueError(f"music: only {len(pieces)} pieces for {cfg.test_pieces} test + {cfg.valid_pieces} valid")
    order = np.random.default_rng(cfg.seed + 1).permutation(len(pieces))
    split_of = {}
    for rank, i in enumerate(order):
        split_of[i] = "test" if rank < cfg.test_pieces else "valid" if rank < cfg.test_pieces + cfg.valid_pieces \
            else "train"
    specs = []
    for i, (composer, path) in enumerate(pieces):
        pid = piece_id(composer, path)
        for k in range(cfg.segments_per_piece):
            key = {"v": RENDER_VERSION, "score": rel_score(composer, path), "k": k, "seg": cfg.segment_seconds,
                   "measures": cfg.max_measures, "sr": cfg.sr, "gain": cfg.gain, "sf": Path(cfg.soundfont).name,
                   "programs": cfg.programs,
                   "seed": cfg.seed, "rms": cfg.target_rms_db}
            specs.append(ClipSpec(
                id=f"{pid}-s{k}", group=pid, key=key,
                render=lambda c=composer, p=path, k=k: _segment(c, p, k, cfg),
                meta={"split": split_of[i], "piece": pid, "label": composer,
                      "source": f"music21:{rel_score(composer, path)}", "licence": LICENCE},
            ))

    return Plan(specs=specs, sr=cfg.sr, target_rms_db=cfg.target_rms_db, finalize_rows=pair_continuations,
                group_key="piece", extra_stats={"pieces_planned": len(pieces), "composers": list(cfg.composers)})
