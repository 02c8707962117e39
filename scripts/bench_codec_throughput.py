"""Encode/decode speed and peak memory of every registered codec, against the library's own call.

For each codec and batch size: real-time factor (compute seconds per second of audio; < 1 is faster
than real time) of our wrapper's ``encode``/``decode`` and of the library's own calls on the same
audio and weights in the same process, their ratio (the wrapper's overhead; must be <= 1.05), and the
peak memory of one call (CPU: resident-set growth sampled every 2 ms after malloc_trim; CUDA: max allocated).

Weights: published models whose weights are absent here run as the library's published architecture
with random init, labelled "random init (throughput only)": speed does not depend on weight values,
quality does, so these rows say nothing about quality. The transformers-backed codecs (codecs/hf.py)
without weights here are built from the library's own config class at its defaults plus the fields the
plugin states the published config.json overrides (``published_config``): the published sizes, random
weights. Their library call is the transformers user's: the library's feature extractor, then the
model's ``encode``/``decode``, written out here from the modeling files (not the plugin's methods).
Trained-here codecs use their checkpoint when present (else the same random-init label). X-Codec has no
third-party library, so its ratio is n/a.

Timing: per (codec, batch) the wrapper and library calls are interleaved (W L L W ...) and the
minimum of ``--repeats`` is kept (robust to the shared machine's load); a pair whose ratio is then more
than 5% either way gets more repeats, up to 7 (:func:`settled`). A (codec, batch) whose
estimated time exceeds ``--budget`` seconds is skipped and listed as skipped with the estimate.
Rows are written after each measurement; a rerun with the same settings skips measured rows, so
``--codecs`` adds rows for some codecs to the table (the header lists every command whose rows it holds).

    python scripts/bench_codec_throughput.py --device cpu --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RANDOM = "random init (throughput only)"


# the libraries' own calls ----------------------------------------------------------------------
def hf_library_calls(codec: Any) -> tuple[Callable, Callable]:
    """A transformers user's calls on the codec's model: the library's feature extractor on the clips, then the
    model's ``encode`` at the full depth and its ``decode`` (each call as its modeling file documents it)."""
    import transformers

    m, n_q, name = codec.model, codec.n_codebooks, codec.name
    fe_cls, fe_kwargs = type(codec).feature_extractor
    fe = getattr(transformers, fe_cls)(**fe_kwargs)
    arg = "audio" if name in ("xcodec2", "wavtokenizer") else "raw_audio"
    bw = max(getattr(m.config, "target_bandwidths", None) or [0])  # the largest bandwidth: every level

    def feats(x: Any) -> dict[str, Any]:
        return fe(**{arg: [c.numpy() for c in x[:, 0].cpu()]}, sampling_rate=codec.sample_rate,
                  return_tensors="pt")

    encode: dict[str, Callable[[dict], Any]] = {
        "xcodec-hf": lambda f: m.encode(f["input_values"], bandwidth=bw),
        "higgs-audio-tokenizer": lambda f: m.encode(f["input_values"], bandwidth=bw),
        "encodec-24khz-hf": lambda f: m.encode(f["input_values"], f["padding_mask"], bandwidth=bw),
        "dac-16khz-hf": lambda f: m.encode(f["input_values"], n_quantizers=n_q),
        "mimi": lambda f: m.encode(f["input_values"], f["padding_mask"], num_quantizers=n_q),
        "xcodec2": lambda f: m.encode(f["input_values"], f["input_features"], padding_mask=f["padding_mask"],
                                      input_features_mask=f["input_features_mask"]),
        "wavtokenizer": lambda f: m.encode(f["input_values"], padding_mask=f["padding_mask"]),
    }
    if name not in encode:
        raise KeyError(f"{name}: no library call written for this transformers codec")

    def enc(x: Any) -> Any:
        return encode[name](feats(x)).audio_codes

    def dec(c: Any) -> Any:
        if name == "encodec-24khz-hf":
            return m.decode(c, [None]).audio_values
        return m.decode(audio_codes=c).audio_values

    return enc, dec


def library_calls(codec: Any) -> tuple[Callable, Callable] | None:
    """(encode(x) -> library codes, decode(library codes) -> wav), calling the library directly."""
    from bench.codecs.dac import _DAC
    from bench.codecs.encodec import _Encodec
    from bench.codecs.hf import HFCodec
    from bench.codecs.speechtokenizer import _SpeechTokenizer

    if isinstance(codec, HFCodec):
        return hf_library_calls(codec)
    if not isinstance(codec, (_Encodec, _DAC, _SpeechTokenizer)):
        return None
    m = codec.model
    n_q = codec.n_codebooks
    if isinstance(codec, _Encodec):
        bw = min(b for b in m.target_bandwidths if m.quantizer.get_num_quantizers_for_bandwidth(m.frame_rate, b) >= n_q)

        def enc(x):
            m.set_target_bandwidth(bw)
            return m.encode(x)

        return enc, m.decode
    if isinstance(codec, _DAC):
        return (lambda x: m.encode(m.preprocess(x, m.sample_rate), n_quantizers=n_q)[1],
                lambda c: m.decode(m.quantizer.from_codes(c)[0]))
    if isinstance(codec, _SpeechTokenizer):
        return (lambda x: m.encode(x, n_q=n_q), m.decode)
    return None


