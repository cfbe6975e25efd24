"""The CPU kernel's elementwise passes as one compiled loop each (gonka_tui/poc/_fused.c), when
that extension was built; numpy does the same work without it.

Why it exists: numpy runs each elementwise step as its own pass over memory, and its float32 exp
is scalar on AVX2 machines (~2 ns an element). Measured at the "cpu" preset, batch 32, one BLAS
thread, on this workplace's 2-core AMD EPYC (AVX2), in ms per 32-nonce batch, numpy → fused:
FFN gate 16.0 → 4.0, softmax 3.6 → 1.4, RoPE 3.2 → 2.2, RMSNorm 2.6 → 1.6; all four 25 → 9, and
the kernel 245 → 268 nonces/s (medians of alternating runs in one process). The loops' exp is
within 1 ulp everywhere (0.65 ns an element against numpy's 1.9).

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


def softmax(x: np.ndarray, shift_above: float = 30.0) -> np.ndarray:
    """Causal softmax over the last axis, in place, of a contiguous (..., sq, s) float32 array of
    scores of the last sq of s positions: query q sees keys 0 … q + s − sq, the other entries
    become 0 (no −inf mask needed). Each row's max is subtracted only where it is above
    `shift_above` or below −shift_above (it changes nothing but keeps exp finite and the total
    above 0); inf: never, −inf: always."""
    if not isinstance(x, np.ndarray) or x.dtype != _F32 or x.ndim < 2 or not x.flags.c_contiguous:
        raise ValueError("x: need a contiguous float32 array of (..., sq, s) scores")
    sq, s = x.shape[-2:]
    if sq > s:
        raise ValueError(f"x {x.shape}: more query positions than key positions")
    if x.size:
        _ext().softmax(x.reshape(-1), x.size // s, s, sq, s, shift_above)
    return x


def rmsnorm(x: np.ndarray, out: np.ndarray, eps: float) -> np.ndarray:
    """out = x · 1/sqrt(mean(x², per row) + eps), float32 (no gain: the kernel folds it into the next
    matrix)."""
    x_flat, rows, dim, x_stride = _rows(x, "x")
    o_flat, o_rows, o_dim, o_stride = _rows(out, "out")
    if (o_rows, o_dim) != (rows, dim):
        raise ValueError(f"x {x.shape} and out {out.shape}: need one shape")
    _ext().rmsnorm(x_flat, o_flat, rows, dim, x_stride, o_stride, eps)
    return out


def rope(src: np.ndarray, out: np.ndarray, turns: np.ndarray, per_pos: int, pos0: int = 0) -> np.ndarray:
    """RoPE on interleaved pairs: each head's pair i of row r turned by turns[pos0 + r // per_pos, i],
    (a + ib)·(cos + i·sin). src and out (rows, heads·head_dim); turns (positions, head_dim) float32,
    cos and sin interleaved (a complex64 table viewed as float32)."""
    src_flat, rows, cols, src_stride = _rows(src, "src")
    out_flat, o_rows, o_cols, out_stride = _rows(out, "out")
    cs_flat, positions, hd, _ = _rows(turns, "turns")
    if not turns.flags.c_contiguous or hd == 0 or hd % 2:
        raise ValueError("turns: need a contiguous (positions, head_dim) table, head_dim even")
    if (o_rows, o_cols) != (rows, cols) or cols % hd:
        raise ValueError(f"src {src.shape} and out {out.shape}: need one shape, whole heads of {hd}")
    _ext().rope(src_flat, out_flat, cs_flat, rows, cols // hd, hd // 2, src_stride, out_stride, per_pos, pos0,
                positions)
    return out
