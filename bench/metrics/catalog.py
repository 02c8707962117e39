"""Built-in metric backends: registry name -> "module:Class" (imported only when used), and which
metrics enter a leaderboard's mean rank."""

from __future__ import annotations

_M = "bench.metrics"

BUILTIN: dict[str, str] = {
    # offline (verified here)
    "wer/faster-whisper-tiny.en": f"{_M}.asr:WERFasterWhisperTinyEn",
    "wer/faster-whisper-base": f"{_M}.asr:WERFasterWhisperBase",
    "wer/openai-whisper-tiny.en": f"{_M}.asr:WEROpenAIWhisperTinyEn",
    "cer/faster-whisper-tiny.en": f"{_M}.asr:CERFasterWhisperTinyEn",
    "dwer/faster-whisper-tiny.en": f"{_M}.asr:DWERFasterWhisperTinyEn",
    "dwer/faster-whisper-base": f"{_M}.asr:DWERFasterWhisperBase",
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
    "spk/wavlm-base-plus-sv": f"{_M}.speaker:SpkWavLMSV",
    "mos/utmos22-strong": f"{_M}.mos:MOSUtmos22Strong",
    "fad/vggish": f"{_M}.fad:FADVggish",
    "fad/clap": f"{_M}.fad:FADClap",
}

# metric -> default backend (``bench score --metric wer`` without --backend)
DEFAULTS: dict[str, str] = {
    "wer": "faster-whisper-tiny.en", "cer": "faster-whisper-tiny.en", "dwer": "faster-whisper-tiny.en",
    "spk": "resemblyzer", "mos": "dnsmos-ovrl",
    "pesq": "pesq-wb", "stoi": "pystoi", "sisdr": "closed-form", "mel": "logmel-l1", "fad": "logmel",
}

# metric -> (enters the mean rank, why). A metric is left out while its validation says it cannot order
# codecs; it is still reported in its own column.
RANKED: dict[str, tuple[bool, str]] = {
    "sisdr": (False, "SI-SDR sits at chance for these codecs: trained with magnitude/mel losses they do not keep "
                     "waveform phase (|lag-0 correlation| of output and input ~0.02, 0.002-0.03, SI-SDR -31 to "
                     "-57 dB on the committed records), so it measures phase alignment, not quality"),
    "ppl": (False, "per-codebook perplexity describes each level; held-out NLL in bits/s is the figure that "
                   "compares codecs of different frame rates and codebook counts"),
    "dwer": (False, "dWER repeats WER's information (same ASR model, reference = its transcript of the original); "
                    "ranking both would count intelligibility twice"),
}


def ranked(metric: str) -> tuple[bool, str]:
    """(enters the mean rank, reason) for a metric name such as "wer"."""
    return RANKED.get(metric, (True, "validated: orders known degradations"))
