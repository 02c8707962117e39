"""SpeechTokenizer (``speechtokenizer`` 1.0.1, fnlp) behind the codec protocol: published and trained here.

16 kHz, SEANet encoder/decoder with strides 8,5,4,2 (hop 320, 50 frames/s), BiLSTM, 8 RVQ levels of
1024 codes; RVQ level 1 is distilled from a semantic teacher (HuBERT for the published model).
Quirk: the library's ``encode`` returns codes as (n_q, B, F) and ``decode`` takes that layout; the
adapter transposes to and from the protocol's [B, n_q, F]. ``n_q`` is the library's own argument.
The pip package ships neither config nor weights: the published base config is
``peer_configs/speechtokenizer_base.json`` (the repo's ``config/spt_base_cfg.json``, model keys).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import WeightsStatus
from .library import LibraryCodec, hf_hub_dir, online, unavailable
from .peer_here import HereCodec

if TYPE_CHECKING:
    import torch

HF_REPO = "fnlp/SpeechTokenizer"
HF_SUBDIR = "speechtokenizer_hubert_avg"
CKPT = "SpeechTokenizer.pt"
ENV = "BENCH_WEIGHTS_SPEECHTOKENIZER"
BASE_CONFIG = Path(__file__).parent / "peer_configs" / "speechtokenizer_base.json"


def published_config() -> dict[str, Any]:
    return json.loads(BASE_CONFIG.read_text())


def build_published_architecture() -> Any:
    """The published base architecture from the library's own class, random init, no download."""
    from speechtokenizer.model import SpeechTokenizer

    return SpeechTokenizer(published_config())


def library_encode(model: Any, wav: torch.Tensor, n_q: int) -> torch.Tensor:
    return model.encode(wav, n_q=n_q).permute(1, 0, 2)  # (n_q, B, F) -> [B, n_q, F]


def library_decode(model: Any, codes: torch.Tensor) -> torch.Tensor:
    return model.decode(codes.permute(1, 0, 2))  # [B, n_q, F] -> the library's (n_q, B, F)


class _SpeechTokenizer(LibraryCodec):
    hop_length = 320

    @property
    def sample_rate(self) -> int:
        return 16000

    @property
    def codebook_size(self) -> int:
        return 1024

    def _encode(self, model: Any, wav: torch.Tensor, n_q: int) -> torch.Tensor:
        return library_encode(model, wav, n_q)

    def _decode(self, model: Any, codes: torch.Tensor) -> torch.Tensor:
        return library_decode(model, codes)


class SpeechTokenizerPublished(_SpeechTokenizer):
    """fnlp's published SpeechTokenizer (HuBERT-avg distilled), loaded by ``load_from_checkpoint``."""

    name = "speechtokenizer"
    licence = "Apache-2.0 (the speechtokenizer package's)"

    @property
    def n_codebooks(self) -> int:
        return 8

    weights_env = ENV

    def _resolve(self, p: Path) -> Path:
        """A checkpoint file with ``config.json`` beside it, or a folder in the HF repo's layout."""
        if p.is_file() or p.suffix == ".pt":
            return p
        return p / HF_SUBDIR / CKPT if (p / HF_SUBDIR).is_dir() else p / CKPT

    def _library_cache(self) -> tuple[str, Path]:
        snaps = hf_hub_dir() / f"models--{HF_REPO.replace('/', '--')}" / "snapshots"
        cached = sorted(snaps.glob(f"*/{HF_SUBDIR}/{CKPT}")) if snaps.is_dir() else []
        return "HF hub cache", cached[-1] if cached else snaps / "<revision>" / HF_SUBDIR / CKPT

    def _found(self) -> tuple[str, Path] | None:
        for label, p in self._candidates():
            if p is not None and p.is_file() and (p.parent / "config.json").is_file():
                return label, p
        return None

    def fetch_command(self) -> str:
        return f"hf download {HF_REPO} {HF_SUBDIR}/config.json {HF_SUBDIR}/{CKPT}"

    def _how(self) -> str:
        return (
            f"Download {HF_SUBDIR}/config.json and {HF_SUBDIR}/{CKPT} from the Hugging Face repo {HF_REPO} "
            f"and pass --weights FOLDER (or the .pt file with config.json beside it) or set {ENV}=FOLDER, "
            "or run with BENCH_ONLINE=1 so huggingface_hub fetches them into its cache."
        )

    def weights(self) -> WeightsStatus:
        found = self._found()
        if found:
            return WeightsStatus("published", f"{HF_REPO} ({found[0]})", True, str(found[1]), teacher="hubert-base")
        return WeightsStatus("published", f"{HF_REPO}/{HF_SUBDIR}", False, self._how(), teacher="hubert-base")

    def _load(self) -> Any:
        from speechtokenizer.model import SpeechTokenizer

        found = self._found()
        if found is None:
            if not online():
                raise unavailable(self.name, self._candidates(), self._how())
            from huggingface_hub import hf_hub_download

            cfg = hf_hub_download(HF_REPO, f"{HF_SUBDIR}/config.json")
            ckpt = hf_hub_download(HF_REPO, f"{HF_SUBDIR}/{CKPT}")
            return SpeechTokenizer.load_from_checkpoint(cfg, ckpt)
        ckpt = found[1]
        return SpeechTokenizer.load_from_checkpoint(str(ckpt.parent / "config.json"), str(ckpt))


class SpeechTokenizerHere(HereCodec, _SpeechTokenizer):
    """SpeechTokenizer's architecture trained here, RVQ-1 distilled from X-Codec's teacher."""

    name = "speechtokenizer@here"
    family = "speechtokenizer"
