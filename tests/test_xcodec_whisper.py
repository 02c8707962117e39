"""The CTranslate2 -> openai-whisper conversion: both runtimes give the same encoder output."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
whisper = pytest.importorskip("whisper")
pytest.importorskip("faster_whisper")


def test_converted_encoder_matches_faster_whisper(tmp_path):
    from faster_whisper import WhisperModel

    from bench.whisper_convert import convert_ct2_to_openai, ct2_model_dir

    try:
        src = ct2_model_dir("tiny.en")
    except FileNotFoundError as e:
        pytest.skip(str(e))
    torch.set_num_threads(1)
    pt = convert_ct2_to_openai(src, tmp_path / "tiny.en.pt")
    ck = torch.load(pt, weights_only=True)
    assert ck["dims"]["n_audio_state"] == 384 and ck["dims"]["n_audio_layer"] == 4
    model = whisper.load_model(str(pt), device="cpu").float()  # strict load: every name mapped
    t = np.arange(16000 * 2) / 16000
    x = (0.3 * np.sin(2 * np.pi * 200 * t * (1 + t))).astype(np.float32)  # a 2 s chirp
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(x)))
    with torch.no_grad():
        a = model.encoder(mel[None])[0].numpy()
    fw = WhisperModel(str(src), device="cpu", compute_type="float32", local_files_only=True, cpu_threads=1)
    feat = fw.feature_extractor(whisper.pad_or_trim(x))[:, :3000]
    b = np.array(fw.encode(feat[None]))[0]
    assert a.shape == b.shape == (1500, 384)
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    assert cos.min() > 0.999, cos.min()


def test_whisper_teacher_frames_follow_the_codec(tmp_path):
    from bench.codecs.xcodec.teachers import WhisperTeacher

    try:
        t = WhisperTeacher("tiny.en", data_dir=tmp_path)
    except Exception as e:  # noqa: BLE001 - offline weights missing
        pytest.skip(str(e))
    x = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    f = t.features(x, 16000, 50)
    assert f.shape == (384, 50) and np.isfinite(f).all()


def test_hubert_teacher_unavailable_offline_says_how_to_get_it(monkeypatch, tmp_path):
    from bench.codecs.xcodec.teachers import HubertTeacher, get_teacher
    from bench.train.teacher import TeacherUnavailable

    monkeypatch.setenv("BENCH_HUBERT_PATH", str(tmp_path / "no-such-model"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(TeacherUnavailable, match="BENCH_HUBERT_PATH"):
        get_teacher("hubert-base")
    assert HubertTeacher.dim == 768
