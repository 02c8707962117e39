"""Published codecs through transformers (5.24): one adapter family, one small class per codec.

Each class is mostly data: the hub repository, the transformers model class, the feature extractor to build
when a checkpoint ships none, the licence, and the published figures (rate, hop, codebooks, codebook size),
typed here so that ``bench codecs`` lists them without importing torch; tests/test_hf_codecs.py checks them
against the library's own config (its defaults plus the few fields a published config.json overrides,
``published_config``). The work is the library's: its feature extractor, its ``encode`` and ``decode``.

Weights: ``--weights DIR`` (a ``save_pretrained`` folder) > ``$BENCH_WEIGHTS_<NAME>`` > the HF hub cache
(``hf_hub_dir()``), loaded with ``local_files_only=True``; only when nothing is found and ``BENCH_ONLINE=1``
does transformers download. ``bench weights fetch NAME`` fills the hub cache on purpose
(:func:`fetch_weights`) and refuses at once when offline.

Precision: fp32 unless ``precision=`` says otherwise (some tokenizers flip codes under bf16). ``summary()``
records it, and a non-fp32 precision is part of the weight source, so token caches never mix precisions.

Quirks, from the modeling files:
- ``xcodec-hf``, ``higgs-audio-tokenizer``, ``encodec-24khz-hf``: ``encode(bandwidth=)`` takes only
  ``config.target_bandwidths``; ``n_q`` is served by the smallest covering bandwidth and its first ``n_q``
  levels (RVQ codes are prefix-consistent).
- ``xcodec2``: its feature extractor appends one sample before padding to the hop, so F = ceil((T+1)/320),
  one frame more than T/320 when T is a multiple of the hop (:meth:`Xcodec2HF.n_frames`); codes are int32
  in the library, int64 here.
- ``dac-16khz-hf``: ``decode`` returns [B, T] and 8 samples short, as the original DAC; padded like it.
- ``xcodec2`` and ``wavtokenizer`` have one codebook, so ``n_q`` is 1.

Not built here, and why (same transformers release):
- ``NeuCodecModel`` (neuphonic/neucodec): it encodes 16 kHz audio and decodes at 24 kHz, and the codec
  protocol has one rate for both; an adapter would have to resample the library's output.
- SNAC, BigCodec, DualCodec, S3Tokenizer: not in transformers; their own packages are not installed here.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .base import WeightsStatus, WeightsUnavailable
from .library import LibraryCodec, hf_hub_dir, online, unavailable

if TYPE_CHECKING:
    import torch

PRECISIONS = ("float32", "bfloat16", "float16")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")

Figures = tuple[int, int, int, int]  # sample rate, hop (samples per frame), codebooks, codebook size


class FetchRefused(WeightsUnavailable):
    """``bench weights fetch`` will not download: offline, or the codec's weights are not on the hub."""


def hub_snapshot(repo_id: str) -> Path:
    """The hub cache's snapshot of ``repo_id`` (``refs/main``, else any with a config.json), or the repo's
    cache folder when there is none: the path ``transformers`` would read, computed without importing it."""
    repo = hf_hub_dir() / f"models--{repo_id.replace('/', '--')}"
    ref = repo / "refs" / "main"
    if ref.is_file():
        snap = repo / "snapshots" / ref.read_text().strip()
        if (snap / "config.json").is_file():
            return snap
    snaps = sorted((repo / "snapshots").glob("*/config.json")) if (repo / "snapshots").is_dir() else []
    return snaps[-1].parent if snaps else repo


def weights_file(folder: Path) -> Path:
    """The weights file in a checkpoint folder (so a token cache's identity hashes its bytes), else the folder."""
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    return folder


