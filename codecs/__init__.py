"""Codec plugins, imported as ``bench.codecs`` (the folder keeps the user's name ``codecs/``).

The package registers its built-ins here, lazily by import path, so listing them imports no model library;
third-party codecs register through the ``bench.codecs`` entry-point group.
"""

from bench.registry import Registry

from .base import Codec, DecodeUnavailable, WeightsStatus, WeightsUnavailable

CODECS: Registry[type[Codec]] = Registry("codecs", protocol=Codec)

# name -> "module:Class", imported on first use
BUILTIN: dict[str, str] = {
    "xcodec": "bench.codecs.xcodec.plugin:XCodec",
    "xcodec-acoustic": "bench.codecs.xcodec.plugin:XCodecAcoustic",
    "encodec-24khz": "bench.codecs.encodec:EncodecPublished",
    "encodec@here": "bench.codecs.encodec:EncodecHere",
    "dac-16khz": "bench.codecs.dac:DAC16kPublished",
    "dac-24khz": "bench.codecs.dac:DAC24kPublished",
    "dac-44khz": "bench.codecs.dac:DAC44kPublished",
    "dac@here": "bench.codecs.dac:DACHere",
    "speechtokenizer": "bench.codecs.speechtokenizer:SpeechTokenizerPublished",
    "speechtokenizer@here": "bench.codecs.speechtokenizer:SpeechTokenizerHere",
    # published checkpoints through transformers (codecs/hf.py)
    "xcodec-hf": "bench.codecs.hf:XcodecHF",
    "mimi": "bench.codecs.hf:MimiHF",
    "xcodec2": "bench.codecs.hf:Xcodec2HF",
    "wavtokenizer": "bench.codecs.hf:WavTokenizerHF",
    "higgs-audio-tokenizer": "bench.codecs.hf:HiggsAudioTokenizer",
    "encodec-24khz-hf": "bench.codecs.hf:EncodecHF",
    "dac-16khz-hf": "bench.codecs.hf:DacHF",
}
for _name, _target in BUILTIN.items():
    CODECS.register(_name, _target)

__all__ = ["BUILTIN", "CODECS", "Codec", "DecodeUnavailable", "WeightsStatus", "WeightsUnavailable", "get_codec"]


def get_codec(name: str, **kwargs) -> Codec:
    """Instantiate a registered codec by name (cheap: weights load on first use)."""
    return CODECS.get(name)(**kwargs)
