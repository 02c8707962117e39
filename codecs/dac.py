"""DAC (``descript-audio-codec`` 1.0.0) behind the codec protocol: the published 16/24/44.1 kHz models
and one trained here.

Published configs (the repo's ``conf/final/*.yml``; the pip package ships none of them):
| model | rate | encoder_rates | hop | frames/s | codebooks x size (dim 8) |
| 16khz | 16000 | 2,4,5,8 | 320 | 50 | 12 x 1024 |
| 24khz | 24000 | 2,4,5,8 | 320 | 75 | 32 x 1024 |
| 44khz | 44100 | 2,4,8,8 | 512 | 86.13 | 9 x 1024 |
``n_q`` is DAC's own ``n_quantizers``. Quirk: the 16 and 24 kHz decoders return 8 samples fewer than
F * hop (and ``decompress`` then fails), so we use ``encode``/``decode`` and pad to F * hop.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .base import WeightsStatus
from .library import LibraryCodec, first_existing, online, unavailable
from .peer_here import HereCodec

if TYPE_CHECKING:
    import torch

# model_type -> DAC(**kwargs): the published architectures.
PUBLISHED: dict[str, dict[str, Any]] = {
    "16khz": dict(sample_rate=16000, encoder_dim=64, encoder_rates=[2, 4, 5, 8], decoder_dim=1536,
                  decoder_rates=[8, 5, 4, 2], n_codebooks=12, codebook_size=1024, codebook_dim=8),
    "24khz": dict(sample_rate=24000, encoder_dim=64, encoder_rates=[2, 4, 5, 8], decoder_dim=1536,
                  decoder_rates=[8, 5, 4, 2], n_codebooks=32, codebook_size=1024, codebook_dim=8),
    "44khz": dict(sample_rate=44100, encoder_dim=64, encoder_rates=[2, 4, 8, 8], decoder_dim=1536,
                  decoder_rates=[8, 8, 4, 2], n_codebooks=9, codebook_size=1024, codebook_dim=8),
}
LATEST_TAG = {"16khz": "0.0.5", "24khz": "0.0.4", "44khz": "0.0.1"}  # dac.utils.__MODEL_LATEST_TAGS__ (8kbps)


def build_published_architecture(model_type: str) -> Any:
    """The published architecture from the library's own class, random init, no download."""
    import dac

    return dac.DAC(**PUBLISHED[model_type])


def library_encode(model: Any, wav: torch.Tensor, n_q: int) -> torch.Tensor:
    """DAC's own call path: preprocess (right-pad to a multiple of hop) + encode(n_quantizers)."""
    x = model.preprocess(wav, model.sample_rate)
    _z, codes, *_ = model.encode(x, n_quantizers=n_q)
    return codes[:, :n_q]


def library_decode(model: Any, codes: torch.Tensor) -> torch.Tensor:
    z, *_ = model.quantizer.from_codes(codes)
    return model.decode(z)


class _DAC(LibraryCodec):
    def _encode(self, model: Any, wav: torch.Tensor, n_q: int) -> torch.Tensor:
        return library_encode(model, wav, n_q)

    def _decode(self, model: Any, codes: torch.Tensor) -> torch.Tensor:
        return library_decode(model, codes)


class _DACPublished(_DAC):
    model_type: ClassVar[str] = ""
    licence = "MIT (descript-audio-codec)"

    @property
    def _cfg(self) -> dict[str, Any]:
        return PUBLISHED[self.model_type]

    @property
    def sample_rate(self) -> int:
        return self._cfg["sample_rate"]

    @property
    def hop_length(self) -> int:  # type: ignore[override]
        h = 1
        for r in self._cfg["encoder_rates"]:
            h *= r
        return h

    @property
    def n_codebooks(self) -> int:
        return self._cfg["n_codebooks"]

    @property
    def codebook_size(self) -> int:
        return self._cfg["codebook_size"]

    @property
    def weights_env(self) -> str:  # type: ignore[override]
        return f"BENCH_WEIGHTS_DAC_{self.model_type.upper()}"

    def _cache_file(self) -> Path:
        # dac.utils.download's own cache location
        tag = LATEST_TAG[self.model_type]
        return Path.home() / ".cache" / "descript" / "dac" / f"weights_{self.model_type}_8kbps_{tag}.pth"

    def _library_cache(self) -> tuple[str, Path]:
        return "dac cache", self._cache_file()

    def _how(self) -> str:
        return (
            f"Run `python -m dac download --model_type {self.model_type}` where the internet is reachable "
            f"(it writes {self._cache_file()}), then copy that file here and pass --weights PATH or set "
            f"{self.weights_env}=PATH, or run with BENCH_ONLINE=1 so dac downloads it."
        )

    def fetch_command(self) -> str:
        return f"python -m dac download --model_type {self.model_type}"

    def weights(self) -> WeightsStatus:
        found = first_existing(self._candidates())
        if found:
            return WeightsStatus("published", f"dac {self.model_type} ({found[0]})", True, str(found[1]))
        return WeightsStatus("published", f"dac {self.model_type} 8kbps", False, self._how())

    def _load(self) -> Any:
        import dac

        cands = self._candidates()
        found = first_existing(cands)
        if found is None:
            if not online():
                raise unavailable(self.name, cands, self._how())
            return dac.utils.load_model(model_type=self.model_type)  # the library downloads
        return dac.DAC.load(str(found[1]))  # the library's own loader (kwargs stored in the file)


class DAC16kPublished(_DACPublished):
    name = "dac-16khz"
    model_type = "16khz"


class DAC24kPublished(_DACPublished):
    name = "dac-24khz"
    model_type = "24khz"


class DAC44kPublished(_DACPublished):
    name = "dac-44khz"
    model_type = "44khz"


class DACHere(HereCodec, _DAC):
    """DAC's 16 kHz architecture (``dac.DAC``) trained here: ``peer_configs/dac.*.yaml``."""

    name = "dac@here"
    family = "dac"
