"""The torch kernel: PoC v1 distances on CUDA (float16 by default, as production runs) or on torch's
CPU device (float32 by default; the tests hold it against the known answers there). Same inputs,
seeds and distances as kernel.CpuKernel; imported only when asked for (backends.open_kernel).

- Weights are built straight on the device from the round's pool (weights.pool, weights.fill and
  PocParams.parameter_shapes, as the CPU kernel's): the float32 pool moves to the device once and
  each parameter is filled there, so the host never holds the model (mainnet: 36 GB in float16).
- Only what the distance needs is computed: every layer's keys and values; the last layer's query,
  attention and feed-forward for the last row alone; the final norm and output for that row.
- Precision follows the reference (nano-Llama 3.1): matrix products in the model's dtype; RMSNorm
  and RoPE in float32, cast back, the norm gain applied after the cast; attention scores scaled,
  masked and softmaxed in float32.
- On one CPU thread beside the device, the next batch's inputs are drawn and the last batch's logits
  shuffled and measured (gonka_tui/poc/draws.py, numpy's draws in compiled loops, the GIL released)
  while the device works on the current batch.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from gonka_tui.core.errors import InputError
from gonka_tui.poc import backends, draws, seeds, weights
from gonka_tui.poc.kernel import rope_tables
from gonka_tui.poc.params import PocParams

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
CPU_BATCH = backends.DEFAULT_BATCH
MAX_BATCH = 1024
BATCH_MEMORY_SHARE = 0.8  # of the device memory left free once the weights are in


def bytes_per_nonce(p: PocParams, value_bytes: int) -> int:
    """Peak device memory one nonce adds to a batch, inside one layer (keys and values live only
    within their layer: nothing is cached across layers):
    residual stream, its float32 norm and the normed copy; q‖k‖v; RoPE's float32 copies of q and k
    (input, two products, the stacked result); the feed-forward's w1‖w3 outputs and the gated
    product; the attention scores in float32 (scores, softmax) and their cast."""
    S, D, kv, H = p.seq_len, p.dim, p.kv_dim, p.ffn_hidden
    rows = S * (D * (2 * value_bytes + 4) + (D + 2 * kv) * value_bytes + (D + kv) * 4 * 4
                + 3 * H * value_bytes)
    return rows + p.n_heads * S * S * (2 * 4 + value_bytes)


def auto_batch(p: PocParams, value_bytes: int, free_bytes: int) -> int:
    """Nonces per batch that fit BATCH_MEMORY_SHARE of `free_bytes`, between 1 and MAX_BATCH."""
    return max(1, min(MAX_BATCH, int(free_bytes * BATCH_MEMORY_SHARE) // bytes_per_nonce(p, value_bytes)))


def free_memory(device: torch.device) -> int | None:
    """Free bytes on the device (a test replaces this to see the memory check refuse)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return backends.host_memory_bytes()


