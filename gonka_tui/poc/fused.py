"""The CPU kernel's work between its matrix products as compiled loops (gonka_tui/poc/_fused.c), when
that extension was built; numpy does the same work without it.

Why it exists: numpy runs each elementwise step as its own pass over memory (its float32 exp is
scalar on AVX2 machines, ~2 ns an element), and attention at these sizes is thousands of tiny
matrix products. Measured at the "cpu" preset, batch 32, one BLAS thread, on this workplace's 2-core
AMD EPYC (AVX-512), in ms per 32-nonce batch, numpy → fused (medians of alternating batches in one
process): FFN gate 9.2 → 3.7, attention with RoPE (between the projections) 7.9 → 5.2, RMSNorm
2.4 → 2.0; the batch 116.8 → 107.8. The loops' exp is within 1 ulp everywhere (0.65 ns an element
against numpy's 1.9 on AVX2).

The extension is optional (pyproject.toml: `optional = true`): without a C compiler the package
installs all the same. GONKA_POC_FUSED=0 in the environment makes `available()` false, so that the
kernel picks numpy by default (to compare both paths).

Arrays in: float32, 2-D with unit inner stride (rows may be further apart), as the kernel's
buffers and their row slices are; the C side checks every span against its buffer's size.
"""

from __future__ import annotations

import os

import numpy as np

_F32 = np.dtype(np.float32)
_module = None


def _ext():
    global _module
    if _module is None:
        from gonka_tui.poc import _fused  # ImportError where it was not built

        _module = _fused
    return _module


def built() -> bool:
    """The extension can be imported."""
    try:
        _ext()
    except ImportError:
        return False
    return True


def available() -> bool:
    """Built and not turned off with GONKA_POC_FUSED=0: what the kernel uses by default."""
    return os.environ.get("GONKA_POC_FUSED", "").strip() != "0" and built()


def _rows(a: np.ndarray, name: str) -> tuple[np.ndarray, int, int, int]:
    """A 2-D float32 array as (a flat view from its first to its last element, rows, cols, row stride
    in elements): what the C functions take."""
    if not isinstance(a, np.ndarray) or a.dtype != _F32 or a.ndim != 2:
        raise ValueError(f"{name}: need a 2-D float32 array")
    rows, cols = a.shape
    row_stride, col_stride = a.strides
    if (rows > 1 and (row_stride < 0 or row_stride % _F32.itemsize)) or (cols > 1 and col_stride != _F32.itemsize):
        raise ValueError(f"{name}: need contiguous rows, in order")
    stride = row_stride // _F32.itemsize if rows > 1 else cols
    if rows == 0 or cols == 0:
        return np.empty(0, _F32), rows, cols, stride
    span = (rows - 1) * stride + cols
    flat = np.lib.stride_tricks.as_strided(a, shape=(span,), strides=(_F32.itemsize,))
    return flat, rows, cols, stride


def exp(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = e^x over contiguous float32 arrays of one size (the loops' own exp, for tests)."""
    if x.dtype != _F32 or out.dtype != _F32 or x.size != out.size:
        raise ValueError("need float32 arrays of one size")
    if not (x.flags.c_contiguous and out.flags.c_contiguous):
        raise ValueError("need contiguous arrays")
    _ext().exp(x.reshape(-1), out.reshape(-1), x.size)
    return out


def gate(ab: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = na·b / (1 + e^na) with ab = na ‖ b, (rows, 2·hidden) → (rows, hidden): silu(a)·b with the
    kernel's −a in the first half."""
    ab_flat, rows, width, ab_stride = _rows(ab, "ab")
    t_flat, t_rows, hidden, t_stride = _rows(out, "out")
    if t_rows != rows or width != 2 * hidden:
        raise ValueError(f"ab {ab.shape} and out {out.shape}: need (rows, 2·hidden) and (rows, hidden)")
    _ext().gate(ab_flat, t_flat, rows, hidden, ab_stride, t_stride)
    return out


def rmsnorm(x: np.ndarray, out: np.ndarray, eps: float) -> np.ndarray:
    """out = x · 1/sqrt(mean(x², per row) + eps), float32 (no gain: the kernel folds it into the next
    matrix)."""
    x_flat, rows, dim, x_stride = _rows(x, "x")
    o_flat, o_rows, o_dim, o_stride = _rows(out, "out")
    if (o_rows, o_dim) != (rows, dim):
        raise ValueError(f"x {x.shape} and out {out.shape}: need one shape")
    _ext().rmsnorm(x_flat, o_flat, rows, dim, x_stride, o_stride, eps)
    return out


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, out: np.ndarray, turns: np.ndarray, batch: int,
              kv_heads: int, queries: int | None = None, shift_above: float = 30.0) -> np.ndarray:
    """Causal attention with RoPE over `batch` nonces of s positions each, rows nonce-major (nonce
    b's row at position j is b·s + j) in all four arrays: q (batch·s, heads·hd) queries, scale
    folded in; k and v (batch·s, kv_heads·hd) keys and values; out (batch·s, heads·hd). Only the
    last `queries` positions of each nonce (all by default) are attended from: their rows of q are
    read and of out written, no others. Query and key pairs are turned by the (cos, sin) of their
    position in turns (s or more rows of hd, cos and sin interleaved). Each score row's max is
    subtracted only where a score is past ±shift_above (softmax is the same for any shift; it keeps
    exp finite and the total above 0): inf, never; −inf, always."""
    q_flat, rows, q_cols, q_stride = _rows(q, "q")
    k_flat, k_rows, k_cols, k_stride = _rows(k, "k")
    v_flat, v_rows, v_cols, v_stride = _rows(v, "v")
    o_flat, o_rows, o_cols, o_stride = _rows(out, "out")
    cs_flat, positions, hd, _ = _rows(turns, "turns")
    if not turns.flags.c_contiguous or hd < 2 or hd % 2:
        raise ValueError("turns: need a contiguous (positions, head_dim) table, head_dim even")
    if batch < 1 or rows % batch or kv_heads < 1 or k_cols != kv_heads * hd or q_cols % (kv_heads * hd):
        raise ValueError(f"q {q.shape}, k {k.shape}: need whole nonces of rows, kv_heads·{hd} columns of k and "
                         f"whole groups of heads in q")
    if (k_rows, v_rows, o_rows) != (rows,) * 3 or v_cols != k_cols or o_cols != q_cols:
        raise ValueError(f"q {q.shape}, k {k.shape}, v {v.shape}, out {out.shape}: need one row count, v like k "
                         f"and out like q")
    s = rows // batch
    sq = s if queries is None else int(queries)
    if s > positions or not 0 <= sq <= s:
        raise ValueError(f"{s} positions a nonce, {sq} queries, turns for {positions}: need queries <= positions "
                         f"<= turns")
    if rows == 0 or sq == 0:
        return out
    _ext().attention(q_flat, k_flat, v_flat, o_flat, cs_flat, batch, s, sq, q_cols // hd, kv_heads, hd, q_stride,
                     k_stride, v_stride, o_stride, shift_above)
    return out
