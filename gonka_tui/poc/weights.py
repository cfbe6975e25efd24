"""The round's model weights: one pool of N(0, 0.02) values seeded by the block hash, each parameter
a slice of it (or the pool tiled and rotated when the parameter is larger), as the reference fills
them. Kept in the layout our kernel multiplies with: Linear weights transposed to (in, out)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from gonka_tui.poc.params import PocParams
from gonka_tui.poc.seeds import rng


def pool(params: PocParams, block_hash: str) -> np.ndarray:
    """Drawn in float64, kept in float32."""
    return rng(str(block_hash), 4).normal(0.0, 0.02, size=params.pool_size).astype(np.float32)


def name_offset(block_hash: str, name: str) -> int:
    return int(hashlib.sha256(f"{block_hash}_{name}".encode()).hexdigest()[:8], 16)


def fill(values: np.ndarray, block_hash: str, name: str, numel: int) -> np.ndarray:
    """The flat values of parameter `name` (numel of them) taken from the pool `values`."""
    size = values.shape[0]
    key = name_offset(block_hash, name)
    if numel <= size:
        start = key % (size - numel + 1)
        return values[start:start + numel]
    shift = key % numel  # the pool repeated to numel values, rotated left by shift
    return np.resize(values, numel) if shift == 0 else np.roll(np.resize(values, numel), -shift)


@dataclass
class LayerWeights:
    attention_norm: np.ndarray  # (dim,)
    wqkv: np.ndarray  # (dim, dim + 2·kv_dim): q, k and v side by side, x @ wqkv
    wo: np.ndarray  # (dim, dim)
    ffn_norm: np.ndarray  # (dim,)
    w13: np.ndarray  # (dim, 2·hidden): w1 and w3 side by side
    w2: np.ndarray  # (hidden, dim)


@dataclass
class Weights:
    params: PocParams
    layers: list[LayerWeights]
    norm: np.ndarray  # (dim,)
    output: np.ndarray  # (dim, vocab): x @ output

    @property
    def nbytes(self) -> int:
        arrays = [self.norm, self.output] + [a for lw in self.layers for a in vars(lw).values()]
        return sum(a.nbytes for a in arrays)


def build(params: PocParams, block_hash: str, weight_scale: float = 1.0) -> Weights:
    """Every weight × weight_scale (a test knob that makes layer mistakes visible; 1 in the protocol).
    The unused token embeddings are never materialised: only their size counts (in the pool size)."""
    values = pool(params, block_hash)
    shapes = params.parameter_shapes()

    def get(name: str) -> np.ndarray:
        shape = shapes[name]
        w = fill(values, block_hash, name, math.prod(shape)).reshape(shape).astype(np.float32, copy=True)
        if weight_scale != 1:
            w *= np.float32(weight_scale)
        return w

    def linear(*names: str) -> np.ndarray:  # (out, in) each, y = x·Wᵀ: stacked and transposed once
        return np.ascontiguousarray(np.concatenate([get(n) for n in names], axis=0).T)

    layers = []
    for i in range(params.n_layers):
        a, f = f"layers.{i}.attention.", f"layers.{i}.feed_forward."
        layers.append(LayerWeights(
            attention_norm=get(f"layers.{i}.attention_norm.weight"),
            wqkv=linear(a + "wq.weight", a + "wk.weight", a + "wv.weight"),
            wo=linear(a + "wo.weight"),
            ffn_norm=get(f"layers.{i}.ffn_norm.weight"),
            w13=linear(f + "w1.weight", f + "w3.weight"),
            w2=linear(f + "w2.weight"),
        ))
    return Weights(params, layers, get("norm.weight"), linear("output.weight"))
