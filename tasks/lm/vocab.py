"""Special token ids and the LM's task-facing shape (no torch: imported by light task modules)."""

from __future__ import annotations

from dataclasses import dataclass

IGNORE = -100  # target id that the loss skips

# audio special ids, appended after the code slots: vocab = audio_vocab + N_SPECIAL
PAD, BOS, EOS, SEP = 0, 1, 2, 3
N_SPECIAL = 4
# text special ids (first slots of the text vocabulary)
T_PAD, T_BOS, T_EOS, T_UNK = 0, 1, 2, 3
T_SPECIAL = 4


def audio_special(audio_vocab: int, which: int) -> int:
    return audio_vocab + which


@dataclass
class LMShape:
    """What a task asks of the LM besides the preset: streams, per-stream code ids, levels, causality."""

    n_streams: int = 1
    code_vocab: int = 1024  # ids per stream before specials (flatten: n_q * audio_vocab)
    n_levels: int = 0  # NAR: a level embedding tells which codebook to predict
    causal: bool = True
