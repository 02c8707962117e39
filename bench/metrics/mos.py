"""MOS predictors. Offline: DNSMOS (OVRL, SIG, BAK, P.808) and PLCMOS from the ``speechmos`` wheel (ONNX).

These are DNSMOS/PLCMOS numbers, never to be labelled UTMOS. UTMOS22 strong (the paper's MOS) is a
paper-tier backend that needs a local clone of tarepan/SpeechMOS and its checkpoint.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.audio import resample

from .base import BackendUnavailable, Item, ItemMetric
from .weights import find_weights, have_modules, how_to, pkg_version, weights_hash

SR = 16000


def _speechmos_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("speechmos")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable("pip install speechmos librosa onnxruntime")
    return Path(list(spec.submodule_search_locations)[0])


def _session(path: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=1)
def _dnsmos():
    from speechmos.dnsmos import DNSMOS

    d = _speechmos_dir() / "dnsmos_models"
    m = DNSMOS.__new__(DNSMOS)  # the library's constructor takes all cores; same sessions, our thread count
    m.primary_model_path = str(d / "sig_bak_ovr.onnx")
    m.onnx_sess = _session(d / "sig_bak_ovr.onnx")
    m.p808_onnx_sess = _session(d / "model_v8.onnx")
    return m


@lru_cache(maxsize=4096)
def _dnsmos_clip(key: str, audio_bytes: bytes) -> dict[str, float]:
    # keyed by content hash so the four DNSMOS backends share one model pass per clip
    x = np.frombuffer(audio_bytes, dtype=np.float32)
    r = _dnsmos()(np.clip(x, -1.0, 1.0), SR, False)
    return {k: float(r[k]) for k in ("ovrl_mos", "sig_mos", "bak_mos", "p808_mos")}


class _DNSMOS(ItemMetric):
    metric: ClassVar[str] = "mos"
    higher_is_better: ClassVar[bool] = True
    field: ClassVar[str] = "ovrl_mos"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = have_modules("speechmos", "onnxruntime", "librosa")
        if not ok:
            return ok, why
        d = _speechmos_dir() / "dnsmos_models"
        if not (d / "sig_bak_ovr.onnx").is_file() or not (d / "model_v8.onnx").is_file():
            return False, f"DNSMOS ONNX files missing under {d}; reinstall speechmos"
        return True, "ok"

    def identity(self) -> dict[str, Any]:
        d = _speechmos_dir() / "dnsmos_models"
        return {"name": f"{self.metric}/{self.backend}",
                "model": f"DNSMOS P.835 {self.field.split('_')[0].upper()} (Microsoft DNS challenge)"
                if self.field != "p808_mos" else "DNSMOS P.808 (Microsoft DNS challenge)",
                "version": f"speechmos {pkg_version('speechmos')}; onnxruntime {pkg_version('onnxruntime')}",
                "weights_hash": weights_hash(d / "sig_bak_ovr.onnx", d / "model_v8.onnx")}

    def score(self, items: list[Item]) -> list[float | None]:
        out: list[float | None] = []
        for it in items:
            x = resample(np.asarray(it.audio, dtype=np.float32), it.sr, SR)
            b = np.ascontiguousarray(x, dtype=np.float32).tobytes()
            out.append(_dnsmos_clip(hashlib.sha1(b).hexdigest(), b)[self.field])
        return out


class MOSDnsmosOvrl(_DNSMOS):
    backend, field = "dnsmos-ovrl", "ovrl_mos"


class MOSDnsmosSig(_DNSMOS):
    backend, field = "dnsmos-sig", "sig_mos"


class MOSDnsmosBak(_DNSMOS):
    backend, field = "dnsmos-bak", "bak_mos"


class MOSDnsmosP808(_DNSMOS):
    backend, field = "dnsmos-p808", "p808_mos"


# -- PLCMOS v2 --------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _plcmos():
    from speechmos.plcmos import PLCMOS

    m = PLCMOS.__new__(PLCMOS)
    m.model_name, m.onnx_name, m.max_lens, m.embed_rounds = "plcmos_v2", "plcmos_v2.onnx", 999999999999, 15
    m.model_path = str(_speechmos_dir() / "plcmos_models" / "plcmos_v2.onnx")
    m.session = _session(Path(m.model_path))
    return m


class MOSPlcmos(ItemMetric):
    """PLCMOS v2. The library averages 15 random rater embeddings from the global numpy RNG; we draw
    them from a fixed-seed generator so a clip always gets the same score."""

    metric, backend, higher_is_better = "mos", "plcmos", True
    rounds = 15

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = have_modules("speechmos", "onnxruntime")
        if not ok:
            return ok, why
        if not (_speechmos_dir() / "plcmos_models" / "plcmos_v2.onnx").is_file():
            return False, "PLCMOS ONNX file missing; reinstall speechmos"
        return True, "ok"

    def identity(self) -> dict[str, Any]:
        return {"name": f"{self.metric}/{self.backend}", "model": "PLCMOS v2 (Microsoft PLC challenge)",
                "version": f"speechmos {pkg_version('speechmos')}; {self.rounds} rater embeddings, seed 0",
                "weights_hash": weights_hash(_speechmos_dir() / "plcmos_models" / "plcmos_v2.onnx")}

    def score(self, items: list[Item]) -> list[float | None]:
        m = _plcmos()
        out: list[float | None] = []
        for it in items:
            x = np.clip(resample(np.asarray(it.audio, dtype=np.float32), it.sr, SR), -1, 1)
            feats = np.float32(m.stft_transform(x))[np.newaxis, np.newaxis, ...]
            rng = np.random.default_rng(0)
            vals = [float(np.ravel(m.session.run(None, {
                "degraded_audio": feats,
                "rater_embed": rng.normal(size=(1, 64)).astype(np.float32)})[0])[0]) for _ in range(self.rounds)]
            out.append(float(np.mean(vals)))
        return out


# -- paper-faithful: UTMOS22 strong (tarepan/SpeechMOS) ---------------------------------------------
_UTMOS_CKPT = "utmos22_strong_step7459_v1.pt"


@contextmanager
def _own_speechmos():
    """The SpeechMOS clone's package is named ``speechmos``, as is the DNSMOS/PLCMOS wheel's: whichever is
    imported first would shadow the other for the rest of the process (UTMOS then fails on
    ``speechmos.utmos22``, or DNSMOS on its ONNX folder). The clone's modules are imported with the wheel's set
    aside and dropped after, so the loaded model keeps its classes and later imports find the wheel again."""
    import sys

    def ours(name: str) -> bool:
        return name == "speechmos" or name.startswith("speechmos.")

    saved = {k: sys.modules.pop(k) for k in [k for k in sys.modules if ours(k)]}
    try:
        yield
    finally:
        for k in [k for k in sys.modules if ours(k)]:
            del sys.modules[k]
        sys.modules.update(saved)


@lru_cache(maxsize=1)
def _utmos(repo: str, ckpt: str):
    import torch

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    with _own_speechmos():
        model = torch.hub.load(repo, "utmos22_strong", source="local", trust_repo=True, pretrained=False)
    model.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=True))
    return model.eval().to(dev), dev


class MOSUtmos22Strong(ItemMetric):
    metric, backend, higher_is_better, tier = "mos", "utmos22-strong", True, "paper"
    key = "utmos22-strong"

    @classmethod
    def _paths(cls) -> tuple[Path, Path] | None:
        d = find_weights(cls.key, ("hubconf.py",))
        if d is None:
            return None
        import torch

        for c in (d / _UTMOS_CKPT, Path(torch.hub.get_dir()) / "checkpoints" / _UTMOS_CKPT):
            if c.is_file():
                return d, c
        return None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = have_modules("torch")
        if not ok:
            return ok, why
        if cls._paths() is None:
            return False, how_to(cls.key, f"a clone of github.com/tarepan/SpeechMOS (hubconf.py) holding {_UTMOS_CKPT} "
                                          "from its v1.0.0 release")
        return True, "ok"

    def identity(self) -> dict[str, Any]:
        p = self._paths()
        if p is None:
            raise BackendUnavailable(self.available()[1])
        return {"name": f"{self.metric}/{self.backend}", "model": "UTMOS22 strong learner (tarepan/SpeechMOS)",
                "version": f"torch {pkg_version('torch')}", "weights_hash": weights_hash(p[1])}

    def score(self, items: list[Item]) -> list[float | None]:
        import torch

        p = self._paths()
        if p is None:
            raise BackendUnavailable(self.available()[1])
        model, dev = _utmos(str(p[0]), str(p[1]))
        out: list[float | None] = []
        with torch.inference_mode():
            for it in items:
                x = torch.from_numpy(resample(np.asarray(it.audio, dtype=np.float32), it.sr, SR))[None].to(dev)
                out.append(float(model(x, SR).item()))
        return out
