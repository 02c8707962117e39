"""Checks every codec plugin must pass, shared by the test modules of each codec family."""

from __future__ import annotations

import pytest
import torch


def assert_bad_input_rejected(codec) -> None:
    """Stereo, integer samples and more levels than the codec has are refused by name, before any model loads."""
    with pytest.raises(ValueError, match="mono"):
        codec.encode(torch.zeros(1, 2, 1600))
    with pytest.raises(ValueError, match="float"):
        codec.encode(torch.zeros(1, 1, 1600, dtype=torch.int16))
    with pytest.raises(ValueError, match="n_q"):
        codec.encode(torch.zeros(1, 1, 1600), n_q=codec.n_codebooks + 1)
