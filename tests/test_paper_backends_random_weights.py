"""Paper-tier backends built on speechbrain run their real load-and-score path on random weights.

The ECAPA speaker model (``spk/ecapa-speechbrain``) is built from a miniature of the published
speechbrain/spkrec-ecapa-voxceleb hyperparams.yaml (the same keys, classes and pretrainer, with its
``pretrained_path`` left at the Hub id as published, at a tiny width), its modules' random weights saved in
speechbrain's own formats under the names the pretrainer expects, found through ``--weights``
(``set_weights_override``) and loaded by ``EncoderClassifier.from_hparams`` offline: so the first user with the
real weights is not the first to run that code. Nothing is downloaded, and nothing here is ever a reported result.

UTMOS22 strong (``mos/utmos22-strong``) has no test here: its architecture is the code of the tarepan/SpeechMOS
repository, loaded by ``torch.hub`` from a clone, and no package on PyPI carries that code (PyPI's ``speechmos`` is
the DNSMOS/PLCMOS package; ``utmos`` and ``utmos-pytorch`` are other ports, with other weights).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.audio import resample

torch = pytest.importorskip("torch")
pytest.importorskip("speechbrain")

from bench.metrics import scoring  # noqa: E402
from bench.metrics.base import BackendUnavailable, Item  # noqa: E402
from bench.metrics.weights import pkg_version, weights_hash  # noqa: E402

HUB_ID = "speechbrain/spkrec-ecapa-voxceleb"
N_MELS, CHANNELS, EMB, SPEAKERS = 80, [16, 16, 16, 16, 48], 8, 5  # published: 80, [1024]*4 + [3072], 192, 7205
# the backend runs on the GPU where there is one (TF32 convolutions), the reference on the CPU
TOL = dict(rtol=2e-3, atol=2e-4) if torch.cuda.is_available() else dict(rtol=1e-4, atol=1e-5)

# The published hyperparams.yaml, its sizes shrunk (ECAPA_TDNN's se_channels too, 128 by default), its
# pretrained_path the Hub id as published.
_YAML = f"""\
# Miniature of the hyperparams.yaml of {HUB_ID}
n_mels: {N_MELS}

# Pretrain folder (HuggingFace)
pretrained_path: {HUB_ID}

# Output parameters
out_n_neurons: {SPEAKERS}

# Model params
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: {CHANNELS}
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 8
    se_channels: 8
    lin_neurons: {EMB}

classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: {EMB}
    out_neurons: !ref <out_n_neurons>

mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>

label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
        mean_var_norm_emb: !ref <pretrained_path>/mean_var_norm_emb.ckpt
        classifier: !ref <pretrained_path>/classifier.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """A load that reached for the Hub fails here instead of downloading; no user folder is found by env var."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("BENCH_WEIGHTS_ECAPA_SPEECHBRAIN", raising=False)


@pytest.fixture(autouse=True)
def _fresh_ecapa():
    """The loaded model is cached per folder path: start and end each test without one."""
    from bench.metrics.speaker import _ecapa

    _ecapa.cache_clear()
    yield
    _ecapa.cache_clear()


def _ecapa_folder(d, seed: int = 0, label_file: str = "label_encoder.txt"):
    """The published folder's files (``label_file``: .txt as on the Hub, .ckpt as a speechbrain savedir holds it),
    random weights in speechbrain's formats; returns the embedding model saved, in eval mode."""
    from speechbrain.dataio.encoder import CategoricalEncoder
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier

    d.mkdir(parents=True, exist_ok=True)
    (d / "hyperparams.yaml").write_text(_YAML)
    torch.manual_seed(seed)
    emb = ECAPA_TDNN(N_MELS, channels=CHANNELS, attention_channels=8, se_channels=8, lin_neurons=EMB).eval()
    with torch.no_grad():  # random running stats, so a load that kept fresh BatchNorm buffers would show
        for m in emb.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    torch.save(emb.state_dict(), d / "embedding_model.ckpt")  # speechbrain's torch_save: the module's state_dict
    torch.save(Classifier(EMB, out_neurons=SPEAKERS).state_dict(), d / "classifier.ckpt")
    # InputNormalization saves its statistics dict; older speechbrain (which wrote the published file) added the
    # per-speaker dicts
    torch.save({"count": 3, "glob_mean": torch.randn(EMB), "glob_std": torch.ones(EMB), "spk_dict_mean": {},
                "spk_dict_std": {}, "spk_dict_count": {}}, d / "mean_var_norm_emb.ckpt")
    enc = CategoricalEncoder()
    enc.update_from_iterable([f"id1{i:04d}" for i in range(SPEAKERS)])
    enc.save(d / label_file)
    return emb


