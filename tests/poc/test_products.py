"""The kernel's own matrix products (gonka_tui/poc/_fused.c, AVX-512): a·W with W packed once, each
output row scaled by its RMSNorm factor, then stored, added to the output (the residual) or gated
(silu(a)·b from w1 and w3 packed together) — to float32 rounding of the float64 formula, on any
shapes and strides, nothing written outside the output; refused where buffers or dimensions do not
fit; and chosen only where numpy's BLAS runs AVX-512 as well."""

from __future__ import annotations

import numpy as np
import pytest

from gonka_tui.poc import fused
from tests.poc.test_fused import F32, strided

needs_gemm = pytest.mark.skipif("avx512" not in fused.gemm_isas(), reason="no AVX-512 here (or the loops not built)")
SHAPES = [(1, 1, 1), (7, 5, 3), (9, 300, 33), (200, 256, 100), (33, 1024, 31)]  # 200 rows: past one pass of 192


def framed(rows: int, cols: int, fill: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """A (rows, cols) view inside a buffer of `fill`, rows further apart than cols."""
    big = np.full((rows + 2, cols + 9), fill, F32)
    return big, big[1:rows + 1, 3:cols + 3]


def untouched_outside(big: np.ndarray, rows: int, cols: int, fill: float = 7.0) -> bool:
    mask = np.ones(big.shape, bool)
    mask[1:rows + 1, 3:cols + 3] = False
    return bool((big[mask] == fill).all())


@needs_gemm
@pytest.mark.parametrize("rows, k, n", SHAPES)
def test_products_equal_the_float64_formula_and_write_nothing_else(rows, k, n):
    rng = np.random.default_rng(rows * 1000 + k)
    a = strided(rng, rows, k)
    w1, w3 = rng.standard_normal((k, n)).astype(F32), rng.standard_normal((k, n)).astype(F32)
    r = (rng.random(rows) + 0.5).astype(F32)
    x1, x3 = (a.astype(np.float64) @ w1) * r[:, None], (a.astype(np.float64) @ w3) * r[:, None]
    tol = 2e-6 * np.sqrt(k) * np.abs(a).max() * max(np.abs(w1).max(), np.abs(w3).max())

    big, out = framed(rows, n)
    fused.matmul(a, fused.pack(w1, "avx512"), out, scale=r)
    assert np.abs(out - x1).max() <= tol and untouched_outside(big, rows, n)

    start = rng.standard_normal((rows, n)).astype(F32)
    big, out = framed(rows, n)
    out[...] = start
    fused.matmul(a, fused.pack(w1, "avx512"), out, add=True)  # no scale: ×1
    assert np.abs(out - (start + a.astype(np.float64) @ w1)).max() <= tol + 1e-6 and untouched_outside(big, rows, n)

    big, out = framed(rows, n)
    fused.matmul(a, fused.pack_gate(w1, w3, "avx512"), out, scale=r)
    want = x1 * x3 / (1 + np.exp(x1))
    assert np.abs(out - want).max() <= 1e-5 * max(1.0, np.abs(want).max()) and untouched_outside(big, rows, n)


@needs_gemm
def test_rms_factors_are_the_norms_reciprocal():
    x = strided(np.random.default_rng(5), 9, 37)
    got = fused.rms_factors(x, np.empty(9, F32), 1e-5)
    want = 1 / np.sqrt((x.astype(np.float64) ** 2).mean(axis=1) + 1e-5)
    assert np.abs(got / want - 1).max() < 1e-6


@needs_gemm
def test_the_products_refuse_what_does_not_fit_and_write_nothing():
    ext = fused._ext()
    a = np.ones((8, 16), F32)
    packed = fused.pack(np.ones((16, 40), F32), "avx512")  # 2 panels of 32 columns
    flat = packed.data
    c = np.full((8, 40), 7.0, F32)
    cases = [
        (a.reshape(-1), flat, c, None, 2, 0, 1),  # a not 2-D
        (a[:7], flat, c, None, 2, 0, 1),  # a row short
        (a, flat[:-1], c, None, 2, 0, 1),  # the packed matrix one float short
        (a, flat, c[:, :39].copy(), None, 1, 0, 1),  # more columns than the panels hold
        (a, flat, c, np.ones(7, F32), 2, 0, 1),  # a factor short
        (a, flat, c, np.ones((8, 1), F32), 2, 0, 1),  # factors not a vector
        (a, flat, c, np.ones(8), 2, 0, 1),  # float64 factors
        (a, flat, c, None, 3, 0, 1),  # a panel with no column to write
        (a, flat, c, None, 2, 3, 1),  # no such mode
        (a, flat, c, None, 2, 0, 2),  # no such instruction set
        (a[:, :0], flat, c, None, 2, 0, 1),  # k < 1
        (a, flat, c, None, 2**60, 0, 1),  # panels · k · 32 overflows
    ]
    for args in cases:
        with pytest.raises(ValueError):
            ext.gemm(*args)
        assert (c == 7.0).all()
    with pytest.raises(ValueError):
        fused.matmul(a[:, :15], packed, c)  # k unlike the packed matrix's
    with pytest.raises(ValueError):
        fused.matmul(a, packed, c[:, :39])  # columns unlike its
    with pytest.raises(ValueError):
        fused.matmul(a, packed, c, scale=np.ones(8))  # float64 factors
    with pytest.raises(ValueError):
        fused.matmul(a, fused.pack_gate(np.ones((16, 40), F32), np.ones((16, 40), F32), "avx512"), c, add=True)
    with pytest.raises(ValueError):
        fused.pack_gate(np.ones((16, 40), F32), np.ones((16, 41), F32), "avx512")
    assert (c == 7.0).all()
    factors = np.full(8, 7.0, F32)
    with pytest.raises(ValueError):
        ext.rms_factors(a, factors[:7], 1e-5)  # a factor short
    with pytest.raises(ValueError):
        fused.rms_factors(a, factors[:7], 1e-5)
    assert (factors == 7.0).all()
    ext.gemm(a, flat, c, None, 2, 0, 1)  # the exact sizes are accepted
    assert (c == 16.0).all()


def test_the_products_follow_numpys_blas_and_the_environment(monkeypatch):
    monkeypatch.delenv("GONKA_POC_GEMM", raising=False)
    monkeypatch.setattr(fused, "gemm_isas", lambda: ["avx512"])
    for core, want in (("SkylakeX", "avx512"), ("SapphireRapids", "avx512"), ("Haswell", None), ("Zen", None),
                       (None, "avx512")):  # None: another BLAS than OpenBLAS
        monkeypatch.setattr(fused, "blas_core_type", lambda core=core: core)
        assert fused.gemm_isa() == want, core
    monkeypatch.setenv("GONKA_POC_GEMM", "numpy")
    assert fused.gemm_isa() is None
    monkeypatch.setattr(fused, "gemm_isas", lambda: [])
    monkeypatch.setenv("GONKA_POC_GEMM", "avx512")
    with pytest.raises(RuntimeError, match="avx512"):
        fused.gemm_isa()
    monkeypatch.delenv("GONKA_POC_GEMM")
    monkeypatch.setattr(fused, "blas_core_type", lambda: "SkylakeX")
    assert fused.gemm_isa() is None  # a processor without AVX-512


def test_the_kernel_refuses_our_products_without_the_loops_or_the_instruction_set(monkeypatch):
    from gonka_tui.poc import weights
    from gonka_tui.poc.kernel import CpuKernel
    from gonka_tui.poc.params import PocParams
    from tests.poc.conftest import HASH, TINY

    w = weights.build(PocParams.from_mapping(TINY), HASH)
    with pytest.raises(RuntimeError, match="compiled loops"):
        CpuKernel(w, HASH, fused=False, gemm="avx512")
    monkeypatch.setattr(fused, "gemm_isas", lambda: [])
    with pytest.raises(RuntimeError, match="avx512"):
        CpuKernel(w, HASH, gemm="avx512")
    assert CpuKernel(w, HASH, fused=False).gemm is None  # numpy alone: numpy's matmul