def build_hf_published(codec: Any) -> Any:
    """The transformers model of ``codec`` at its published size: the library's config defaults plus the plugin's
    ``published_config``, random weights (seeded); its figures must be the plugin's published ones."""
    import torch
    import transformers

    cls = type(codec)
    cfg = getattr(transformers, cls.config_class)(**cls.published_config)
    if cls.figures(cfg) != cls.published_figures():
        raise ValueError(f"{codec.name}: the library's config gives {cls.figures(cfg)}, not {cls.published_figures()}")
    torch.manual_seed(0)
    return getattr(transformers, cls.model_class)(cfg)


def prepare(name: str, device: str) -> tuple[Any, str]:
    """The codec ready to run, and where its weights come from."""
    from bench.codecs import get_codec
    from bench.codecs.hf import HFCodec
    from bench.codecs.library import LibraryCodec
    from bench.codecs.peer_here import HereCodec

    codec = get_codec(name, device=device)
    w = codec.weights()
    if w.present:
        if isinstance(codec, LibraryCodec):
            codec.model  # noqa: B018 - load now, outside the timed calls
        return codec, ("checkpoint " + w.source if w.origin == "trained-here" else "published weights")
    if isinstance(codec, HereCodec):
        from bench.codecs.peer_train import build_library_model

        return codec.use_model(build_library_model(codec.cfg), RANDOM), f"{RANDOM}, {codec.preset} config"
    if isinstance(codec, HFCodec):
        return codec.use_model(build_hf_published(codec), RANDOM), f"{RANDOM}, published config (transformers)"
    if isinstance(codec, LibraryCodec):
        import importlib

        mod = importlib.import_module(type(codec).__module__)
        build = mod.build_published_architecture
        arch = build(codec.model_type) if hasattr(codec, "model_type") else build()
        return codec.use_model(arch, RANDOM), f"{RANDOM}, published architecture"
    raise RuntimeError(f"{name}: {w.detail}")


# measurement -----------------------------------------------------------------------------------
def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _trim() -> None:
    """Give freed heap pages back to the OS (glibc), so resident-set growth measures live memory."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def peak_mib(fn: Callable[[], Any], device: str) -> float:
    """Peak memory growth of one call (MiB)."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    _trim()
    base = peak = _rss()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss())
            time.sleep(0.002)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    fn()
    done.set()
    t.join()
    return max(peak, _rss()) / 2**20 - base / 2**20


def timed(fn: Callable[[], Any], device: str) -> float:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def wrapper_ops_seconds(codec: Any, op: str, x: Any, codes: Any, device: str, n: int = 20) -> float:
    """Time of what our wrapper adds around the library call (checks, dtype, layout, length fit), per call.

    End-to-end ratios on a shared machine carry several percent of timing noise; this isolates the
    wrapper's own work, so the overhead bound does not rest on noise.
    """
    from bench.codecs.base import check_wav
    from bench.codecs.library import fit_length

    def enc_ops() -> None:
        check_wav(x, codec.name)
        codec._check_n_q(None)
        x.to(device)
        codes.permute(1, 0, 2).permute(1, 0, 2).long()

    wav = x[..., : codes.shape[-1] * codec.hop_length - 8]  # a decode output the library returned short

    def dec_ops() -> None:
        codec._check_n_q(codes.shape[1])
        codes.is_floating_point()
        codes.to(device).long()
        fit_length(wav, codes.shape[-1] * codec.hop_length)

    fn = enc_ops if op == "enc" else dec_ops
    return min(timed(fn, device) for _ in range(n))


def settled(t_w: list[float], t_l: list[float], bound: float = 1.05) -> bool:
    """Whether the wrapper/library ratio of the minima is within ``bound`` either way (or there is no library call).
    A slow pair outside it gets more repeats (up to 7): on a shared machine two samples each can land 10% apart
    by load alone, and a verdict against the 5% limit should not rest on them."""
    if not t_l:
        return True
    r = min(t_w) / min(t_l)
    return 1 / bound <= r <= bound


