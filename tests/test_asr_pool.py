"""The faster-whisper worker pool: how many workers, and a worker that dies is a named error, not a hang."""

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics import asr


def test_worker_count_from_env(monkeypatch):
    monkeypatch.setenv("BENCH_ASR_WORKERS", "3")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert asr.asr_workers() == 3
    monkeypatch.delenv("BENCH_ASR_WORKERS")
    assert asr.asr_workers() == 1  # a launcher's (or the test suite's) one thread: decode in this process
    monkeypatch.setenv("BENCH_ASR_WORKERS", "two")
    with pytest.raises(ValueError, match="BENCH_ASR_WORKERS='two'"):
        asr.asr_workers()


def test_one_worker_decodes_in_process(monkeypatch):
    monkeypatch.setenv("BENCH_ASR_WORKERS", "1")
    assert asr._fw_pool("tiny.en") is None


def test_dead_worker_is_a_named_error():
    pool = asr._Workers("no-such-size", 2)  # each worker fails when it loads the model for its first clip
    try:
        with pytest.raises(RuntimeError, match=r"faster-whisper-no-such-size worker \d+ died"):
            pool.map([np.zeros(1600, np.float32)] * 3, [0, 1, 2])
    finally:
        pool.close()
    assert all(p.returncode not in (None, 0) for p in pool.procs)