def _reference(emb, audio: np.ndarray) -> np.ndarray:
    """What the published recipe computes, from the modules themselves: Fbank, sentence mean norm, ECAPA."""
    from speechbrain.lobes.features import Fbank
    from speechbrain.processing.features import InputNormalization

    x, lens = torch.from_numpy(audio)[None], torch.ones(1)
    with torch.no_grad():
        feats = InputNormalization(norm_type="sentence", std_norm=False)(Fbank(n_mels=N_MELS)(x), lens)
        return emb(feats, lens).squeeze().numpy()


def _speech(seconds: float = 1.0, seed: int = 0, f0: float = 180.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    voiced = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    return (0.2 * voiced * (1 + rng.standard_normal(t.size) * 0.1)).astype(np.float32)


def _noise(seconds: float = 1.0, seed: int = 1) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(16000 * seconds))).astype(np.float32)


def test_ecapa_backend_loads_the_published_folder_offline_and_embeds_like_the_recipe(tmp_path, override):
    from bench.metrics.speaker import SpkEcapaSpeechbrain

    d = tmp_path / "spkrec-ecapa-voxceleb"
    emb = _ecapa_folder(d)
    override("ecapa-speechbrain", d)

    assert SpkEcapaSpeechbrain.available() == (True, "ok")
    before = sorted((p.name, p.is_symlink()) for p in d.iterdir())
    backend = scoring.get_backend("spk/ecapa-speechbrain")
    ident = backend.identity()
    assert ident["name"] == "spk/ecapa-speechbrain" and ident["model"] == HUB_ID
    assert ident["version"] == f"speechbrain {pkg_version('speechbrain')}; cosine"
    assert ident["weights_hash"] == weights_hash(d / "embedding_model.ckpt") and len(ident["weights_hash"]) == 16

    a, noise = _speech(), _noise()
    e = backend.embed(a, 16000)
    assert e.shape == (EMB,) and np.all(np.isfinite(e))
    np.testing.assert_array_equal(backend.embed(a, 16000), e)  # deterministic: eval mode, no dropout
    np.testing.assert_allclose(e, _reference(emb, a), **TOL)  # the saved weights, not a fresh init
    assert sorted((p.name, p.is_symlink()) for p in d.iterdir()) == before  # the weights folder is only read
    low = _speech(0.8, seed=2, f0=120.0)[::2].copy()  # 8 kHz audio is resampled to the model's 16 kHz first
    np.testing.assert_allclose(backend.embed(low, 8000), _reference(emb, resample(low, 8000, 16000)), **TOL)

    res = scoring.score_items_detailed("spk/ecapa-speechbrain", [Item("same", a, 16000, prompt_audio=a),
                                                                 Item("noise", a, 16000, prompt_audio=noise)],
                                       cache=False, progress=False)
    (same, d_same), (other, d_other) = res
    assert same == pytest.approx(1.0, abs=1e-5) and d_same == {"pair": "prompt", "vad_fallback": False}
    assert -1.0 <= other < same - 1e-3 and d_other["pair"] == "prompt"
    r, r_noise = _reference(emb, a), _reference(emb, noise)
    assert other == pytest.approx(float(r @ r_noise / (np.linalg.norm(r) * np.linalg.norm(r_noise))), abs=1e-3)


def test_ecapa_backend_loads_a_folder_speechbrain_saved(tmp_path, override):
    """A ``savedir`` of ``from_hparams(source="speechbrain/spkrec-ecapa-voxceleb")`` holds label_encoder.ckpt."""
    from bench.metrics.speaker import SpkEcapaSpeechbrain

    d = tmp_path / "pretrained_models" / "spkrec-ecapa-voxceleb"
    emb = _ecapa_folder(d, seed=1, label_file="label_encoder.ckpt")
    override("ecapa-speechbrain", d)

    assert SpkEcapaSpeechbrain.available() == (True, "ok")
    a = _speech(0.8, seed=3)
    np.testing.assert_allclose(scoring.get_backend("spk/ecapa-speechbrain").embed(a, 16000), _reference(emb, a),
                               **TOL)


