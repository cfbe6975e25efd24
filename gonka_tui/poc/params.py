"""The model parameters of a PoC v1 round (the `params` the API node sends to its ML node), checked
at the edge: every other module may trust a PocParams."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from gonka_tui.core.errors import InputError

INT_FIELDS = ("dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "multiple_of", "seq_len")
FLOAT_FIELDS = ("ffn_dim_multiplier", "norm_eps", "rope_theta")
# Bounds that keep a typo from asking for a terabyte: the mainnet preset is dim 1792, 64 layers, seq 256.
LIMITS = {"dim": 65536, "n_layers": 1024, "n_heads": 4096, "n_kv_heads": 4096, "vocab_size": 1 << 20,
          "multiple_of": 1 << 20, "seq_len": 65536}


@dataclass(frozen=True)
class PocParams:
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    ffn_dim_multiplier: float
    multiple_of: int
    norm_eps: float
    rope_theta: float
    use_scaled_rope: bool
    seq_len: int

    @classmethod
    def from_mapping(cls, data: object) -> "PocParams":
        """From JSON-like data with the keys of the data file's `params` (plain numbers); InputError
        names the first thing wrong."""
        if not isinstance(data, dict):
            raise InputError("params must be a JSON object")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(f"params: unknown key '{unknown[0]}' (known: {', '.join(sorted(names))})")
        missing = [n for n in (f.name for f in fields(cls)) if n not in data and n != "use_scaled_rope"]
        if missing:
            raise InputError(f"params: '{missing[0]}' is missing")
        values: dict = {}
        for name in INT_FIELDS:
            v = data[name]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or math.isinf(v):
                raise InputError(f"params: {name} must be a whole number, got {v!r}")
            v = int(v)
            if not 1 <= v <= LIMITS[name]:
                raise InputError(f"params: {name} must be between 1 and {LIMITS[name]}, got {v}")
            values[name] = v
        for name in FLOAT_FIELDS:
            v = data[name]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise InputError(f"params: {name} must be a positive number, got {v!r}")
            values[name] = float(v)
        scaled = data.get("use_scaled_rope", False)
        if not isinstance(scaled, bool):
            raise InputError("params: use_scaled_rope must be true or false")
        if scaled:
            raise InputError("params: use_scaled_rope true is not supported (no PoC preset uses it)")
        values["use_scaled_rope"] = False
        p = cls(**values)
        p._check()
        return p

    def _check(self) -> None:
        if self.dim % self.n_heads:
            raise InputError(f"params: dim {self.dim} is not a multiple of n_heads {self.n_heads}")
        if self.head_dim % 2:
            raise InputError(f"params: the head size dim/n_heads = {self.head_dim} must be even (RoPE pairs)")
        if self.n_kv_heads > self.n_heads or self.n_heads % self.n_kv_heads:
            raise InputError(f"params: n_heads {self.n_heads} must be a multiple of n_kv_heads {self.n_kv_heads}")

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.head_dim

    @property
    def ffn_hidden(self) -> int:
        """The SwiGLU width, as the reference's FeedForward rounds it."""
        h = int(2 * (4 * self.dim) / 3)
        h = int(self.ffn_dim_multiplier * h)
        return self.multiple_of * ((h + self.multiple_of - 1) // self.multiple_of)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter of the reference model by name (its weight pool draws for each)."""
        d, v, hd = self.dim, self.vocab_size, self.head_dim
        shapes: dict[str, tuple[int, ...]] = {"tok_embeddings.weight": (v, d)}
        for i in range(self.n_layers):
            a = f"layers.{i}.attention."
            shapes[a + "wq.weight"] = (self.n_heads * hd, d)
            shapes[a + "wk.weight"] = (self.kv_dim, d)
            shapes[a + "wv.weight"] = (self.kv_dim, d)
            shapes[a + "wo.weight"] = (d, self.n_heads * hd)
            f = f"layers.{i}.feed_forward."
            shapes[f + "w1.weight"] = (self.ffn_hidden, d)
            shapes[f + "w2.weight"] = (d, self.ffn_hidden)
            shapes[f + "w3.weight"] = (self.ffn_hidden, d)
            shapes[f"layers.{i}.attention_norm.weight"] = (d,)
            shapes[f"layers.{i}.ffn_norm.weight"] = (d,)
        shapes["norm.weight"] = (d,)
        shapes["output.weight"] = (v, d)
        return shapes

    @property
    def total_params(self) -> int:
        return sum(math.prod(s) for s in self.parameter_shapes().values())

    @property
    def pool_size(self) -> int:
        return max(50000, int(self.total_params * 0.05))

    def flops_per_nonce(self, *, pruned: bool = True, causal: bool = False) -> int:
        """2 × the multiply-adds of every matrix product our kernel computes for one nonce:
        all layers in full but the last, whose keys and values are all computed and the rest for the
        last row only; the output for the last row. Attention QKᵀ and AV: the whole seq_len × seq_len
        square, the mask applied after (numpy's batched products, torch), or, `causal`, only the keys
        each query sees, s(s+1)/2 of the square (the fused loop; it computes a little more, whole
        blocks of 16 keys, and that is not counted). `pruned=False`: what the reference computes
        (all rows, all logits, the square)."""
        s, d, kv, h, hd = self.seq_len, self.dim, self.kv_dim, self.ffn_hidden, self.head_dim
        proj = d * d + 2 * d * kv + d * d + 3 * d * h  # q, k, v, o, w1, w2, w3 per row
        pairs = s * (s + 1) // 2 if causal and pruned else s * s  # (query, key) pairs scored
        full_layer = s * proj + 2 * self.n_heads * hd * pairs
        if not pruned:
            return 2 * (self.n_layers * full_layer + s * d * self.vocab_size)
        last_layer = s * 2 * d * kv + (d * d + d * d + 3 * d * h) + 2 * self.n_heads * hd * s
        return 2 * ((self.n_layers - 1) * full_layer + last_layer + d * self.vocab_size)
