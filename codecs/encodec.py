"""EnCodec (``encodec`` 0.1.1, Meta) behind the codec protocol: the published 24 kHz model and one trained here.

24 kHz mono, hop 320 (strides 8,5,4,2) -> 75 frames/s, up to 32 RVQ levels of 1024 codes.
Bandwidth <-> n_q: each level costs log2(1024) * 75 = 0.75 kbps, so the published bandwidths
1.5 / 3 / 6 / 12 / 24 kbps are n_q 2 / 4 / 8 / 16 / 32 (:func:`n_q_for_bandwidth`). Any n_q in 1..32
is allowed: the library encodes at the smallest published bandwidth that covers it and we keep the
first n_q levels (RVQ codes are prefix-consistent, so this equals encoding with n_q levels).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import WeightsStatus
from .library import LibraryCodec, first_existing, online, torch_hub_dir, unavailable
from .peer_here import HereCodec

if TYPE_CHECKING:
    import torch

CHECKPOINT = "encodec_24khz-d7cc33bc.th"  # the library's own file name (hash prefix = checksum)
URL = f"https://dl.fbaipublicfiles.com/encodec/v0/{CHECKPOINT}"
ENV = "BENCH_WEIGHTS_ENCODEC"
BANDWIDTHS = (1.5, 3.0, 6.0, 12.0, 24.0)
KBPS_PER_Q = math.log2(1024) * 75 / 1000  # 0.75


def n_q_for_bandwidth(kbps: float) -> int:
    """The library's own rule (``ResidualVectorQuantizer.get_num_quantizers_for_bandwidth``)."""
    return int(max(1, math.floor(kbps / KBPS_PER_Q + 1e-9)))


def bandwidth_for_n_q(n_q: int) -> float:
    return n_q * KBPS_PER_Q


def library_encode(model: Any, wav: torch.Tensor, n_q: int) -> torch.Tensor:
    """EnCodec's own call path for ``n_q`` levels: set_target_bandwidth + model.encode."""
    def levels(b: float) -> int:
        return model.quantizer.get_num_quantizers_for_bandwidth(model.frame_rate, b)

    covering = [b for b in model.target_bandwidths if levels(b) >= n_q]
    if not covering:
        raise ValueError(f"encodec: n_q={n_q} exceeds the model's {levels(max(model.target_bandwidths))} levels")
    model.set_target_bandwidth(min(covering))
    frames = model.encode(wav)
    if len(frames) != 1:  # 24 kHz models are not segmented; a segmented model would need overlap-add
        raise ValueError("encodec: segmented models (48 kHz) are not supported by this adapter")
    codes, _scale = frames[0]
    return codes[:, :n_q]


class _Encodec(LibraryCodec):
    hop_length = 320

    @property
    def codebook_size(self) -> int:
        return 1024

    def _encode(self, model: Any, wav: torch.Tensor, n_q: int) -> torch.Tensor:
        return library_encode(model, wav, n_q)

    def _decode(self, model: Any, codes: torch.Tensor) -> torch.Tensor:
        return model.decode([(codes, None)])


def build_published_architecture() -> Any:
    """The published 24 kHz architecture from the library's own factory, random init, no download."""
    from encodec import EncodecModel

    return EncodecModel.encodec_model_24khz(pretrained=False)


class EncodecPublished(_Encodec):
    """Meta's published EnCodec 24 kHz, loaded by the library's own loader."""

    name = "encodec-24khz"
    licence = "cc-by-nc-4.0 (the encodec package's)"

    @property
    def sample_rate(self) -> int:
        return 24000

    @property
    def n_codebooks(self) -> int:
        return 32

    weights_env = ENV

    def _resolve(self, p: Path) -> Path:
        return p / CHECKPOINT if p.is_dir() else p

    def _library_cache(self) -> tuple[str, Path]:
        return "torch hub cache", torch_hub_dir() / "checkpoints" / CHECKPOINT

    def _how(self) -> str:
        return (
            f"Get {CHECKPOINT} from {URL} and pass --weights PATH (file or folder) or set {ENV}=PATH, "
            "or run with BENCH_ONLINE=1 so encodec downloads it into the torch hub cache."
        )

    def fetch_command(self) -> str:
        return f"curl -LO {URL}"

    def weights(self) -> WeightsStatus:
        found = first_existing(self._candidates())
        if found:
            return WeightsStatus("published", f"encodec_24khz ({found[0]})", True, str(found[1]))
        return WeightsStatus("published", "encodec_24khz", False, self._how())

    def _load(self) -> Any:
        from encodec import EncodecModel

        cands = self._candidates()
        found = first_existing(cands)
        if found is None:
            if not online():
                raise unavailable("encodec-24khz", cands, self._how())
            return EncodecModel.encodec_model_24khz(pretrained=True)  # the library downloads via torch.hub
        path = found[1]
        if path.name == CHECKPOINT:  # the library's loader, with its checksum check
            return EncodecModel.encodec_model_24khz(pretrained=True, repository=path.parent)
        import torch

        model = EncodecModel.encodec_model_24khz(pretrained=False)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model


class EncodecHere(HereCodec, _Encodec):
    """EnCodec's architecture (the library's SEANet + RVQ classes) trained here: ``peer_configs/encodec.*.yaml``."""

    name = "encodec@here"
    family = "encodec"
