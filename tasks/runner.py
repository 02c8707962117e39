"""``bench run``: data -> codec -> tokens -> LM training -> generation -> decoding -> scores -> records.

Every stage leaves its artefact in the run directory
``data/runs/<task>/<preset>/<codec>-<confighash>/`` and skips itself when that artefact exists, so a
killed run picks up where it stopped and a finished run (``done.json``) is a no-op unless ``force``.
The config hash covers the task preset only (never the codec), so all codecs of one preset share it:
that is the equal-budget rule's footprint on disk (see :mod:`bench.tasks.budget`). A run with
``--set`` overrides is its own preset variant (``smoke+set-<hash>``, :func:`bench.config.preset_variant`):
its run folder and records file never touch the preset's. One writer per run folder: a second run of
the same cell waits on ``<run dir>/.run.lock`` (saying for whom) and then finds the run done.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench import paths
from bench.atomic import STALE_S, all_or_nothing, clean_temps, write_json, write_text
from bench.config import preset_variant
from bench.locks import exclusive
from bench.tasks.config import TaskConfig, load_task_config, to_dict

SCORE_SR = 16000  # every output is resampled to this before it is written and scored
# A cell's stages in order, as its log numbers them and done.json times them (scripts/readme_excerpt.py reads this)
STAGES = ("data", "codec", "tokenize", "train", "generate + decode", "score")
UNTIL = ("tokenize", "train", "generate")  # the stages ``until`` may stop after


class Log:
    """Print and append to the run's log.txt."""

    def __init__(self, path: Path | None = None, echo=print) -> None:
        self.path, self.echo = path, echo

    def __call__(self, msg: str) -> None:
        self.echo(msg)
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(time.strftime("%H:%M:%S ") + msg + "\n")


def run_dir_of(task: str, codec: str, preset: str, cfg: TaskConfig, data_dir=None) -> Path:
    return paths.task_run_dir(task, preset, codec, cfg.hash, data_dir)


def records_path(preset: str, task: str, codec: str, results_dir=None) -> Path:
    """``preset`` is the preset variant (:func:`bench.config.preset_variant`) the run files under."""
    return paths.records_file(preset, task, codec, results_dir)


def _write_records(path: Path, recs: list[dict]) -> None:
    from bench.results import validate

    for r in recs:
        validate(r)
    write_text(path, "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in recs))


def _weights_sha(run_dir: Path, stage: str) -> str:
    return json.loads((run_dir / f"{stage}.train.json").read_text())["weights_sha"]


def build_context(task_obj, cfg: TaskConfig, manifest: Path, cache, run_dir: Path, codebook_size: int):
    from bench.data.manifest import read_manifest
    from bench.tasks.common import Context
    from bench.tasks.lm.text import Vocab

    rows = read_manifest(manifest)
    missing = [r["id"] for r in rows if r["id"] not in cache.index]
    if missing:
        raise RuntimeError(f"{manifest} changed after it was tokenized ({len(missing)} clips not in {cache.dir}, "
                           f"e.g. {missing[0]!r}); rerun to tokenize the new manifest")
    vocab = None
    field, unit = task_obj.text_spec(cfg)
    if field:
        vp = run_dir / "vocab.json"
        if vp.is_file():
            vocab = Vocab.load(vp)
        else:
            texts = [r.get(field) or "" for r in rows if r["split"] == "train"]
            vocab = Vocab.build(texts, unit, cfg.lm.text_vocab)
            vocab.save(vp)
    return Context(cfg, rows, manifest, cache, run_dir, codebook_size, vocab, field)


def context_from_run_dir(run_dir: Path):
    """Rebuild a run's context from its state.json (the DDP entry point: no codec needed)."""
    from bench.tasks import TASKS
    from bench.tasks.tokens import TokenCache

    st = json.loads((run_dir / "state.json").read_text())
    cfg = load_task_config(st["task"], st["preset"], st["overrides"])
    task_obj = TASKS.get(st["task"])()
    cache = TokenCache.open(Path(st["cache_dir"]))
    return task_obj, build_context(task_obj, cfg, Path(st["manifest"]), cache, run_dir, st["codebook_size"])


def train_stage(task_obj, ctx, stage: str, device: str, nproc: int, log) -> Path:
    from bench.tasks.lm.train import final_path, train

    if (ctx.run_dir / f"{stage}.train.json").is_file():
        log(f"[{stage}] trained already ({stage}.train.json)")
        return final_path(ctx.run_dir, stage)
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "bench.tasks.lm.ddp", "--run-dir", str(ctx.run_dir), "--stage", stage, "--device", device]
        log(f"train: {stage} on {nproc} processes: {' '.join(cmd)}")
        rc = subprocess.run(cmd).returncode
        if rc != 0:
            raise RuntimeError(f"DDP training of {stage} failed (exit {rc}); rerun to resume from its checkpoint")
        return final_path(ctx.run_dir, stage)
    return train(task_obj.objective(stage, ctx), ctx.cfg, ctx.run_dir, stage, device=device, log=log,
                 heldout=task_obj.heldout(stage, ctx))