def measure(codec: Any, batch: int, seconds: float, repeats: int, device: str) -> dict[str, Any]:
    import torch

    g = torch.Generator().manual_seed(0)
    x = (0.1 * torch.randn(batch, 1, int(seconds * codec.sample_rate), generator=g)).to(device)
    audio_s = batch * seconds
    lib = library_calls(codec)
    with torch.inference_mode():
        short = x[:1, :, : codec.sample_rate // 2]  # cheap warm-up of every path (allocator, kernels)
        codec.decode(codec.encode(short))
        if lib:
            lib[1](lib[0](short))
        codes = codec.encode(x)
        lib_codes = lib[0](x) if lib else None
        pairs = {
            "enc": (lambda: codec.encode(x), (lambda: lib[0](x)) if lib else None),
            "dec": (lambda: codec.decode(codes), (lambda: lib[1](lib_codes)) if lib else None),
        }
        row: dict[str, Any] = {"frames": int(codes.shape[-1]), "n_q": int(codes.shape[1])}
        for op, (ours, theirs) in pairs.items():
            t_w: list[float] = []
            t_l: list[float] = []
            for i in range(max(repeats, 7)):  # interleaved W L, L W, ...; fast calls get up to 7 repeats
                order = [(ours, t_w), (theirs, t_l)] if i % 2 == 0 else [(theirs, t_l), (ours, t_w)]
                for fn, acc in order:
                    if fn is not None:
                        acc.append(timed(fn, device))
                if i + 1 >= repeats and (t_l or t_w) and min(t_l or t_w) > 0.5 and settled(t_w, t_l):
                    break
            row[f"{op}_rtf"] = min(t_w) / audio_s
            row[f"{op}_peak_mib"] = round(peak_mib(ours, device), 1)
            if theirs is not None:
                row[f"{op}_rtf_library"] = min(t_l) / audio_s
                row[f"{op}_ratio"] = min(t_w) / min(t_l)
                row[f"{op}_peak_mib_library"] = round(peak_mib(theirs, device), 1)
                row[f"{op}_wrapper_ops_share"] = wrapper_ops_seconds(codec, op, x, codes, device) / min(t_l)
    return row


# report ----------------------------------------------------------------------------------------
def _fmt(v: Any, nd: int = 3) -> str:
    if v is None:
        return "n/a"
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.3f}%"


