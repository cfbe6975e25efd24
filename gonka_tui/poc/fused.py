"""The CPU kernel's work between its matrix products as compiled loops (gonka_tui/poc/_fused.c), when
that extension was built; numpy does the same work without it.

Why it exists: numpy runs each elementwise step as its own pass over memory (its float32 exp is
scalar on AVX2 machines, ~2 ns an element), and attention at these sizes is thousands of tiny
matrix products. Measured at the "cpu" preset, batch 32, one BLAS thread, on this workplace's 2-core
AMD EPYC (AVX-512), in ms per 32-nonce batch, numpy → fused (medians of alternating batches in one
process): FFN gate 9.2 → 3.7, attention with RoPE (between the projections) 7.9 → 5.2, RMSNorm
2.4 → 2.0; the batch 116.8 → 107.8. The loops' exp is within 1 ulp everywhere (0.65 ns an element
against numpy's 1.9 on AVX2).

Its matrix products (`matmul`, AVX-512 only) replace numpy's matmul where numpy's BLAS runs
AVX-512 too (`gemm_isa` says why): 8 × 32 tiles over weights packed once, with the norm's factor,
the gate or the residual add applied to each tile before it is written.

The extension is optional (pyproject.toml: `optional = true`): without a C compiler the package
installs all the same. GONKA_POC_FUSED=0 in the environment makes `available()` false, so that the
kernel picks numpy by default (to compare both paths).

Arrays in: float32, 2-D with unit inner stride (rows may be further apart), as the kernel's
buffers and their row slices are. The C side takes them as they are, through the buffer protocol
with their strides, and checks shape, type and layout itself (a flat view made in Python cost 4 µs
an array, 1.4 % of the kernel's time at ~300 arrays a batch).
"""

from __future__ import annotations

import os

import numpy as np

from gonka_tui.poc import blas

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
    _ext().gate(ab, out)
    return out


def rmsnorm(x: np.ndarray, out: np.ndarray, eps: float) -> np.ndarray:
    """out = x · 1/sqrt(mean(x², per row) + eps), float32 (no gain: the kernel folds it into the next
    matrix)."""
    _ext().rmsnorm(x, out, eps)
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
    if q.shape[0] == 0 or queries == 0:
        return out
    _ext().attention(q, k, v, out, turns, batch, kv_heads, q.shape[0] // max(1, batch) if queries is None else
                     int(queries), shift_above)
    return out


# ----- matrix products of our own (see _fused.c: "matrix products") -----

_ISA_CODES = {"avx512": 1}
_MODES = {"store": 0, "add": 1, "gate": 2}
_BLAS_AVX512 = {"skylakex", "cooperlake", "sapphirerapids"}  # OpenBLAS's core types with AVX-512 kernels


def _panel_widths() -> dict[str, int]:
    return dict(_ext().gemm_isas()) if built() else {}


def gemm_isas() -> list[str]:
    """The instruction sets this processor runs our products in: ["avx512"] or none."""
    return list(_panel_widths())


def blas_core_type() -> str | None:
    """The core type numpy's OpenBLAS runs (threadpoolctl), None for another BLAS."""
    return blas.info("openblas")["core_type"]


def gemm_isa() -> str | None:
    """The instruction set the kernel's own products use, None for numpy's matmul.

    Ours where numpy's BLAS runs AVX-512 too (or is not OpenBLAS) and the processor has it, so that
    the kernel is held where the machine's BLAS is (OPENBLAS_CORETYPE=Haswell: numpy's matmul here
    too) and its ratio to numpy's GEMM compares like with like. GONKA_POC_GEMM=numpy|avx512 sets it
    (an instruction set the processor lacks is refused)."""
    isas = gemm_isas()
    asked = os.environ.get("GONKA_POC_GEMM", "").strip().lower()
    if asked == "numpy":
        return None
    if asked:
        if asked not in isas:
            raise RuntimeError(f"GONKA_POC_GEMM={asked}: this processor runs {', '.join(isas) or 'none'}")
        return asked
    core = blas_core_type()
    if core is None:
        return isas[0] if isas else None
    return "avx512" if "avx512" in isas and core.lower() in _BLAS_AVX512 else None


