"""Plots are produced from the fixture records, decode as images and are not blank; links are in the report."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.report.build import write_report
from bench.report.plots import read_train_log

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rep")
    shutil.copytree(FIX / "records", root / "records")
    write_report(root, date="d")
    return root


@pytest.mark.parametrize("name", ["smoke/bitrate_tts", "smoke/codec_speech", "smoke/train_tts",
                                  "smoke/wer_items_tts", "smoke/bitrate_music", "small/bitrate_tts"])
def test_plot_is_a_real_nonblank_image(rendered, name):
    import matplotlib.image as mpimg

    png, svg = rendered / f"plots/{name}.png", rendered / f"plots/{name}.svg"
    assert png.stat().st_size > 10_000 and svg.stat().st_size > 5_000
    img = mpimg.imread(png)
    assert img.shape[0] > 200 and img.shape[1] > 300
    assert np.asarray(img[..., :3]).std() > 0.05  # something drawn, not a blank canvas
    assert svg.read_text().lstrip().startswith("<?xml")


def test_leaderboard_links_every_png_it_names(rendered):
    text = (rendered / "LEADERBOARD.md").read_text()
    links = [line.split("](", 1)[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]
    assert "plots/smoke/bitrate_tts.png" in links and "plots/smoke/train_tts.png" in links
    assert all((rendered / link).is_file() for link in links)


def test_train_log_csv_from_run_dir(tmp_path):
    run = tmp_path / "runs/tts/smoke/xcodec-abc"
    run.mkdir(parents=True)
    (run / "train_log.csv").write_text("step,loss,val_loss\n0,6.0,\n100,4.0,4.2\n200,3.0,3.3\n")
    log = read_train_log(run / "train_log.csv")
    assert log["step"] == [0, 100, 200] and log["loss"] == [6.0, 4.0, 3.0] and np.isnan(log["val_loss"][0])
    (tmp_path / "records/smoke").mkdir(parents=True)
    rec = json.loads((FIX / "records/smoke/tts__dac-16khz.jsonl").read_text().splitlines()[0])
    rec["extra"].pop("train_curve")
    rec["extra"]["run_dir"] = "runs/tts/smoke/xcodec-abc"  # relative to the data root
    (tmp_path / "records/smoke/tts__dac-16khz.jsonl").write_text(json.dumps(rec) + "\n")
    write_report(tmp_path, date="d", data_root=tmp_path)
    assert (tmp_path / "plots/smoke/train_tts.png").stat().st_size > 10_000