@pytest.mark.parametrize("missing", ["hyperparams.yaml", "embedding_model.ckpt", "mean_var_norm_emb.ckpt",
                                     "classifier.ckpt"])
def test_ecapa_backend_without_a_file_from_hparams_needs_is_unavailable(tmp_path, override, missing):
    """Each file the backend asks for is one ``from_hparams`` cannot load the folder without, and the reason says
    which folder and files it wants."""
    from bench.metrics.speaker import SpkEcapaSpeechbrain, _ecapa

    d = tmp_path / "spkrec-ecapa-voxceleb"
    _ecapa_folder(d)
    (d / missing).unlink()
    override("ecapa-speechbrain", d)

    ok, why = SpkEcapaSpeechbrain.available()
    assert not ok
    assert f"folder of {HUB_ID}" in why and missing in why and "BENCH_WEIGHTS_ECAPA_SPEECHBRAIN" in why
    with pytest.raises(BackendUnavailable, match="spk/ecapa-speechbrain: weights for ecapa-speechbrain not found"):
        scoring.get_backend("spk/ecapa-speechbrain")
    with pytest.raises(FileNotFoundError, match=missing):
        _ecapa(str(d))


def test_ecapa_backend_needs_no_label_encoder(tmp_path, override):
    """speechbrain skips a label encoder it cannot read, and embeddings never use it: not a required file."""
    from bench.metrics.speaker import SpkEcapaSpeechbrain

    d = tmp_path / "spkrec-ecapa-voxceleb"
    emb = _ecapa_folder(d, seed=2)
    (d / "label_encoder.txt").unlink()
    override("ecapa-speechbrain", d)

    assert SpkEcapaSpeechbrain.available() == (True, "ok")
    a = _speech(0.6, seed=4)
    np.testing.assert_allclose(scoring.get_backend("spk/ecapa-speechbrain").embed(a, 16000), _reference(emb, a),
                               **TOL)


def test_utmos_clone_and_the_dnsmos_wheel_both_import_as_speechmos_without_shadowing(tmp_path):
    """The SpeechMOS clone's package and the DNSMOS wheel are both ``speechmos``: loading UTMOS after DNSMOS
    must find the clone's ``speechmos.utmos22``, and DNSMOS after it the wheel's ``speechmos.dnsmos``. The clone
    here is a stand-in with the real layout (hubconf.py importing its own ``speechmos`` package) and a linear
    layer, enough to exercise the import isolation; it is never scored as UTMOS."""
    import importlib
    import sys

    from bench.metrics import mos

    pytest.importorskip("speechmos")
    importlib.import_module("speechmos.dnsmos")  # the wheel, imported first as a run scoring DNSMOS would
    wheel = sys.modules["speechmos"].__file__
    repo = tmp_path / "SpeechMOS"
    (repo / "speechmos" / "utmos22").mkdir(parents=True)
    (repo / "speechmos" / "__init__.py").write_text("")
    (repo / "speechmos" / "utmos22" / "__init__.py").write_text(
        "import torch\n\nclass UTMOS22Strong(torch.nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.lin = torch.nn.Linear(2, 1)\n")
    (repo / "hubconf.py").write_text(
        "dependencies = ['torch']\nfrom speechmos.utmos22 import UTMOS22Strong\n\n"
        "def utmos22_strong(progress=True, pretrained=True):\n    return UTMOS22Strong()\n")
    ref = torch.nn.Linear(2, 1)
    torch.save({"lin." + k: v for k, v in ref.state_dict().items()}, tmp_path / "ck.pt")
    mos._utmos.cache_clear()
    try:
        model, _ = mos._utmos(str(repo), str(tmp_path / "ck.pt"))
    finally:
        mos._utmos.cache_clear()
    assert type(model).__module__ == "speechmos.utmos22"  # the clone's class, loaded with its weights
    assert torch.equal(model.lin.weight.cpu(), ref.weight)
    assert sys.modules["speechmos"].__file__ == wheel  # the wheel is `speechmos` again
    assert importlib.import_module("speechmos.dnsmos") is sys.modules["speechmos.dnsmos"]
    assert "speechmos.utmos22" not in sys.modules
