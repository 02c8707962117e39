import numpy as np
import pytest

from bench.tasks.lm import patterns


@pytest.mark.parametrize("n_q", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("length", [0, 1, 5, 37])
def test_patterns_round_trip(n_q, length):
    rng = np.random.default_rng(n_q * 100 + length)
    codes = rng.integers(0, 1024, size=(n_q, length))
    d = patterns.delay(codes, pad=9999)
    assert d.shape == (n_q, length + n_q - 1) if length else True
    assert np.array_equal(patterns.undelay(d), codes)
    f = patterns.flatten(codes, 1024)
    assert f.shape == (1, n_q * length)
    assert np.array_equal(patterns.unflatten(f, n_q, 1024), codes)
    for kind in ("delay", "flatten"):
        assert np.array_equal(patterns.unpattern(patterns.pattern(codes, kind, 1024, 9999), kind, n_q, 1024), codes)
    ar, nar = patterns.split_ar_nar(codes)
    assert ar.shape[0] == 1 and nar.shape[0] == n_q - 1
    assert np.array_equal(patterns.merge_ar_nar(ar, nar), codes)


def test_delay_layout_is_shifted_by_level():
    codes = np.arange(12).reshape(3, 4)
    d = patterns.delay(codes, pad=-1)
    assert d[0].tolist() == [0, 1, 2, 3, -1, -1]
    assert d[2].tolist() == [-1, -1, 8, 9, 10, 11]
    assert patterns.delay_known(2, 2, 4) and not patterns.delay_known(2, 1, 4)
    # flatten keeps each level's ids apart
    assert patterns.flatten(codes, 100)[0, :3].tolist() == [0, 104, 208]
