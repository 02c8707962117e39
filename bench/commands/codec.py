"""Verbs ``train-codec``, ``eval-codec`` and ``weights fetch`` (option parsing only; the work is in bench.train,
bench.codec_eval and bench.codecs.hf)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    weights_app = typer.Typer(help="Published codec weights: fetch them where the internet is reachable.")
    app.add_typer(weights_app, name="weights")

    @weights_app.command("fetch")
    def weights_fetch_cmd(
        name: str = typer.Argument(..., help="A codec whose weights are a hub checkpoint: mimi, xcodec-hf, ..."),
        to: Path | None = typer.Option(None, "--to", help="Download into this folder (then pass it as --weights) "
                                       "instead of the Hugging Face hub cache."),
    ) -> None:
        """Download a codec's published checkpoint (huggingface_hub). Needs BENCH_ONLINE=1; refuses at once offline."""
        from bench.codecs.hf import fetch_weights

        typer.echo(str(fetch_weights(name, to)))

    @app.command("train-codec")
    def train_codec_cmd(
        name: str = typer.Argument(..., help="A trainable codec: xcodec, xcodec-acoustic, encodec@here, ..."),
        preset: str = typer.Option("smoke", "--preset", help="smoke | cpu | small | paper"),
        sets: list[str] = typer.Option([], "--set", help="Override a config value: --set train.steps=100"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="Data root (default $BENCH_DATA or ./data)."),
        device: str = typer.Option("cpu", "--device", help="cpu | cuda | cuda:N"),
        manifest: Path | None = typer.Option(None, "--manifest", help="Train on this manifest instead of the "
                                             "data the preset names (train.recipe, train.data_preset)."),
        threads: int = typer.Option(0, "--threads", help="CPU threads (0: torch default)."),
    ) -> None:
        """Train a codec (resumes a killed run; a finished run is a no-op). Writes data/codecs/NAME/PRESET-HASH/."""
        import torch

        from bench.train.run import train_codec

        if threads:
            torch.set_num_threads(threads)
        out = train_codec(name, preset, sets, data_dir, device, manifest)
        typer.echo(str(out))

    @app.command("eval-codec")
    def eval_codec_cmd(
        names: list[str] = typer.Argument(..., help="Codecs to evaluate side by side."),
        preset: str = typer.Option("smoke", "--preset", help="Data preset of the test split."),
        recipe: str = typer.Option("speech", "--recipe", help="Data recipe of the test split (speech | grammar | "
                                   "speech-real | folder)."),
        codec_preset: str | None = typer.Option(None, "--codec-preset", help="Codec preset (default: same)."),
        data_dir: Path | None = typer.Option(None, "--data-dir"),
        results_dir: Path | None = typer.Option(None, "--results-dir", help="Results root (default ./results)."),
        device: str = typer.Option("cpu", "--device"),
        limit: int = typer.Option(0, "--limit", help="Evaluate N test clips, a seeded equal share per speaker "
                                  "(0: all)."),
        no_wer: bool = typer.Option(False, "--no-wer", help="Skip the ASR probe."),
        asr: str = typer.Option("faster-whisper-tiny.en", "--asr", help="ASR backend of the WER probe "
                                "(faster-whisper-tiny.en | faster-whisper-base | ...; `bench metrics`)."),
    ) -> None:
        """Reconstruction scores per n_q (PESQ, STOI, mel, SI-SDR, WER at n_q=1 and full), RTF, token stats."""
        from bench.codec_eval import evaluate, print_comparisons, print_table
        from bench.codecs import CODECS

        for name in names:  # an unknown name fails before any data is built or scored
            CODECS.meta(name)
        records = evaluate(names, preset, codec_preset, data_dir, device, limit or None, wer=not no_wer,
                           results_dir=results_dir, recipe=recipe, asr=asr)
        print_table(records)
        print_comparisons(records)
