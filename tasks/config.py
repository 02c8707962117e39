"""Task presets as data: one frozen dataclass tree shared by tts, music and sound.

Nothing here depends on the codec: a preset (plus ``--set`` overrides) fully fixes the LM, its
budget and its sampling, so every codec run of one preset gets the same config and config hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.config import config_hash_neutral, load_preset, to_dict


@dataclass(frozen=True)
class DataCfg:
    recipe: str  # data recipe the task trains and tests on
    preset: str  # data preset (smoke/small/paper)
    codec_preset: str  # preset of trained-here codecs (published codecs ignore it)
    n_q: int  # codebooks the LM models (VALL-E: 8; music/sound: 4), the same for every codec
    prompt_seconds: float = 3.0  # acoustic prompt (tts) / music prompt length
    max_train_seconds: float = 10.0  # longer training utterances are cropped to this
    gen_seconds: float = 4.0  # music continuation / sound clip length to generate
    max_gen_seconds: float = 12.0  # tts: cap on generated speech length
    min_gen_seconds: float = 0.5  # tts: EOS is not sampled before this
    max_test_items: int = 0  # 0 = every test item; else a seeded subset, equal share per voice/group
    pattern: str = "delay"  # music/sound codebook pattern: "delay" or "flatten"
    # tts protocol: "continuation" (the prompt is the first prompt_seconds of the same utterance, VALL-E's
    # continuation task) or "cross" (a clip of another utterance of the same voice). The default keeps the
    # presets made before the field existed; new presets say "continuation" (docs/TASKS.md)
    tts_mode: str = "cross"
    # tts text the LM reads: "phonemes" (the manifest's IPA string, one token per symbol) or "words" (its text,
    # one token per lower-cased word: for closed-vocabulary recipes such as grammar, docs/TASKS.md)
    tts_text: str = "phonemes"
    # tts continuation mode: what the ASR hears when WER scores the continuation. "none": the continuation
    # alone (a fragment that starts at the cut); "prompt": the clean prompt then the row's continuation, as one
    # recording, and only the words whose middle lies after the cut are scored (docs/TASKS.md: a fragment drops or
    # mishears its first word on clean audio too)
    asr_context: str = "none"


@dataclass(frozen=True)
class LMCfg:
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    ffn_mult: int = 4
    dropout: float = 0.1
    audio_vocab: int = 1024  # code slots per codebook; every codec's codebook_size must fit (equal params)
    text_vocab: int = 512  # text/phoneme/caption token slots, fixed so params do not depend on data


@dataclass(frozen=True)
class TrainCfg:
    steps: int = 1000  # optimizer steps per model (AR and NAR each)
    batch_size: int = 16  # sequences per step (global, across DDP ranks)
    lr: float = 3e-4
    warmup: int = 100
    min_lr_ratio: float = 0.1  # cosine decays to lr * this
    weight_decay: float = 0.01
    betas: tuple[float, ...] = (0.9, 0.95)
    grad_clip: float = 1.0
    seed: int = 0
    ckpt_every: int = 100
    log_every: int = 10
    val_every: int = 0  # steps between held-out (valid split) passes; 0 = only the pass after the last step
    val_items: int = 0  # valid utterances per pass: 0 = all, else a seeded subset with an equal share per voice
    compile: bool = False  # torch.compile the model (GPU)
    # Guided attention (tts AR only, bench.tasks.lm.align): weight of the loss pulling the first align_heads
    # heads of layer align_layer toward the text-audio diagonal (width align_sigma); 0 = off
    align_weight: float = 0.0
    align_sigma: float = 0.2
    align_layer: int = 1
    align_heads: int = 2
    # where the diagonal puts each text key: "uniform" (key n of N at n / (N - 1)) or "letters" (each word's
    # share of the reading in proportion to its letters + 1; bench.tasks.lm.align.key_positions), or
    # "letters-span" (letters, laid over the clip's speech span alone, leading and trailing silence excluded:
    # bench.tasks.lm.align.speech_span)
    align_prior: str = "uniform"
    # tts AR: fraction of the input codes replaced by random codes (targets untouched), so that the next frame
    # cannot be read off the previous ones alone and the text has to carry the words; 0 = off
    input_noise: float = 0.0
    # tts AR: fraction of training examples whose text is the empty text (BOS, EOS), so the model also learns
    # the text-free continuation that classifier-free guidance (generate.cfg_scale) contrasts; 0 = off
    text_dropout: float = 0.0
    precision: str = "auto"  # auto: bf16 autocast + TF32 on CUDA, fp32 on CPU; or "fp32"/"bf16"


@dataclass(frozen=True)
class GenCfg:
    seed: int = 1234
    temperature: float = 1.0
    top_k: int = 50
    # tts AR: classifier-free guidance, log p = c + cfg_scale x (c - u), c with the text and u with the empty
    # text (needs train.text_dropout > 0); 0 = off. Doubles the AR's generation cost.
    cfg_scale: float = 0.0


@dataclass(frozen=True)
class TaskConfig:
    task: str
    data: DataCfg
    lm: LMCfg = field(default_factory=LMCfg)
    train: TrainCfg = field(default_factory=TrainCfg)
    generate: GenCfg = field(default_factory=GenCfg)
    metrics: tuple[str, ...] = ()  # metric backends, e.g. "wer/faster-whisper-tiny.en"

    def __post_init__(self) -> None:
        if self.data.tts_text not in TTS_TEXTS:
            raise ValueError(f"data.tts_text={self.data.tts_text!r}; known: {', '.join(TTS_TEXTS)}")
        if self.data.asr_context not in ASR_CONTEXTS:
            raise ValueError(f"data.asr_context={self.data.asr_context!r}; known: {', '.join(ASR_CONTEXTS)}")
        if self.data.asr_context != "none" and self.data.tts_mode != "continuation":
            raise ValueError(f"data.asr_context={self.data.asr_context!r} needs data.tts_mode: continuation (only "
                             "a continuation has a prompt of the same recording to hear it in)")
        if not 0 <= self.train.input_noise < 1:
            raise ValueError(f"train.input_noise={self.train.input_noise}: a fraction in [0, 1)")
        if not 0 <= self.train.text_dropout < 1:
            raise ValueError(f"train.text_dropout={self.train.text_dropout}: a fraction in [0, 1)")
        if self.generate.cfg_scale < 0:
            raise ValueError(f"generate.cfg_scale={self.generate.cfg_scale}: >= 0 (0 = no guidance)")
        if self.generate.cfg_scale > 0 and self.train.text_dropout <= 0:
            raise ValueError(f"generate.cfg_scale={self.generate.cfg_scale} needs train.text_dropout > 0: the AR "
                             "must have learned the text-free continuation that guidance contrasts")
        t, lm = self.train, self.lm
        if t.align_prior not in ALIGN_PRIORS:
            raise ValueError(f"train.align_prior={t.align_prior!r}; known: {', '.join(ALIGN_PRIORS)}")
        if t.align_weight > 0 and not (0 <= t.align_layer < lm.n_layers and 0 < t.align_heads <= lm.n_heads):
            raise ValueError(f"train.align_layer={t.align_layer} / align_heads={t.align_heads}: the LM has "
                             f"{lm.n_layers} layers of {lm.n_heads} heads")

    @property
    def hash(self) -> str:
        """Config hash without the fields listed in :data:`HASH_NEUTRAL` while they hold their neutral value."""
        return config_hash_neutral(to_dict(self), HASH_NEUTRAL)


# Fields added after runs and records existed, with the value that reproduces the behaviour from before
# them. The hash leaves such a field out while it holds that value, so the older presets keep their config
# hash (their run folders and records stay theirs) and a preset that sets the field gets a new one.
HASH_NEUTRAL: dict[tuple[str, str], object] = {
    ("data", "tts_mode"): "cross",
    ("train", "val_every"): 0,
    ("train", "val_items"): 0,
    ("train", "align_weight"): 0.0,
    ("train", "align_sigma"): 0.2,
    ("train", "align_layer"): 1,
    ("train", "align_heads"): 2,
    ("train", "align_prior"): "uniform",
    ("train", "input_noise"): 0.0,
    ("train", "text_dropout"): 0.0,
    ("generate", "cfg_scale"): 0.0,
    ("data", "tts_text"): "phonemes",
    ("data", "asr_context"): "none",
}
ASR_CONTEXTS = ("none", "prompt")
TTS_MODES = ("continuation", "cross")
ALIGN_PRIORS = ("uniform", "letters", "letters-span")
TTS_TEXTS = {"phonemes": ("phonemes", "char"), "words": ("text", "word")}  # -> (manifest field, token unit)


def load_task_config(task: str, preset: str, overrides: tuple[str, ...] | list[str] = ()) -> TaskConfig:
    """``<task>.<preset>.yaml`` from the registered task's ``config_dir`` (a plugin task ships its own)."""
    from bench.tasks import TASKS

    path = TASKS.get(task).preset_path(preset)  # FileNotFoundError names the presets there
    cfg = load_preset(TaskConfig, path, overrides)
    if cfg.task != task:
        raise ValueError(f"{path}: task field {cfg.task!r} != {task!r}")
    return cfg


__all__ = ["ASR_CONTEXTS", "HASH_NEUTRAL", "TTS_MODES", "TTS_TEXTS", "DataCfg", "GenCfg", "LMCfg", "TaskConfig",
           "TrainCfg", "load_task_config", "to_dict"]