class HFCodec(LibraryCodec):
    """A codec whose model, feature extractor and encode/decode calls are transformers' own."""

    repo_id: ClassVar[str] = ""
    model_class: ClassVar[str] = ""  # transformers class, loaded with from_pretrained
    config_class: ClassVar[str] = ""
    published_config: ClassVar[dict[str, Any]] = {}  # what the published config.json sets beyond the defaults
    feature_extractor: ClassVar[tuple[str, dict[str, Any]]] = ("", {})  # built when a checkpoint has none
    audio_arg: ClassVar[str] = "raw_audio"  # the feature extractor's name for the audio
    encode_inputs: ClassVar[tuple[str, ...]] = ("input_values",)  # feature-extractor outputs encode takes
    rate: ClassVar[int] = 0
    codebooks: ClassVar[int] = 1
    size: ClassVar[int] = 0

    def __init__(
        self,
        preset: str | None = None,
        weights: str | Path | None = None,
        device: str = "cpu",
        data_dir: str | Path | None = None,
        precision: str = "float32",
    ) -> None:
        super().__init__(preset=preset, weights=weights, device=device, data_dir=data_dir)
        if precision not in PRECISIONS:
            raise ValueError(f"{self.name}: precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.precision = precision
        self._fe: Any = None

    # figures (class data, no import) -----------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.rate

    @property
    def n_codebooks(self) -> int:
        return self.codebooks

    @property
    def codebook_size(self) -> int:
        return self.size

    @classmethod
    def published_figures(cls) -> Figures:
        return cls.rate, cls.hop_length, cls.codebooks, cls.size

    @staticmethod
    def figures(cfg: Any) -> Figures:
        """The same four figures read from a transformers config (checked on load and by the tests)."""
        return cfg.sample_rate, cfg.hop_length, cfg.num_quantizers, cfg.codebook_size

    # weights ------------------------------------------------------------------------------------
    @property
    def weights_env(self) -> str:  # type: ignore[override]
        return "BENCH_WEIGHTS_" + self.name.upper().replace("-", "_")

    def _resolve(self, p: Path) -> Path:
        return p.parent if p.is_file() else p  # a weights file given: its checkpoint folder

    def _library_cache(self) -> tuple[str, Path]:
        return "hub cache", hub_snapshot(self.repo_id)

    def _checkpoint(self) -> tuple[str, Path] | None:
        """The first candidate folder that holds a checkpoint (a config.json): a folder alone is not one."""
        for label, p in self._candidates():
            if p is not None and (p / "config.json").is_file():
                return label, p
        return None

    def _how(self) -> str:
        return (
            f"Run `bench weights fetch {self.name}` (or `hf download {self.repo_id}`) where the internet is "
            f"reachable; it fills the hub cache ({hf_hub_dir()}). Or copy that checkpoint folder here and pass "
            f"--weights DIR or set {self.weights_env}=DIR, or run with BENCH_ONLINE=1 so transformers downloads it."
        )

    def fetch_command(self) -> str:
        return f"bench weights fetch {self.name}"

    def _precision_note(self) -> str:
        return "" if self.precision == "float32" else f", {self.precision}"

    def weights(self) -> WeightsStatus:
        found = self._checkpoint()
        if found:
            label, path = found
            return WeightsStatus("published", f"{self.repo_id} ({label}{self._precision_note()})", True,
                                 str(weights_file(path)))
        return WeightsStatus("published", self.repo_id + self._precision_note(), False, self._how())

    def summary(self) -> dict:
        return {**super().summary(), "precision": self.precision}

    # model ---------------------------------------------------------------------------------------
    def _load(self) -> Any:
        cands = self._candidates()
        found = self._checkpoint()
        if found is None and not online():  # before importing transformers: fail fast
            raise unavailable(self.name, cands, self._how())
        import torch
        import transformers

        src, local_only = (str(found[1]), True) if found else (self.repo_id, False)
        try:  # the config first: a checkpoint of another model or other figures is refused before it is built
            cfg = transformers.AutoConfig.from_pretrained(src, local_files_only=local_only)
        except (OSError, ValueError) as e:
            raise WeightsUnavailable(f"{self.name}: no loadable config at {src} ({e}). {self._how()}") from e
        expected = getattr(transformers, self.config_class)
        got = self.figures(cfg) if isinstance(cfg, expected) else None
        if got != self.published_figures():
            what = f"figures (rate, hop, codebooks, size) {got}" if got else f"a checkpoint of {type(cfg).__name__}"
            raise WeightsUnavailable(
                f"{self.name}: {src} holds {what}, not the published {self.published_figures()} of "
                f"{self.repo_id} ({self.config_class}) — pass that checkpoint's folder"
            )
        try:
            model = getattr(transformers, self.model_class).from_pretrained(
                src, config=cfg, local_files_only=local_only, dtype=getattr(torch, self.precision))
        except OSError as e:
            msg = f"{self.name}: no loadable {self.model_class} at {src} ({e}). {self._how()}"
            raise WeightsUnavailable(msg) from e
        self._fe = self._load_feature_extractor(src, local_only)
        return model

    def _default_feature_extractor(self) -> Any:
        import transformers

        cls_name, kwargs = self.feature_extractor
        return getattr(transformers, cls_name)(**kwargs)

    def _load_feature_extractor(self, src: str, local_only: bool) -> Any:
        """The checkpoint's own preprocessor_config.json when it has one (the library's path), else the default."""
        import transformers

        if Path(src).is_dir() and not (Path(src) / "preprocessor_config.json").is_file():
            return self._default_feature_extractor()
        try:
            return transformers.AutoFeatureExtractor.from_pretrained(src, local_files_only=local_only)
        except OSError:
            return self._default_feature_extractor()

    def features(self, model: Any, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        """The library's feature extractor on each clip -> the inputs its ``encode`` takes, on the model's device
        and (floats) in its dtype."""
        if self._fe is None:
            self._fe = self._default_feature_extractor()
        audio = [x.float().cpu().numpy() for x in wav[:, 0]]
        out = self._fe(**{self.audio_arg: audio}, sampling_rate=self.sample_rate, return_tensors="pt")
        p = next(model.parameters())
        return {k: v.to(p.device, p.dtype) if v.is_floating_point() else v.to(p.device)
                for k, v in out.items() if k in self.encode_inputs and v is not None}

    # the library's own calls; subclasses change only what their model's signature needs ----------------
    def n_q_kwargs(self, model: Any, n_q: int) -> dict[str, Any]:
        return {}

    def library_encode(self, model: Any, inputs: dict[str, torch.Tensor], n_q: int) -> torch.Tensor:
        return model.encode(**inputs, **self.n_q_kwargs(model, n_q)).audio_codes

    def library_decode(self, model: Any, codes: torch.Tensor) -> torch.Tensor:
        return model.decode(audio_codes=codes).audio_values

    def _encode(self, model: Any, wav: torch.Tensor, n_q: int) -> torch.Tensor:
        return self.library_encode(model, self.features(model, wav), n_q)[:, :n_q]

    def _decode(self, model: Any, codes: torch.Tensor) -> torch.Tensor:
        wav = self.library_decode(model, codes)
        return (wav[:, None] if wav.dim() == 2 else wav).float()


def covering_bandwidth(model: Any, n_q: int) -> float:
    """The smallest of ``config.target_bandwidths`` whose RVQ depth (the library's rule) covers ``n_q``."""
    levels = model.quantizer.get_num_quantizers_for_bandwidth
    bws = sorted(b for b in model.config.target_bandwidths if levels(b) >= n_q)
    if not bws:
        raise ValueError(f"n_q={n_q} exceeds every bandwidth in {model.config.target_bandwidths}")
    return bws[0]


class _BandwidthRVQ(HFCodec):
    """RVQ models whose encode takes a bandwidth (X-Codec, Higgs, EnCodec)."""

    def n_q_kwargs(self, model: Any, n_q: int) -> dict[str, Any]:
        return {"bandwidth": covering_bandwidth(model, n_q)}


class XcodecHF(_BandwidthRVQ):
    """The X-Codec paper's own published checkpoint (HuBERT semantic branch, LibriSpeech), as transformers ports it."""

    name = "xcodec-hf"
    repo_id = "hf-audio/xcodec-hubert-librispeech"  # modeling_xcodec.py's example; the other hf-audio/xcodec-* load too
    model_class, config_class = "XcodecModel", "XcodecConfig"
    feature_extractor = ("DacFeatureExtractor", {"sampling_rate": 16000, "hop_length": 320})
    licence = "unstated on the model card"
    rate, hop_length, codebooks, size = 16000, 320, 8, 1024


class HiggsAudioTokenizer(_BandwidthRVQ):
    """Boson AI's Higgs Audio v2 tokenizer: X-Codec-style HuBERT + DAC, 25 frames/s at 24 kHz."""

    name = "higgs-audio-tokenizer"
    repo_id = "bosonai/higgs-audio-v2-tokenizer"  # configuration_higgs_audio_v2_tokenizer.py's checkpoint
    model_class, config_class = "HiggsAudioV2TokenizerModel", "HiggsAudioV2TokenizerConfig"
    # its config.json: hop 960 (the library default is 320) and bandwidths up to 2 kbps = 8 levels
    published_config = {"target_bandwidths": [0.5, 1, 1.5, 2],
                        "acoustic_model_config": {"downsampling_ratios": [8, 5, 4, 2, 3],
                                                  "upsampling_ratios": [8, 5, 4, 2, 3]}}
    feature_extractor = ("DacFeatureExtractor", {"sampling_rate": 24000, "hop_length": 960})
    licence = "other (Boson AI licence: >100k users need an expanded licence)"
    rate, hop_length, codebooks, size = 24000, 960, 8, 1024


class EncodecHF(_BandwidthRVQ):
    """Meta's EnCodec 24 kHz as transformers ports it (beside ``encodec-24khz``, the original package)."""

    name = "encodec-24khz-hf"
    repo_id = "facebook/encodec_24khz"
    model_class, config_class = "EncodecModel", "EncodecConfig"
    feature_extractor = ("EncodecFeatureExtractor", {"sampling_rate": 24000})
    encode_inputs = ("input_values", "padding_mask")
    licence = "cc-by-nc-4.0 (the encodec package's; the card states none)"
    rate, hop_length, codebooks, size = 24000, 320, 32, 1024

    @staticmethod
    def figures(cfg: Any) -> Figures:
        return cfg.sampling_rate, cfg.hop_length, cfg.num_quantizers, cfg.codebook_size

    def library_encode(self, model: Any, inputs: dict[str, torch.Tensor], n_q: int) -> torch.Tensor:
        if model.config.chunk_length is not None:  # the 48 kHz model: chunked, would need overlap-add
            raise ValueError(f"{self.name}: chunked (48 kHz) EnCodec models are not supported by this adapter")
        return super().library_encode(model, inputs, n_q)[0]  # [chunks=1, B, n_q, F]

    def library_decode(self, model: Any, codes: torch.Tensor) -> torch.Tensor:
        return model.decode(codes[None], [None]).audio_values


class DacHF(HFCodec):
    """Descript's DAC 16 kHz as transformers ports it (beside ``dac-16khz``, the original package)."""

    name = "dac-16khz-hf"
    repo_id = "descript/dac_16khz"
    model_class, config_class = "DacModel", "DacConfig"
    published_config = {"downsampling_ratios": [2, 4, 5, 8], "upsampling_ratios": [8, 5, 4, 2], "n_codebooks": 12}
    feature_extractor = ("DacFeatureExtractor", {"sampling_rate": 16000, "hop_length": 320})
    licence = "MIT (descript-audio-codec)"
    rate, hop_length, codebooks, size = 16000, 320, 12, 1024

    @staticmethod
    def figures(cfg: Any) -> Figures:
        return cfg.sampling_rate, math.prod(cfg.downsampling_ratios), cfg.n_codebooks, cfg.codebook_size

    def n_q_kwargs(self, model: Any, n_q: int) -> dict[str, Any]:
        return {"n_quantizers": n_q}


class MimiHF(HFCodec):
    """Kyutai's Mimi (Moshi's codec): 12.5 frames/s at 24 kHz, first level distilled from WavLM."""

    name = "mimi"
    repo_id = "kyutai/mimi"
    model_class, config_class = "MimiModel", "MimiConfig"
    feature_extractor = ("EncodecFeatureExtractor", {"sampling_rate": 24000})
    encode_inputs = ("input_values", "padding_mask")
    licence = "cc-by-4.0"
    rate, hop_length, codebooks, size = 24000, 1920, 32, 2048

    @staticmethod
    def figures(cfg: Any) -> Figures:
        return cfg.sampling_rate, round(cfg.sampling_rate / cfg.frame_rate), cfg.num_quantizers, cfg.codebook_size

    def n_q_kwargs(self, model: Any, n_q: int) -> dict[str, Any]:
        return {"num_quantizers": n_q}


class Xcodec2HF(HFCodec):
    """X-Codec 2.0: one FSQ codebook of 65536 at 50 frames/s, W2V-BERT 2.0 semantic branch."""

    name = "xcodec2"
    repo_id = "HKUSTAudio/xcodec2-hf"  # configuration_xcodec2.py's checkpoint (HKUSTAudio/xcodec2 is remote code)
    model_class, config_class = "Xcodec2Model", "Xcodec2Config"
    feature_extractor = ("Xcodec2FeatureExtractor", {})
    audio_arg = "audio"
    encode_inputs = ("input_values", "input_features", "padding_mask", "input_features_mask")
    licence = "cc-by-nc-4.0"
    rate, hop_length, codebooks, size = 16000, 320, 1, 65536

    @staticmethod
    def figures(cfg: Any) -> Figures:
        return cfg.sampling_rate, cfg.hop_length, 1, math.prod(cfg.quantization_levels)

    def n_frames(self, n_samples: int) -> int:
        return math.ceil((n_samples + 1) / self.hop_length)  # its feature extractor appends one sample first


class WavTokenizerHF(HFCodec):
    """WavTokenizer large-unify, 40 tokens/s: one codebook of 4096 at 24 kHz."""

    name = "wavtokenizer"
    repo_id = "swiss-ai/wavtokenizer-large-unify-40token"  # configuration_wavtokenizer.py's checkpoint
    model_class, config_class = "WavTokenizerModel", "WavTokenizerConfig"
    feature_extractor = ("WavTokenizerFeatureExtractor", {"sampling_rate": 24000})
    audio_arg = "audio"
    encode_inputs = ("input_values", "padding_mask")
    licence = "MIT (the original release, novateur/WavTokenizer)"
    rate, hop_length, codebooks, size = 24000, 600, 1, 4096

    @staticmethod
    def figures(cfg: Any) -> Figures:
        return cfg.sampling_rate, cfg.hop_length, 1, cfg.codebook_size


# -- bench weights fetch -------------------------------------------------------------------------
def fetch_weights(name: str, to: Path | None = None) -> Path:
    """Download a codec's published checkpoint with huggingface_hub into the hub cache (or ``to``).

    Refuses at once, without touching the network, unless the user allowed downloads (``BENCH_ONLINE=1``
    and no ``HF_HUB_OFFLINE=1``): an offline machine would otherwise wait on connection timeouts.
    """
    from bench.codecs import CODECS

    codec = CODECS.get(name)()
    if not isinstance(codec, HFCodec):
        w = codec.weights()
        how = w.detail if not w.present else f"they are already here ({w.detail})"
        raise FetchRefused(f"{name}: its weights are not a hub checkpoint this verb fetches — {how}")
    if not online():
        raise FetchRefused(f"{name}: offline, so nothing is downloaded — rerun as `BENCH_ONLINE=1 bench weights "
                           f"fetch {name}` where huggingface.co is reachable, or copy the {codec.repo_id} folder "
                           f"here and pass --weights DIR")
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        raise FetchRefused(f"{name}: HF_HUB_OFFLINE is set, so huggingface_hub will not download — unset it "
                           f"and rerun with BENCH_ONLINE=1")
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(codec.repo_id, local_dir=to))
