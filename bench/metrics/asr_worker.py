"""One decoding process of faster-whisper's worker pool (``asr._fw_pool``): ``python -m bench.metrics.asr_worker
SIZE`` reads pickled ``(audio16k, seed)`` from stdin and writes a pickled ``Transcript`` per clip to stdout.

A plain subprocess, not multiprocessing: its spawn start re-imports the caller's ``__main__``, which fails
for a script without an ``if __name__ == "__main__"`` guard, and a fork would copy torch's OpenMP threads.
"""

from __future__ import annotations

import os
import pickle
import sys


def main() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"  # one CPU thread per worker (asr._new_fw_model reads it)
    size = sys.argv[1]
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what a library prints goes to stderr, not into the pickles
    from bench.metrics.asr import fw_transcribe

    inp = sys.stdin.buffer
    while True:
        try:
            audio, seed = pickle.load(inp)
        except EOFError:
            return
        pickle.dump(fw_transcribe(size, audio, seed), out)
        out.flush()


if __name__ == "__main__":
    main()
