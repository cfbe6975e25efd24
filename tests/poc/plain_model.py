"""A plain, unoptimised PoC v1 forward (every row, every logit), written from §1.1.1 for the tests
to hold the kernel against: readable first, fast never."""

from __future__ import annotations

import numpy as np

from gonka_tui.poc import seeds
from gonka_tui.poc.params import PocParams
from gonka_tui.poc.weights import Weights


def rope_tables(p: PocParams) -> tuple[np.ndarray, np.ndarray]:
    hd = p.head_dim
    freqs = (np.float32(1.0) / (np.float32(p.rope_theta) ** (np.arange(0, hd, 2, dtype=np.float32) / np.float32(hd))))
    angles = np.outer(np.arange(p.seq_len, dtype=np.float32), freqs.astype(np.float32))
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def rms(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return (x * (1 / np.sqrt((x * x).mean(-1, keepdims=True) + np.float32(eps)))).astype(np.float32) * w


def rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    # x (B, S, H, hd), pairs (2i, 2i+1)
    a, b = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    out = np.empty_like(x)
    out[..., 0::2] = a * c - b * s
    out[..., 1::2] = b * c + a * s
    return out


def logits(w: Weights, x: np.ndarray) -> np.ndarray:
    p = w.params
    B, S, D = x.shape
    hd, nh, nkv = p.head_dim, p.n_heads, p.n_kv_heads
    cos, sin = rope_tables(p)
    mask = np.triu(np.full((S, S), -np.inf, np.float32), 1)
    h = x.astype(np.float32)
    for lw in w.layers:
        xn = rms(h, lw.attention_norm, p.norm_eps)
        qkv = xn @ lw.wqkv
        q = qkv[..., :D].reshape(B, S, nh, hd)
        k = qkv[..., D:D + p.kv_dim].reshape(B, S, nkv, hd)
        v = qkv[..., D + p.kv_dim:].reshape(B, S, nkv, hd)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = nh // nkv
        k, v = np.repeat(k, rep, axis=2), np.repeat(v, rep, axis=2)
        q, k, v = (t.transpose(0, 2, 1, 3) for t in (q, k, v))
        scores = (q @ k.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(hd)) + mask
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        att = (scores @ v).transpose(0, 2, 1, 3).reshape(B, S, D)
        h = h + att @ lw.wo
        hn = rms(h, lw.ffn_norm, p.norm_eps)
        ab = hn @ lw.w13
        a, b = ab[..., :p.ffn_hidden], ab[..., p.ffn_hidden:]
        h = h + ((a / (1 + np.exp(-a))) * b) @ lw.w2
    h = rms(h, w.norm, p.norm_eps)
    return (h @ w.output)[:, -1, :]


def distances(w: Weights, block_hash: str, public_key: str, nonces: list[int]) -> np.ndarray:
    p = w.params
    out = logits(w, seeds.inputs(block_hash, public_key, nonces, p.seq_len, p.dim))
    perms = np.stack([seeds.permutation(block_hash, public_key, n, p.vocab_size) for n in nonces])
    out = np.take_along_axis(out, perms, axis=1)
    out = out / np.linalg.norm(out, axis=1, keepdims=True)
    return np.linalg.norm(out - seeds.target(block_hash, p.vocab_size), axis=1)