def generate_stage(task_obj, ctx, items: list[dict], device: str, log) -> None:
    """Codes per (variant, item) under gen/, one .npy each, skipped when present and readable (resumable)."""
    from tqdm import tqdm

    from bench.atomic import atomic_path
    from bench.tasks.lm.train import final_path, load_trained

    todo = [it for it in items if not all(_codes_ok(ctx.run_dir / "gen" / v / f"{it['id']}.npy", log)
                                          for v in task_obj.variants)]
    if not todo:
        return
    models = {s: load_trained(final_path(ctx.run_dir, s), ctx.cfg, device) for s in task_obj.shapes(ctx.cfg)}
    for it in tqdm(todo, desc="generate", unit="item"):
        out = task_obj.generate(models, it, ctx)
        for v, codes in out.items():
            p = ctx.run_dir / "gen" / v / f"{it['id']}.npy"
            p.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(p) as tmp, open(tmp, "wb") as f:
                np.save(f, codes.astype(np.int64))


def _codes_ok(p: Path, log) -> bool:
    """Whether ``p`` holds a whole code array [n_q, frames]. Writes are atomic, but a run folder copied
    back from another machine can hold a truncated file: it is generated again, never decoded."""
    if not p.is_file():
        return False
    try:
        a = np.load(p)
    except (ValueError, OSError, EOFError) as e:
        log(f"generate: {p} is unreadable ({type(e).__name__}: {e}); generating it again")
        return False
    if a.ndim != 2 or a.dtype.kind not in "iu":
        log(f"generate: {p} holds a {a.dtype} array of shape {a.shape}, not codes; generating it again")
        return False
    return True


def decode_codes(codec, codes: np.ndarray) -> np.ndarray:
    """One item's codes [n_q, frames] -> mono samples at SCORE_SR (what every scorer hears)."""
    import torch

    from bench.audio import resample

    with torch.no_grad():
        y = codec.decode(torch.from_numpy(codes)[None].to(codec.device)).float().cpu().numpy()[0, 0]
    return resample(y, codec.sample_rate, SCORE_SR)