class Packed:
    """A (k, n) float32 matrix in panels of the instruction set's width, for `matmul`: panel p is k
    rows of its columns p·width.., zero past n. `gate`: w1 and w3 (k, hidden) interleaved half a
    panel at a time, so that each panel yields half a panel of silu(a)·b."""

    def __init__(self, panels: np.ndarray, k: int, out_cols: int, isa: str, gate: bool) -> None:
        self.data = panels.reshape(-1)  # flat, as the C side takes it on every call
        self.panels, self.k, self.out_cols, self.isa, self.gate = panels.shape[0], k, out_cols, isa, gate


def _panels(w: np.ndarray, width: int) -> np.ndarray:
    """(k, n) → (panels, k, width), zero-padded past n, 64-byte aligned."""
    k, n = w.shape
    panels = -(-n // width)
    raw = np.zeros(panels * k * width + 16, _F32)  # + 16: room to start on 64 bytes
    start = (-raw.ctypes.data % 64) // _F32.itemsize
    out = raw[start:start + panels * k * width].reshape(panels, k, width)
    whole = n // width  # panels of whole columns straight from w; the last one's columns past n stay 0
    out[:whole] = w[:, :whole * width].reshape(k, whole, width).transpose(1, 0, 2)
    if whole < panels:
        out[whole, :, :n - whole * width] = w[:, whole * width:]
    return out


def pack(w: np.ndarray, isa: str) -> Packed:
    w = np.asarray(w, _F32)
    if w.ndim != 2 or 0 in w.shape:
        raise ValueError(f"pack: need a 2-D matrix, not {w.shape}")
    return Packed(_panels(w, _panel_widths()[isa]), w.shape[0], w.shape[1], isa, False)


def pack_gate(w1: np.ndarray, w3: np.ndarray, isa: str) -> Packed:
    """w1 and w3 (k, hidden), the gate's −a and b, half a panel of each at a time."""
    w1, w3 = np.asarray(w1, _F32), np.asarray(w3, _F32)
    if w1.ndim != 2 or w1.shape != w3.shape or 0 in w1.shape:
        raise ValueError(f"pack_gate: need two matrices of one shape, not {w1.shape} and {w3.shape}")
    half = _panel_widths()[isa] // 2
    k, hidden = w1.shape
    groups = -(-hidden // half)
    both = np.zeros((k, groups, 2, half), _F32)
    for j, w in enumerate((w1, w3)):
        padded = np.zeros((k, groups * half), _F32)
        padded[:, :hidden] = w
        both[:, :, j] = padded.reshape(k, groups, half)
    return Packed(_panels(both.reshape(k, -1), 2 * half), k, hidden, isa, True)


def matmul(a: np.ndarray, w: Packed, out: np.ndarray, *, scale: np.ndarray | None = None, add: bool = False
           ) -> np.ndarray:
    """out = (a · w) × scale per row; `add`: out += that; w packed with `pack_gate`: out = na·b / (1 + e^na)
    of (na ‖ b) = a · (w1 ‖ w3) × scale. a (rows, k), out (rows, columns of w), scale (rows,) float32;
    out must not overlap a."""
    if a.shape[-1] != w.k or out.shape[-1] != w.out_cols:
        raise ValueError(f"a {a.shape}, out {out.shape}: need (rows, {w.k}) and (rows, {w.out_cols})")
    if add and w.gate:
        raise ValueError("a gated product is written, not added")
    mode = _MODES["gate" if w.gate else "add" if add else "store"]
    _ext().gemm(a, w.data, out, scale, w.panels, mode, _ISA_CODES[w.isa])
    return out


def rms_factors(x: np.ndarray, out: np.ndarray, eps: float) -> np.ndarray:
    """out[i] = 1/sqrt(mean(x[i]²) + eps), float32: RMSNorm's factor per row, for `matmul`'s scale."""
    _ext().rms_factors(x, out, eps)
    return out