def write_markdown(path: Path, doc: dict[str, Any]) -> None:
    from bench.atomic import write_text

    lines = [
        f"# Codec throughput ({doc['device']})",
        "",
        "Generated by `scripts/bench_codec_throughput.py`; do not edit by hand. "
        + ("Command:" if len(doc["commands"]) == 1 else "Commands (a rerun adds the rows it measured):"),
        "",
        *(f"    {c}" for c in doc["commands"]),
        "",
        f"{doc['audio_seconds']:g} s of audio per item, torch {doc['torch']}, {doc['threads']} thread(s), "
        f"{doc['repeats']} interleaved repeats (minimum kept), machine: {doc['machine']}.",
        "RTF = compute seconds per second of audio (lower is faster). ratio = our wrapper / the library's own call "
        "on the same audio and weights (overhead; 1.05 = 5% slower). Peak = memory growth during one call (MiB).",
        f"Rows marked '{RANDOM}' run the published architecture with random weights: valid for speed and memory "
        "only, never for quality.",
        "Rows with 'published config (transformers)' are the transformers-backed codecs built from the library's "
        "config at the published size (no real weights offline); their library call is the library's feature "
        "extractor then the model's encode/decode.",
        "",
        "wrapper ops = the wrapper's own work around the library call (input checks, dtype, code layout, "
        "length fit) timed in isolation, as a share of the library call: the overhead without timing noise.",
        "",
        "| codec | weights | batch | enc RTF | enc RTF (library) | enc ratio | enc wrapper ops | dec RTF | "
        "dec RTF (library) | dec ratio | dec wrapper ops | enc peak MiB (lib) | dec peak MiB (lib) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        if r.get("skipped"):
            lines.append(f"| {r['codec']} | {r.get('weights', '')} | {r['batch']} | skipped: {r['skipped']} "
                         "| | | | | | | | | |")
            continue
        lines.append(
            f"| {r['codec']} | {r['weights']} | {r['batch']} | {_fmt(r['enc_rtf'])} | {_fmt(r.get('enc_rtf_library'))} "
            f"| {_fmt(r.get('enc_ratio'), 2)} | {_pct(r.get('enc_wrapper_ops_share'))} | {_fmt(r['dec_rtf'])} "
            f"| {_fmt(r.get('dec_rtf_library'))} | {_fmt(r.get('dec_ratio'), 2)} "
            f"| {_pct(r.get('dec_wrapper_ops_share'))} "
            f"| {_fmt(r['enc_peak_mib'], 0)} ({_fmt(r.get('enc_peak_mib_library'), 0)}) "
            f"| {_fmt(r['dec_peak_mib'], 0)} ({_fmt(r.get('dec_peak_mib_library'), 0)}) |"
        )
    ratios = [r[k] for r in doc["rows"] for k in ("enc_ratio", "dec_ratio") if r.get(k) is not None]
    shares = [r[k] for r in doc["rows"] for k in ("enc_wrapper_ops_share", "dec_wrapper_ops_share") if r.get(k)]
    if ratios:
        med = sorted(ratios)[len(ratios) // 2]
        lines += ["", f"End-to-end wrapper/library ratio: median {med:.3f}, range {min(ratios):.3f}-{max(ratios):.3f} "
                  "(interleaved minima on a shared machine: spread in both directions is timing noise)."]
    if shares:
        worst = max(shares)
        lines += [f"Wrapper's own work: at most {100 * worst:.3f}% of the library call "
                  f"({'within' if worst <= 0.05 else 'ABOVE'} the 5% limit)."]
    write_text(path, "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (the team's machine: 1)")
    p.add_argument("--seconds", type=float, default=10.0, help="audio per item")
    p.add_argument("--batches", default="1,16")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--budget", type=float, default=150.0, help="skip a (codec, batch) estimated above this (s)")
    p.add_argument("--codecs", default="", help="comma-separated names (default: every registered codec)")
    p.add_argument("--out", default=None, help="output stem (default results/throughput/codecs_<device>)")
    p.add_argument("--fresh", action="store_true", help="ignore rows already measured")
    a = p.parse_args(argv)

    import torch
    from tqdm import tqdm

    from bench.atomic import write_text
    from bench.codecs import CODECS

    torch.set_num_threads(a.threads)
    dev_kind = "cuda" if a.device.startswith("cuda") else "cpu"
    stem = Path(a.out) if a.out else REPO / "results" / "throughput" / f"codecs_{dev_kind}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    settings = {"device": a.device, "threads": a.threads, "audio_seconds": a.seconds, "repeats": a.repeats}
    doc: dict[str, Any] = {"rows": []}
    js = stem.with_suffix(".json")
    if js.is_file() and not a.fresh:
        old = json.loads(js.read_text())
        if all(old.get(k) == v for k, v in settings.items()):
            doc = old
    cmd_args = sys.argv[1:] if argv is None else argv
    device_name = torch.cuda.get_device_name() if dev_kind == "cuda" else platform.processor() or platform.machine()
    command = "python scripts/bench_codec_throughput.py " + shlex.join(cmd_args)
    commands = doc.pop("commands", None) or ([doc.pop("command")] if "command" in doc else [])
    doc.update(settings, commands=[*(c for c in commands if c != command), command],
               torch=torch.__version__, machine=f"{device_name}, {os.cpu_count()} CPUs visible")
    doc["rows"] = [r for r in doc["rows"] if not str(r.get("skipped", "")).startswith("cannot run")]  # retry those
    done = {(r["codec"], r["batch"]) for r in doc["rows"]}
    names = [n for n in (a.codecs.split(",") if a.codecs else CODECS.names()) if n]
    batches = [int(b) for b in a.batches.split(",")]
    for name in tqdm(names, desc="codecs"):
        if all((name, b) in done for b in batches):
            continue
        try:
            codec, source = prepare(name, a.device)
        except Exception as e:  # noqa: BLE001 - a codec that cannot run is listed with the reason
            for b in batches:
                if (name, b) not in done:
                    doc["rows"].append({"codec": name, "batch": b, "skipped": f"cannot run: {e}"[:200]})
            continue
        per_item = None  # seconds of measurement per item of batch, from the previous batch size
        for b in batches:
            if (name, b) in done:
                continue
            est: float | None = None if per_item is None else per_item * b
            if est is not None and est > a.budget:
                row = {"codec": name, "weights": source, "batch": b,
                       "skipped": f"estimated {est:.0f} s > budget {a.budget:.0f} s"}
            else:
                row = {"codec": name, "weights": source, "batch": b,
                       **measure(codec, b, a.seconds, a.repeats, a.device)}
                rtf = sum(row.get(k) or row[k.replace("_library", "")] for k in
                          ("enc_rtf", "dec_rtf", "enc_rtf_library", "dec_rtf_library"))
                per_item = rtf * a.seconds * (a.repeats + 1)  # timed repeats + the peak-memory pass
            doc["rows"].append(row)
            write_text(js, json.dumps(doc, indent=1))
        del codec
    doc["rows"].sort(key=lambda r: (r["codec"], r["batch"]))
    write_text(js, json.dumps(doc, indent=1))
    write_markdown(stem.with_suffix(".md"), doc)
    print(stem.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
