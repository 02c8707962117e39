"""``bench score``: score any folder of audio against a manifest; the work is in bench.metrics.folder."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    from bench.cli import DataDir, _fail, _table, console

    @app.command("score")
    def score_cmd(
        metric: str = typer.Option(..., "--metric", "-m", help="wer|cer|spk|mos|pesq|stoi|sisdr|mel|fad, "
                                   "or a full backend name like wer/faster-whisper-base; comma-separate several."),
        backend: str | None = typer.Option(None, "--backend", "-b", help="Backend for a single --metric "
                                           "(default: the metric's offline default; see `bench metrics`)."),
        ref: Path = typer.Option(..., "--ref", help="Manifest (JSONL) with ids, reference audio and text."),
        hyp_dir: Path = typer.Option(..., "--hyp-dir", help="Folder of .wav/.flac named <manifest id>.wav."),
        out: Path | None = typer.Option(None, "--out", help="Records file (default <hyp-dir>/scores.jsonl)."),
        split: str | None = typer.Option(None, "--split", help="Only manifest rows of this split."),
        codec: str | None = typer.Option(None, "--codec", help="Label for the records (default: hyp-dir name)."),
        preset: str = typer.Option("custom", "--preset", help="Preset label written on the records."),
        reference: bool | None = typer.Option(None, "--reference/--no-reference", help="Also score the clean "
                                              "reference audio (default: on for wer, cer, mos)."),
        weights: Path | None = typer.Option(None, "--weights", help="Local weights for a paper-tier backend."),
        data_dir: Path | None = DataDir,
    ) -> None:
        """Score a folder of audio with metric backends; write records and print a table.

        Each hypothesis is checked first (unreadable, NaN/Inf, silent, wrong sample rate, length far from the
        reference, missing, extra: docs/METRICS.md); failures are dropped, listed, and not counted in n."""
        import os

        if data_dir is not None:
            os.environ["BENCH_DATA"] = str(data_dir)
        from bench.metrics.base import BackendUnavailable
        from bench.metrics.folder import ScoreError, score_folder, write_records
        from bench.metrics.scoring import resolve_name
        from bench.metrics.weights import set_weights_override

        names = [m.strip() for m in metric.split(",") if m.strip()]
        if backend:
            if len(names) != 1 or "/" in names[0]:
                _fail("--backend goes with a single bare --metric (e.g. --metric wer --backend faster-whisper-base)")
            names = [f"{names[0]}/{backend}"]
        records = []
        try:
            for n in names:
                full = resolve_name(n)
                if weights is not None:
                    set_weights_override(full.split("/", 1)[1], weights)
                records += score_folder(full, ref, hyp_dir, split=split, codec=codec, preset=preset,
                                        with_reference=reference)
        except (BackendUnavailable, ScoreError, KeyError, ValueError) as e:
            _fail(str(e))
        path = write_records(out or hyp_dir / "scores.jsonl", records)
        _print_dropped(records, _table)
        rows = [{"metric": r["backend"]["name"], "codec": r["codec"], "value": _f(r["value"]), "n": r["n"],
                 "95% CI": f"[{_f(r['ci_low'])}, {_f(r['ci_high'])}]",
                 "better": "higher" if r["higher_is_better"] else "lower"} for r in records]
        _table(rows, ["metric", "codec", "value", "n", "95% CI", "better"], f"scores of {hyp_dir}")
        console.print(f"records: {path}")


def _print_dropped(records: list[dict], table) -> None:
    """Hypotheses left out of the scores: one line per (id, reason), with the metrics that dropped it."""
    seen: dict[tuple[str, str, str], list[str]] = {}
    for r in records:
        extra, metric = r.get("extra", {}), r["backend"]["name"]
        why = extra.get("dropped_why") or {}
        for reason, ids in (extra.get("dropped") or {}).items():
            for i in ids:
                ms = seen.setdefault((i, reason, why.get(i, "")), [])
                ms += [] if metric in ms else [metric]  # the reference row of a metric drops the same items
    rows = [{"id": i, "reason": k, "detail": d, "metrics": ", ".join(ms)} for (i, k, d), ms in seen.items()]
    if rows:
        table(rows, ["id", "reason", "detail", "metrics"], f"{len(rows)} dropped (not scored, not counted in n)")


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"
