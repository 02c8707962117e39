"""The paper-tier backends built on transformers run their real load-and-score path on random weights.

HuBERT CTC (``wer/hubert-large-ctc``) and the WavLM x-vector (``spk/wavlm-base-plus-sv``) are built from small
configs of their architectures, saved with ``save_pretrained`` beside their processor (the layout of the
published folders), found through ``--weights`` (``set_weights_override``), and compared with transformers'
own calls: so the first user with the real weights is not the first to run that code. Nothing is downloaded.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from bench.metrics import scoring  # noqa: E402
from bench.metrics.base import Item  # noqa: E402

_SMALL = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, conv_dim=[8] * 7,
              num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _speech(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + rng.standard_normal(t.size) * 0.1)).astype(np.float32)


def test_hubert_ctc_backend_loads_and_transcribes_like_the_library(tmp_path, override):
    from bench.metrics.asr import WERHubertLargeCTC

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, **{c: 5 + i for i, c in enumerate("ETAONIHSR")}}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    tok = transformers.Wav2Vec2CTCTokenizer(str(tmp_path / "vocab.json"), word_delimiter_token="|")
    fe = transformers.Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True, return_attention_mask=False)
    proc = transformers.Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok)
    torch.manual_seed(0)
    model = transformers.HubertForCTC(transformers.HubertConfig(vocab_size=len(vocab), **_SMALL)).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(50)  # random logits of a near-uniform head would argmax to one id everywhere
    fe.save_pretrained(tmp_path)  # the published folder's layout: preprocessor_config.json + tokenizer files (a
    tok.save_pretrained(tmp_path)  # processor saved by transformers 5 writes processor_config.json instead)
    model.save_pretrained(tmp_path)
    override("hubert-large-ctc", tmp_path)

    assert WERHubertLargeCTC.available() == (True, "ok")
    backend = scoring.get_backend("wer/hubert-large-ctc")
    assert len(backend.identity()["weights_hash"]) == 16
    audio = _speech()
    with torch.no_grad():
        ids = model(proc(audio, sampling_rate=16000, return_tensors="pt").input_values).logits.argmax(-1)
    expected = proc.batch_decode(ids)[0]
    assert expected.strip()  # the comparison is not of two empty strings
    assert backend._transcribe_one(audio, 0).text == expected
    [(wer, detail)] = scoring.score_items_detailed("wer/hubert-large-ctc", [Item("u", audio, 16000,
                                                                                 ref_text="a test")], progress=False)
    assert wer is not None and wer > 0 and detail["den"] == 2


def test_wavlm_xvector_backend_embeds_like_the_model_card(tmp_path, override):
    from bench.metrics.speaker import SpkWavLMSV

    cfg = transformers.WavLMConfig(**_SMALL, tdnn_dim=[8, 8, 8, 8, 16], xvector_output_dim=8, num_buckets=16,
                                   max_bucket_distance=32)
    torch.manual_seed(0)
    model = transformers.WavLMForXVector(cfg).eval()
    fe = transformers.Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=False, return_attention_mask=True)
    model.save_pretrained(tmp_path)
    fe.save_pretrained(tmp_path)
    override("wavlm-base-plus-sv", tmp_path)

    assert SpkWavLMSV.available() == (True, "ok")
    backend = scoring.get_backend("spk/wavlm-base-plus-sv")
    a, b = _speech(seed=1), _speech(0.8, seed=2)[::-1].copy()
    with torch.no_grad():
        ref = torch.nn.functional.normalize(model(**fe(a, sampling_rate=16000, padding=True, return_tensors="pt"))
                                            .embeddings, dim=-1)[0].numpy()
    np.testing.assert_allclose(backend.embed(a, 16000), ref, rtol=1e-5, atol=1e-6)
    sims = scoring.score_items("spk/wavlm-base-plus-sv", [Item("same", a, 16000, prompt_audio=a),
                                                          Item("other", a, 16000, prompt_audio=b)], progress=False)
    assert sims[0] == pytest.approx(1.0, abs=1e-5) and -1 <= sims[1] < sims[0]
    assert backend.identity()["model"].startswith("microsoft/wavlm-base-plus-sv")


def test_whisper_large_v3_loads_an_openai_whisper_checkpoint_and_transcribes_like_the_library(tmp_path, override):
    """``wer/whisper-large-v3``: a checkpoint in openai-whisper's own format (dims + state dict) with large-v3's
    mel bins and vocabulary, at a tiny width, found through ``--weights`` and decoded as the library decodes."""
    whisper = pytest.importorskip("whisper")
    from whisper.model import ModelDimensions, Whisper

    from bench.metrics.asr import TEMPERATURES, WERWhisperLargeV3, ow_transcribe

    dims = ModelDimensions(n_mels=128, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
                           n_vocab=51866, n_text_ctx=32, n_text_state=32, n_text_head=2, n_text_layer=1)
    torch.manual_seed(0)
    torch.save({"dims": dims.__dict__, "model_state_dict": Whisper(dims).state_dict()}, tmp_path / "large-v3.pt")
    override("whisper-large-v3", tmp_path)

    assert WERWhisperLargeV3.available() == (True, "ok")
    backend = scoring.get_backend("wer/whisper-large-v3")
    assert len(backend.identity()["weights_hash"]) == 16
    audio = _speech(0.5)
    library = whisper.load_model(str(tmp_path / "large-v3.pt"), device="cpu")
    assert library.is_multilingual and library.dims.n_mels == 128  # what the library takes for large-v3
    assert backend._transcribe_one(audio, 7).text == ow_transcribe(library, audio, 7).text
    [(wer, detail)] = scoring.score_items_detailed("wer/whisper-large-v3", [Item("u", audio, 16000, ref_text="a b")],
                                                   progress=False)
    assert wer is not None and detail["den"] == 2 and detail["temperature"] in TEMPERATURES