def decode_stage(task_obj, ctx, codec, items: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """Decode every generated code array to samples/<variant>/<id>.wav at SCORE_SR (skipping existing files)."""
    from tqdm import tqdm

    from bench.audio import load, write

    audio: dict[str, dict[str, np.ndarray]] = {v: {} for v in task_obj.variants}
    jobs = [(v, it) for v in task_obj.variants for it in items]
    for v, it in tqdm(jobs, desc="decode", unit="clip"):
        wav_p = ctx.run_dir / "samples" / v / f"{it['id']}.wav"
        if not wav_p.is_file():
            write(wav_p, decode_codes(codec, np.load(ctx.run_dir / "gen" / v / f"{it['id']}.npy")), SCORE_SR)
        audio[v][it["id"]] = load(wav_p, checks=None)[0]
    return audio


def run(
    task: str, codec: str, preset: str, overrides: tuple[str, ...] | list[str] = (), device: str = "cpu",
    force: bool = False, data_dir=None, results_dir=None, nproc: int = 1, echo=print, until: str | None = None,
) -> list[dict]:
    """Run one (task, codec, preset); return the records written (or already there).

    ``until`` ("tokenize", "train" or "generate") stops after that stage: train and generate on a GPU
    machine, bring the run dir back, and the same command without ``until`` decodes and scores here.
    """
    if until is not None and until not in UNTIL:
        raise ValueError(f"until={until!r}: choose one of {UNTIL}")
    t_start = time.time()
    cfg = _checked_cell(task, codec, preset, overrides)
    variant = preset_variant(preset, overrides)
    run_dir = run_dir_of(task, codec, variant, cfg, data_dir)
    finished = (run_dir / "done.json").is_file() and not force
    if not finished:
        _check_weights(codec, cfg, data_dir)
    args = (task, codec, preset, overrides, device, force, data_dir, results_dir, nproc, echo, until, cfg, variant,
            run_dir, t_start)
    if finished and not os.access(run_dir, os.W_OK):  # a finished run on a read-only disk: nobody can write it
        return _run_cell(*args)
    # One writer per run folder: a second run of this cell waits here, then finds it done (or resumes it).
    with exclusive(run_dir / LOCK, f"run: {task}/{variant}/{codec}", echo):
        return _run_cell(*args)


LOCK = ".run.lock"  # in the run folder (with its ``.owner``); kept when --force clears the folder


def _checked_cell(task: str, codec: str, preset: str, overrides) -> TaskConfig:
    """The cell's config, after checking that the task, its preset and the codec exist (a did-you-mean
    error otherwise), before any folder or data is made."""
    from bench.codecs import CODECS
    from bench.tasks import TASKS

    TASKS.meta(task)
    CODECS.meta(codec)
    return load_task_config(task, preset, list(overrides))


def finished(task: str, codec: str, preset: str, overrides: tuple[str, ...] | list[str] = (), data_dir=None) -> bool:
    """Whether :func:`run` of this cell (without ``force``) would only return its records: ``done.json``
    written for the codec's current weights. The launcher submits no job for such a cell."""
    cfg = _checked_cell(task, codec, preset, overrides)
    done = run_dir_of(task, codec, preset_variant(preset, overrides), cfg, data_dir) / "done.json"
    return done.is_file() and json.loads(done.read_text()).get("codec_id") == _codec_id(codec, cfg, data_dir)


def _check_weights(codec: str, cfg: TaskConfig, data_dir) -> None:
    """A published codec without weights fails before any folder or data is made (cheap: no model load);
    a trained-here codec without a checkpoint is trained by the run."""
    from bench.codecs import WeightsUnavailable, get_codec

    w = get_codec(codec, preset=cfg.data.codec_preset, data_dir=data_dir).weights()
    if not w.present and w.origin != "trained-here":
        raise WeightsUnavailable(f"codec {codec!r}: weights not present. {w.detail}")


def _clear(run_dir: Path) -> None:
    """Empty a run folder for --force, keeping the lock this process holds on it."""
    for p in run_dir.iterdir():
        if p.name.startswith(LOCK):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def _run_cell(task, codec, preset, overrides, device, force, data_dir, results_dir, nproc, echo, until, cfg,
              variant, run_dir: Path, t_start: float) -> list[dict]:
    from bench.tasks import TASKS

    done = run_dir / "done.json"
    if done.is_file() and not force and json.loads(done.read_text()).get("codec_id") != _codec_id(codec, cfg, data_dir):
        _check_weights(codec, cfg, data_dir)  # never clear a finished run for a codec that cannot be loaded
        echo(f"run: {task}/{variant}/{codec}: the codec's weights changed since the finished run; rerunning")
        force = True
    if done.is_file() and not force:
        echo(f"run: {task}/{variant}/{codec} finished already ({run_dir}); --force reruns it")
        from bench.results import load

        return load(run_dir / "records.jsonl")  # an older run's v1 lines come back upgraded
    if force:
        _clear(run_dir)
    clean_temps(run_dir, recursive=True)  # temp files of a run killed mid-write (we hold the lock: all orphans)
    log = Log(run_dir / "log.txt", echo)
    write_text(run_dir / "config.yaml", _yaml(to_dict(cfg)))
    log(f"run: {task} / {codec} / {variant} (config {cfg.hash}) -> {run_dir}")
    task_obj = TASKS.get(task)()
    wall: dict[str, float] = {}

    def stage(name: str):
        log(f"[{STAGES.index(name) + 1}/{len(STAGES)}] {name}")
        wall[name] = time.time()

    def end(name: str) -> None:
        wall[name] = round(time.time() - wall[name], 2)

    from bench.data import ensure_built
    from bench.tasks.budget import budget, check_codec_fits
    from bench.tasks.codec_setup import load_codec
    from bench.tasks.tokens import tokenize_manifest

    stage("data")
    manifest = ensure_built(cfg.data.recipe, cfg.data.preset, data_dir=data_dir)
    end("data")
    stage("codec")
    codec_obj = load_codec(codec, cfg.data.codec_preset, device=device, data_dir=data_dir, log=log)
    check_codec_fits(cfg, codec, codec_obj.n_codebooks, codec_obj.codebook_size)
    end("codec")
    stage("tokenize")
    cache = tokenize_manifest(codec_obj, manifest, cfg.data.recipe, cfg.data.preset, data_dir=data_dir, log=log)
    end("tokenize")
    # state.json marks the tokens ready (bench.launch submits no codec job for a cell that has it)
    write_json(run_dir / "state.json", {"task": task, "codec": codec, "preset": preset, "overrides": list(overrides),
                                        "manifest": str(manifest), "cache_dir": str(cache.dir),
                                        "codebook_size": codec_obj.codebook_size})
    if until == "tokenize":
        return []
    ctx = build_context(task_obj, cfg, manifest, cache, run_dir, codec_obj.codebook_size)
    bud = budget(cfg, task_obj.shapes(cfg))
    write_json(run_dir / "budget.json", bud)
    stage("train")
    ckpts = {s: train_stage(task_obj, ctx, s, device, nproc, log) for s in task_obj.shapes(cfg)}
    end("train")
    if until == "train":
        return []
    items = task_obj.test_items(ctx)
    if codec_obj.decodes:
        stage("generate + decode")
        log(f"generate: {len(items)} test items, variants {', '.join(task_obj.variants)}")
        generate_stage(task_obj, ctx, items, device, log)
        if until == "generate":
            log(f"run: stopped after generate (--until); bring {run_dir} back and rerun without --until to score")
            return []
        audio = decode_stage(task_obj, ctx, codec_obj, items)
        end("generate + decode")
        stage("score")
        out = task_obj.score(ctx, items, audio, SCORE_SR, log=log)
        end("score")
    else:  # nothing to hear: every metric of the samples is unavailable, with the reason; readiness still runs
        log(f"generate, decode, score: skipped ({codec_obj.no_decoder()})")
        out = unheard(task_obj, cfg, codec_obj.no_decoder(), len(items))

    from bench.results import make_record

    extra = {"lm_ckpt": {s: _weights_sha(run_dir, s) for s in ckpts}, "token_cache": cache.dir.name,
             "wall_s": {**wall, "total": round(time.time() - t_start, 2)},
             "train_curve": {s: _train_curve(run_dir, s) for s in ckpts}, "run_dir": _rel_run_dir(run_dir, data_dir),
             **task_obj.record_extra(ctx)}
    facts = codec_facts(codec_obj, cfg.data.n_q)
    data = data_facts(task_obj, ctx, manifest, items)
    as_trained = _budget_record(cfg, task_obj.shapes(cfg), run_dir, ckpts)
    run_id = f"{task}/{variant}/{codec}-{cfg.hash}"

    def rec(r: dict, kind: str, codec_name: str, rid: str, n_q: int | None, **typed) -> dict:
        typed.setdefault("data", data)
        return make_record(run_id=rid, kind=kind, task=task, codec=codec_name, preset=variant, metric=r["metric"],
                           backend=r["backend"], value=r["value"], n=r["n"], ci_low=r.get("ci_low"),
                           ci_high=r.get("ci_high"), higher_is_better=r.get("higher_is_better"), config_hash=cfg.hash,
                           variant={"decode": r["variant"], "n_q": n_q, "base_preset": preset,
                                    "overrides": list(overrides)},
                           scorer=r.get("scorer"), per_item=r.get("per_item"), **typed)

    recs = [rec(r, "task", codec, run_id, cfg.data.n_q, codec_facts=facts, budget=as_trained,
                extra={**r.get("extra", {}), **extra}) for r in out["records"]]
    ready, ready_data = readiness_fields(task_obj, ctx, manifest, ckpts, log)
    recs += [rec(r, "task", codec, run_id, cfg.data.n_q, codec_facts=facts, budget=as_trained, data=ready_data,
                 extra={**extra, **r["extra"]}) for r in ready]
    rec_path = records_path(variant, task, codec, results_dir)
    clean_temps(rec_path.parent, targets=[rec_path.name])  # this cell's own file: ours alone (the run lock)
    clean_temps(rec_path.parent, older_than=STALE_S)  # the folder's other files have writers of their own
    with all_or_nothing():  # a kill in here leaves every file as it was; done.json follows them all
        _write_records(rec_path, recs)
        if out["reference"]:
            ref = [rec(r, "reference", "reference", f"{task}/{variant}/reference-{cfg.hash}", None,
                       extra=r.get("extra", {})) for r in out["reference"]]
            _write_records(records_path(variant, task, "reference", results_dir), ref)
        write_text(run_dir / "scores.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in out["items"]))
        write_text(run_dir / "records.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in recs))
    write_json(done, {"records": len(recs), "wall_s": extra["wall_s"], "codec_id": facts["codec_id"]})
    for r in recs:
        log(f"  {r['metric']:<16} {r['backend']['name']:<32} {_fmt(r['value'])}  (n={r['n']})")
    log(f"run: done in {time.time() - t_start:.0f} s; records -> {rec_path}")
    return recs


def unheard(task_obj, cfg: TaskConfig, why: str, n: int) -> dict:
    """The task's score output for a codec whose tokens cannot be heard: each metric x variant unavailable."""
    from bench.tasks.score import metric_of, unavailable

    recs = [{**unavailable(name, why, n), "metric": f"{metric_of(name)}@{v}", "variant": v}
            for name in cfg.metrics for v in task_obj.variants]
    return {"records": recs, "reference": [], "items": []}


def codec_facts(codec_obj, n_q: int) -> dict:
    """The record's ``codec_facts``: what the LM's tokens came from, at the ``n_q`` the task models."""
    from bench.tasks.tokens import codec_identity

    w = codec_obj.weights()
    return {"codec_id": codec_identity(codec_obj), "weights": w.source, "origin": w.origin, "teacher": w.teacher,
            "frame_rate": float(codec_obj.frame_rate), "codebook_size": int(codec_obj.codebook_size), "n_q": n_q,
            "kbps": round(codec_obj.bitrate(n_q) / 1000, 3)}


def data_facts(task_obj, ctx, manifest: Path, items: list[dict]) -> dict:
    """The record's ``data``: which build, which scored items, how many voices, how they were chosen."""
    from bench.data.subset import describe, test_set_hash
    from bench.tasks.score import groups_of
    from bench.tasks.tokens import data_hash

    build = data_hash(manifest)
    groups = groups_of(items, task_obj.group_field)
    return {"build_hash": build, "test_set_hash": test_set_hash(build, [it["id"] for it in items]),
            "items": len(items), "speakers": None if groups is None else len(set(groups)),
            "subset": describe(len(task_obj.test_candidates(ctx)), ctx.cfg.data.max_test_items)}


def readiness_fields(task_obj, ctx, manifest: Path, stages, log) -> tuple[list[dict], dict | None]:
    """LM-readiness record fields from each stage's last held-out pass (``<stage>.train.json``), and the
    record's ``data`` for them: the valid utterances scored (:mod:`bench.tasks.readiness`)."""
    from bench.data.subset import describe, test_set_hash
    from bench.tasks import readiness
    from bench.tasks.lm.heldout import HeldOut
    from bench.tasks.tokens import data_hash

    out, ids = [], None
    for s in stages:
        p = ctx.run_dir / f"{s}.train.json"
        summary = json.loads(p.read_text()) if p.is_file() else {}
        held = summary.get("heldout")
        if not held:
            log(f"readiness: {s} has no held-out pass (no valid split, or trained before it existed)")
            continue
        h = HeldOut.from_json(held)
        other = summary.get("heldout_other_text") if ctx.text_field else None
        groups = [ctx.by_id[i].get(task_obj.group_field) for i in h.ids] if task_obj.group_field else None
        groups = None if groups is None or any(g in (None, "") for g in groups) else [str(g) for g in groups]
        out += readiness.records(s, h, ctx.frame_rate, groups, task_obj.record_extra(ctx),
                                 HeldOut.from_json(other) if other else None)
        ids = sorted(set(ids or []) | set(h.ids))
    if ids is None:
        return [], None
    build = data_hash(manifest)
    spk = {ctx.by_id[i].get(task_obj.group_field) for i in ids} if task_obj.group_field else set()
    n_cand = len(task_obj.valid_candidates(ctx))
    return out, {"build_hash": build, "test_set_hash": test_set_hash(build, ids), "items": len(ids),
                 "speakers": len(spk) if spk and None not in spk else None,
                 "subset": f"valid:{describe(n_cand, ctx.cfg.train.val_items)}"}


def _budget_record(cfg: TaskConfig, shapes: dict, run_dir: Path, stages) -> dict:
    """The record's ``budget``, from what each stage's trainer reported (``<stage>.train.json``)."""
    from bench.tasks.budget import record

    metas = {s: json.loads((run_dir / f"{s}.train.json").read_text()) for s in stages
             if (run_dir / f"{s}.train.json").is_file()}
    return record(cfg, shapes, metas)


def _train_curve(run_dir: Path, stage: str) -> dict:
    """The stage's down-sampled loss curve from ``<stage>.train.json``, with its held-out points
    (``val_step``, ``val_loss``) where the trainer made them; empty when absent."""
    p = run_dir / f"{stage}.train.json"
    return json.loads(p.read_text()).get("curve", {"step": [], "loss": []}) if p.is_file() else {"step": [], "loss": []}


def _rel_run_dir(run_dir: Path, data_dir) -> str:
    root = paths.data_root(data_dir)
    try:
        return str(run_dir.resolve().relative_to(root))
    except ValueError:
        return str(run_dir)


def _codec_id(codec: str, cfg: TaskConfig, data_dir) -> str | None:
    """The codec's current weights identity (cheap: no model load), None if it cannot be read."""
    from bench.codecs import get_codec
    from bench.tasks.tokens import codec_identity

    try:
        return codec_identity(get_codec(codec, preset=cfg.data.codec_preset, data_dir=data_dir))
    except Exception:  # noqa: BLE001 - an unreadable codec is handled by the run itself
        return None


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def _yaml(d: dict) -> str:
    import yaml

    return yaml.safe_dump(d, sort_keys=True)


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
