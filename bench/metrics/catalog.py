"""Built-in metric backends: registry name -> "module:Class" (imported only when used)."""

from __future__ import annotations

_M = "bench.metrics"

BUILTIN: dict[str, str] = {
    # offline (verified here)
    "wer/faster-whisper-tiny.en": f"{_M}.asr:WERFasterWhisperTinyEn",
    "wer/faster-whisper-base": f"{_M}.asr:WERFasterWhisperBase",
    "wer/openai-whisper-tiny.en": f"{_M}.asr:WEROpenAIWhisperTinyEn",
    "cer/faster-whisper-tiny.en": f"{_M}.asr:CERFasterWhisperTinyEn",
    "spk/resemblyzer": f"{_M}.speaker:SpkResemblyzer",
    "mos/dnsmos-ovrl": f"{_M}.mos:MOSDnsmosOvrl",
    "mos/dnsmos-sig": f"{_M}.mos:MOSDnsmosSig",
    "mos/dnsmos-bak": f"{_M}.mos:MOSDnsmosBak",
    "mos/dnsmos-p808": f"{_M}.mos:MOSDnsmosP808",
    "mos/plcmos": f"{_M}.mos:MOSPlcmos",
    "pesq/pesq-wb": f"{_M}.signal:PESQWideband",
    "stoi/pystoi": f"{_M}.signal:STOIPystoi",
    "sisdr/closed-form": f"{_M}.signal:SISDRClosedForm",
    "mel/logmel-l1": f"{_M}.signal:MelLogmelL1",
    "fad/logmel": f"{_M}.fad:FADLogmel",
    "fad/whisper-encoder": f"{_M}.fad:FADWhisperEncoder",
    # paper-faithful (real loaders; need weights a user downloads once)
    "wer/hubert-large-ctc": f"{_M}.asr:WERHubertLargeCTC",
    "wer/whisper-large-v3": f"{_M}.asr:WERWhisperLargeV3",
    "spk/ecapa-speechbrain": f"{_M}.speaker:SpkEcapaSpeechbrain",
    "mos/utmos22-strong": f"{_M}.mos:MOSUtmos22Strong",
    "fad/vggish": f"{_M}.fad:FADVggish",
    "fad/clap": f"{_M}.fad:FADClap",
}

# metric -> default backend (``bench score --metric wer`` without --backend)
DEFAULTS: dict[str, str] = {
    "wer": "faster-whisper-tiny.en", "cer": "faster-whisper-tiny.en", "spk": "resemblyzer", "mos": "dnsmos-ovrl",
    "pesq": "pesq-wb", "stoi": "pystoi", "sisdr": "closed-form", "mel": "logmel-l1", "fad": "logmel",
}
