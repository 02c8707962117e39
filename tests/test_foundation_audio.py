import numpy as np
import pytest
import soundfile as sf

from bench.audio import AudioError, load, write


def test_round_trip_and_resample(tmp_path, tone):
    x, sr = tone
    p = write(tmp_path / "a.wav", x, sr)
    y, sr2 = load(p)
    assert sr2 == sr and y.shape == x.shape and np.max(np.abs(y - x)) < 1e-3
    y8, sr8 = load(p, sr=8000)
    assert sr8 == 8000 and abs(len(y8) - 8000) <= 1
    f = write(tmp_path / "a.flac", x, sr)
    assert load(f)[0].shape == x.shape


def test_stereo_is_mixed_to_mono(tmp_path, tone):
    x, sr = tone
    st = np.stack([x, 0.5 * x], axis=1)
    sf.write(tmp_path / "st.wav", st, sr)
    y, _ = load(tmp_path / "st.wav")
    assert y.ndim == 1 and np.allclose(y, 0.75 * x, atol=1e-3)
    both, _ = load(tmp_path / "st.wav", mono=False)
    assert both.shape == (2, sr)


@pytest.mark.parametrize(
    "name, make, problem",
    [
        ("empty.wav", lambda p, x, sr: p.write_bytes(b""), "empty file"),
        ("corrupt.wav", lambda p, x, sr: p.write_bytes(b"RIFF\x00\x00garbage" * 10), "not decodable"),
        ("text.wav", lambda p, x, sr: p.write_text("hello, I am not audio\n" * 50), "not decodable"),
        ("nan.wav", lambda p, x, sr: sf.write(p, np.where(np.arange(len(x)) == 5, np.nan, x), sr, subtype="FLOAT"),
         "NaN"),
        ("silent.wav", lambda p, x, sr: sf.write(p, np.zeros_like(x), sr), "all silent"),
        ("short.wav", lambda p, x, sr: sf.write(p, x[:100], sr), "too short"),
        ("clipped.wav", lambda p, x, sr: sf.write(p, np.clip(x * 10, -1, 1), sr), "clipped"),
    ],
)
def test_loader_rejects_bad_files_naming_file_and_problem(tmp_path, tone, name, make, problem):
    x, sr = tone
    p = tmp_path / name
    make(p, x, sr)
    with pytest.raises(AudioError) as e:
        load(p)
    assert name in str(e.value) and problem in str(e.value)


def test_truncated_file(tmp_path, tone):
    x, sr = tone
    p = tmp_path / "full.wav"
    sf.write(p, x, sr, subtype="PCM_16")
    data = p.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])  # header still claims the full length
    with pytest.raises(AudioError, match="cut.wav: truncated"):
        load(cut)


def test_missing_and_wrong_rate(tmp_path, tone):
    with pytest.raises(AudioError, match="no such file"):
        load(tmp_path / "nope.wav")
    x, sr = tone
    p = write(tmp_path / "r.wav", x, 22050)
    y, r = load(p, sr=16000)
    assert r == 16000 and abs(len(y) - round(len(x) * 16000 / 22050)) <= 1


def test_atomic_write_leaves_no_temp_on_failure(tmp_path, tone):
    x, sr = tone
    with pytest.raises(AudioError, match="unsupported output format"):
        write(tmp_path / "a.mp4", x, sr)
    assert list(tmp_path.iterdir()) == []


def test_atomic_writes_follow_the_umask(tmp_path):
    """mkstemp creates 0600 files; an atomic write must leave the mode a plain open() would (0644 at umask 022)."""
    import os

    from bench.atomic import write_text

    old = os.umask(0o022)
    try:
        p = write_text(tmp_path / "a.txt", "x")
        assert (p.stat().st_mode & 0o777) == 0o644
        os.umask(0o077)
        assert (write_text(tmp_path / "b.txt", "y").stat().st_mode & 0o777) == 0o600
    finally:
        os.umask(old)
    assert sorted(q.name for q in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no temp file left behind