def fill_into(out: torch.Tensor, pool: torch.Tensor, block_hash: str, name: str, scale: float = 1.0) -> None:
    """Parameter `name` from the pool (float32, on out's device) into `out` (any shape, contiguous,
    the model's dtype), × scale in float32 before the cast, as weights.fill lays it out."""
    flat = out.view(-1)
    numel, size = flat.numel(), pool.numel()

    def put(dst: torch.Tensor, src: torch.Tensor) -> None:
        dst.copy_(src * scale if scale != 1 else src)

    if numel <= size:  # a slice of the pool: weights.fill works on a tensor as it is
        put(flat, weights.fill(pool, block_hash, name, numel))
        return
    # The pool repeated to numel values, rotated left by the parameter's offset (weights.fill's
    # np.resize + np.roll), done on the device in two copies.
    shift = weights.name_offset(block_hash, name) % numel
    tiled = pool.repeat(-(-numel // size))[:numel]
    put(flat[:numel - shift], tiled[shift:])
    if shift:
        put(flat[numel - shift:], tiled[:shift])
    del tiled


class TorchKernel:
    """Distances for one round (block hash and weights); any public key, any nonces."""

    def __init__(self, params: PocParams, block_hash: str, *, weight_scale: float = 1.0, device: str = "cuda",
                 batch: int | None = None, dtype: str | None = None) -> None:
        if device == "cuda":
            if not torch.cuda.is_available():
                raise InputError("no CUDA device is visible to torch: use --device cpu")
            self._dev = torch.device("cuda")
        elif device == "cpu":
            self._dev = torch.device("cpu")
        else:
            raise InputError(f"unknown torch device '{device}' (cuda, cpu)")
        self.device = "cuda" if device == "cuda" else "torch-cpu"
        self.dtype = dtype or ("float16" if device == "cuda" else "float32")
        if self.dtype not in DTYPES:
            raise InputError(f"unknown dtype '{self.dtype}' ({', '.join(DTYPES)})")
        self._dt = DTYPES[self.dtype]
        value_bytes = torch.empty((), dtype=self._dt).element_size()
        where = "the GPU" if device == "cuda" else "this machine"
        backends.check_memory(params, value_bytes, free_memory(self._dev), where)  # before any drawing

        self.params = p = params
        self.block_hash = block_hash
        with torch.inference_mode():
            self._build(weight_scale)
        if batch is None:
            if self._dev.type == "cuda":
                torch.cuda.empty_cache()  # the fill's temporaries back to the driver before measuring
                batch = auto_batch(p, value_bytes, free_memory(self._dev) or 0)
            else:
                batch = CPU_BATCH
        self.batch = max(1, int(batch))
        self.flops_per_nonce = params.flops_per_nonce()  # attention: the whole square, masked after
        cos, sin = rope_tables(p)
        self._cos = torch.from_numpy(cos).to(self._dev)
        self._sin = torch.from_numpy(sin).to(self._dev)
        self._mask = torch.full((p.seq_len, p.seq_len), float("-inf"), device=self._dev).triu(1)
        self.target = seeds.target(block_hash, p.vocab_size)
        self._prep = ThreadPoolExecutor(1, thread_name_prefix="poc-inputs")

    def _build(self, scale: float) -> None:
        p, dev, dt = self.params, self._dev, self._dt
        shapes = p.parameter_shapes()
        pool = torch.from_numpy(weights.pool(p, self.block_hash)).to(dev)

        def make(*names: str) -> torch.Tensor:  # parameters stacked along their first (output) axis
            rows = [shapes[n][0] for n in names]
            out = torch.empty((sum(rows),) + shapes[names[0]][1:], dtype=dt, device=dev)
            start = 0
            for n, r in zip(names, rows):
                fill_into(out[start:start + r], pool, self.block_hash, n, scale)
                start += r
            return out

        self._layers = []
        for i in range(p.n_layers):  # Linear weights stay (out, in): F.linear computes x·Wᵀ
            a, f = f"layers.{i}.attention.", f"layers.{i}.feed_forward."
            self._layers.append({
                "attention_norm": make(f"layers.{i}.attention_norm.weight"),
                "wqkv": make(a + "wq.weight", a + "wk.weight", a + "wv.weight"),
                "wo": make(a + "wo.weight"),
                "ffn_norm": make(f"layers.{i}.ffn_norm.weight"),
                "w13": make(f + "w1.weight", f + "w3.weight"),
                "w2": make(f + "w2.weight"),
            })
        self._norm_w = make("norm.weight")
        self._output = make("output.weight")  # tok_embeddings are never used: inputs are embeddings

    def close(self) -> None:
        self._prep.shutdown(wait=True)
        self._layers, self._norm_w, self._output = [], None, None
        if self._dev.type == "cuda":
            torch.cuda.empty_cache()

    def distances(self, public_key: str, nonces: Sequence[int]) -> np.ndarray:
        """float64 distance of each nonce to the round's target, in the order given."""
        nonces = [int(n) for n in nonces]
        chunks = [nonces[i:i + self.batch] for i in range(0, len(nonces), self.batch)]
        if not chunks:
            return np.empty(0)
        parts = []
        pending = self._prep.submit(self._host_inputs, public_key, chunks[0])
        for i, chunk in enumerate(chunks):
            x = pending.result()
            if i + 1 < len(chunks):  # drawn on the CPU while the device runs this batch
                pending = self._prep.submit(self._host_inputs, public_key, chunks[i + 1])
            with torch.inference_mode():
                logits = self._logits(torch.from_numpy(x).to(self._dev)).float().cpu().numpy()
            # shuffled and measured on the CPU too, while the device runs the next batch
            parts.append(self._prep.submit(draws.distances, logits, self.block_hash, public_key, chunk, self.target))
        return np.concatenate([part.result() for part in parts])

    def _host_inputs(self, public_key: str, nonces: list[int]) -> np.ndarray:
        p = self.params
        return draws.inputs(self.block_hash, public_key, nonces, p.seq_len, p.dim)

    # ----- the forward, on the device -----

    def _rms(self, x: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.params.norm_eps)).to(x.dtype) * gain

    def _rope(self, x: torch.Tensor, start: int) -> torch.Tensor:
        """x (B, n, heads, hd) at positions start…start+n−1: pairs (2i, 2i+1) rotated in float32."""
        n = x.shape[1]
        c = self._cos[start:start + n, None, :]
        s = self._sin[start:start + n, None, :]
        xf = x.float().unflatten(-1, (-1, 2))
        a, b = xf[..., 0], xf[..., 1]
        return torch.stack((a * c - b * s, b * c + a * s), -1).flatten(-2).to(x.dtype)

    def _ffn(self, h: torch.Tensor, lw: dict) -> torch.Tensor:
        H = self.params.ffn_hidden
        ab = F.linear(self._rms(h, lw["ffn_norm"]), lw["w13"])
        t = F.silu(ab[..., :H])
        t.mul_(ab[..., H:])
        del ab
        return h + F.linear(t, lw["w2"])

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        p = self.params
        B, S, D = x.shape
        kv, hd, nkv = p.kv_dim, p.head_dim, p.n_kv_heads
        rep = p.n_heads // nkv
        scale = 1.0 / math.sqrt(hd)
        h = x.to(self._dt)
        for lw in self._layers[:-1]:
            qkv = F.linear(self._rms(h, lw["attention_norm"]), lw["wqkv"])
            q = self._rope(qkv[..., :D].unflatten(-1, (p.n_heads, hd)), 0)
            k = self._rope(qkv[..., D:D + kv].unflatten(-1, (nkv, hd)), 0)
            v = qkv[..., D + kv:].unflatten(-1, (nkv, hd)).transpose(1, 2)  # (B, nkv, S, hd)
            del qkv
            # Query head j uses kv head j // rep: the rep heads of one kv head share its keys, so
            # they stack into one (rep·S, hd) matrix per kv head.
            q = q.unflatten(2, (nkv, rep)).permute(0, 2, 3, 1, 4).reshape(B, nkv, rep * S, hd)
            scores = (q @ k.permute(0, 2, 3, 1)).float().mul_(scale).view(B, nkv, rep, S, S)
            scores = torch.softmax(scores + self._mask, dim=-1).to(self._dt).view(B, nkv, rep * S, S)
            att = (scores @ v).view(B, nkv, rep, S, hd).permute(0, 3, 1, 2, 4).reshape(B, S, D)
            del scores, q, k, v
            h = h + F.linear(att, lw["wo"])
            h = self._ffn(h, lw)
        lw = self._layers[-1]  # keys and values of every row; the rest for the last row alone
        xn = self._rms(h, lw["attention_norm"])
        w = lw["wqkv"]
        kvs = F.linear(xn, w[D:])
        k = self._rope(kvs[..., :kv].unflatten(-1, (nkv, hd)), 0)
        v = kvs[..., kv:].unflatten(-1, (nkv, hd)).transpose(1, 2)  # (B, nkv, S, hd)
        q = self._rope(F.linear(xn[:, -1:], w[:D]).unflatten(-1, (p.n_heads, hd)), S - 1)
        q = q.view(B, nkv, rep, hd)
        scores = (q @ k.permute(0, 2, 3, 1)).float().mul_(scale)  # (B, nkv, rep, S): no mask on the last row
        att = (torch.softmax(scores, dim=-1).to(self._dt) @ v).reshape(B, D)
        last = h[:, -1] + F.linear(att, lw["wo"])
        last = self._ffn(last, lw)
        return F.linear(self._rms(last, self._norm_w), self._output)  # (B, vocab)
