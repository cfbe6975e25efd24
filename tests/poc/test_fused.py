"""The compiled elementwise loops (gonka_tui.poc._fused) compute what the numpy formulas compute, to
float32 rounding, on any shapes and strides; they refuse buffers too small for the dimensions given;
and the kernel gives every known answer on both paths."""

from __future__ import annotations

import numpy as np
import pytest

from gonka_tui.poc import fused, weights
from gonka_tui.poc.kernel import CpuKernel
from gonka_tui.poc.params import PocParams
from tests.poc.conftest import CASES, HASH, KEY, TINY, nonce_range

EXACT = 1e-6
needs_ext = pytest.mark.skipif(not fused.built(), reason="gonka_tui.poc._fused is not built (no C compiler at install)")
F32 = np.float32


def ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got − want| in float32 ulps of want (want in float64; subnormals count in the smallest ulp)."""
    spacing = np.spacing(np.abs(want.astype(F32))).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / np.maximum(spacing, np.spacing(F32(0)))


def strided(rng: np.random.Generator, rows: int, cols: int, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """A (rows, cols) float32 view with rows further apart than cols, inside a larger buffer."""
    big = (rng.standard_normal((rows + 2, cols + 5)) * scale).astype(F32)
    return big[1:rows + 1, 2:cols + 2]


def mixed_scales(rng: np.random.Generator, shape) -> np.ndarray:
    """Magnitudes from 1e-30 to 1e2 (and a few far beyond exp's range), signs mixed."""
    scale = 10.0 ** rng.uniform(-30, 2, shape)
    scale.flat[::17] = 1e4
    return scale


@needs_ext
def test_exp_is_within_one_ulp_everywhere_and_gets_the_edges_right():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-104, 88.72, 200_001), rng.standard_normal(10_001) * 1e-3,
                        np.linspace(-103.9, -87.3, 5_001)]).astype(F32)  # the last: subnormal results
    got = fused.exp(x, np.empty_like(x))
    assert ulps(got, np.exp(x.astype(np.float64))).max() <= 1.0
    edges = np.array([np.inf, -np.inf, np.nan, 88.72283172607422, 88.72283935546875, 89.5, 1e30, -104.0, -1e30,
                      0.0, -0.0], F32)
    want = np.array([np.inf, 0, np.nan, 3.4027985e38, np.inf, np.inf, np.inf, 0, 0, 1, 1], F32)
    np.testing.assert_array_equal(fused.exp(edges, np.empty_like(edges)), want)


@needs_ext
@pytest.mark.parametrize("rows, hidden", [(1, 1), (7, 37), (33, 64)])
def test_gate_equals_the_numpy_formula_on_strided_rows(rows, hidden):
    rng = np.random.default_rng(rows)
    ab = strided(rng, rows, 2 * hidden, mixed_scales(rng, (rows + 2, 2 * hidden + 5)))
    out_big = np.full((rows + 2, hidden + 3), 7.0, F32)
    out = out_big[1:rows + 1, 1:hidden + 1]
    fused.gate(ab, out)
    na, b = ab[:, :hidden].astype(np.float64), ab[:, hidden:].astype(np.float64)
    with np.errstate(over="ignore"):
        want = na * b / (1 + np.exp(na))
    assert np.isfinite(out).all()  # exp overflow gives 0, not NaN
    close = np.abs(out - want) <= 1e-6 * np.abs(want) + 1e-37
    assert close.all(), (out[~close], want[~close])
    out_big[1:rows + 1, 1:hidden + 1] = 7.0
    assert (out_big == 7.0).all()  # nothing written outside the view


def causal_softmax(x: np.ndarray) -> np.ndarray:
    """Reference: softmax over the last axis in float64 with the −inf mask of the last sq of s positions."""
    sq, s = x.shape[-2:]
    mask = np.arange(s)[None, :] > np.arange(sq)[:, None] + (s - sq)
    y = np.where(mask, -np.inf, x.astype(np.float64))
    y = np.exp(y - y.max(axis=-1, keepdims=True))
    return y / y.sum(axis=-1, keepdims=True)


@needs_ext
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 3, 1, 13), (1, 2, 5, 13), (3, 1, 17, 17), (1, 1, 1, 1)])
@pytest.mark.parametrize("scale", [1.0, 1e-20, 300.0])
def test_softmax_equals_a_causal_softmax(shape, scale):
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * scale).astype(F32)
    if scale > 1:
        x[..., 0, :] -= 5000  # a row whose every score is far below exp's range: it must still sum to 1
    want = causal_softmax(x)
    got = fused.softmax(x.copy())
    assert np.abs(got - want).max() < 1e-6
    assert (got[want == 0] == 0).all()  # the masked columns are exactly 0


@needs_ext
def test_the_softmax_shift_threshold_is_honoured():
    x = np.full((1, 4, 4), 100.0, F32)  # exp(100) overflows float32: without the shift, inf / inf
    with np.errstate(invalid="ignore"):
        assert np.isnan(fused.softmax(x.copy(), shift_above=np.inf)[0, -1]).all()
    assert np.allclose(fused.softmax(x.copy())[0, -1], 0.25)
    small = np.random.default_rng(0).standard_normal((2, 6, 6)).astype(F32)
    assert np.abs(fused.softmax(small.copy(), -np.inf) - fused.softmax(small.copy(), np.inf)).max() < 1e-7


@needs_ext
@pytest.mark.parametrize("rows, dim", [(1, 1), (9, 37), (40, 64)])
@pytest.mark.parametrize("scale", [1.0, 1e-20, 1e17])
def test_rmsnorm_equals_the_numpy_formula_on_strided_rows(rows, dim, scale):
    rng = np.random.default_rng(dim)
    x = strided(rng, rows, dim, scale)
    out_big = np.full((rows + 1, dim + 9), 7.0, F32)
    out = out_big[:rows, 4:dim + 4]
    fused.rmsnorm(x, out, 1e-5)
    x64 = x.astype(np.float64)
    want = x64 / np.sqrt((x64 * x64).mean(axis=1, keepdims=True) + 1e-5)
    assert np.abs(out - want).max() <= 1e-6 * np.abs(want).max()
    out_big[:rows, 4:dim + 4] = 7.0
    assert (out_big == 7.0).all()


@needs_ext
@pytest.mark.parametrize("per_pos, pos0, heads, hd", [(1, 0, 1, 2), (3, 2, 5, 6), (4, 0, 3, 32)])
def test_rope_is_the_complex_product_by_the_position_turn(per_pos, pos0, heads, hd):
    rng = np.random.default_rng(hd)
    positions, rows = 8, 13
    rows = min(rows, (positions - pos0) * per_pos)
    angles = rng.uniform(-4, 4, (positions, hd // 2)).astype(F32)
    turns = (np.cos(angles) + 1j * np.sin(angles)).astype(np.complex64)
    src = strided(rng, rows, heads * hd)
    out = np.zeros((rows, heads * hd + 2), F32)[:, 1:-1]
    fused.rope(src, out, turns.view(F32), per_pos, pos0)
    pos = pos0 + np.arange(rows) // per_pos
    want = (np.ascontiguousarray(src).view(np.complex64).reshape(rows, heads, hd // 2).astype(np.complex128)
            * turns[pos][:, None, :])
    assert np.abs(np.ascontiguousarray(out).view(np.complex64).reshape(want.shape) - want).max() < 1e-6
    with pytest.raises(ValueError):  # positions past the table
        fused.rope(src, out, turns.view(F32), per_pos, positions)


@needs_ext
def test_buffers_too_small_for_the_dimensions_are_refused():
    ext = fused._ext()
    buf = np.zeros(64, F32)
    small = np.zeros(63, F32)
    with pytest.raises(ValueError):
        ext.gate(small, buf, 2, 16, 32, 16)  # ab needs (2 − 1)·32 + 32 = 64 floats
    with pytest.raises(ValueError):
        ext.gate(buf, small[:31], 2, 16, 32, 16)  # t needs 16 + 16 = 32
    with pytest.raises(ValueError):
        ext.softmax(small, 8, 8, 8, 8)
    with pytest.raises(ValueError):
        ext.rmsnorm(buf, small, 2, 32, 32, 32, 1e-5)
    with pytest.raises(ValueError):
        ext.rmsnorm(buf, buf, 2, 32, 16, 32, 1e-5)  # a row stride below the row length
    with pytest.raises(ValueError):
        ext.rmsnorm(buf, buf, -1, 32, 32, 32, 1e-5)
    with pytest.raises(ValueError):
        ext.gate(buf, buf, 2**62, 2**40, 2**41, 2**40)  # sizes whose product overflows
    with pytest.raises(ValueError):
        ext.exp(buf, small, 64)
    with pytest.raises(ValueError):
        ext.rope(buf, buf, small[:3], 1, 1, 2, 4, 4, 1, 0, 1)  # the table holds 3 floats, not 4
    misaligned = memoryview(bytearray(4 * 65))[1:1 + 4 * 64]
    with pytest.raises(ValueError):
        ext.exp(buf, misaligned, 64)
    ext.rmsnorm(buf, buf, 2, 32, 32, 32, 1e-5)  # the exact size is accepted
    ext.gate(buf, buf, 0, 16, 32, 16)  # and no rows at all


@needs_ext
def test_the_python_wrappers_refuse_what_the_loops_cannot_take():
    x = np.zeros((4, 8), F32)
    with pytest.raises(ValueError):
        fused.rmsnorm(x.astype(np.float64), x, 1e-5)
    with pytest.raises(ValueError):
        fused.rmsnorm(x[:, ::2], np.zeros((4, 4), F32), 1e-5)  # columns not contiguous
    with pytest.raises(ValueError):
        fused.gate(np.zeros((4, 6), F32), x)  # not (rows, 2·hidden) → (rows, hidden)
    with pytest.raises(ValueError):
        fused.softmax(np.zeros((2, 4, 3), F32))  # more query than key positions
    with pytest.raises(ValueError):
        fused.softmax(np.zeros((2, 3, 4), F32)[:, :, :3].transpose(0, 2, 1))  # not contiguous


@needs_ext
@pytest.mark.parametrize("case", CASES, ids=[f"{c['preset']}-x{c['weight_scale']}" for c in CASES])
def test_both_paths_give_every_known_answer(case):
    params = PocParams.from_mapping(case["params"])
    w = weights.build(params, case["block_hash"], case["weight_scale"])
    nonces = nonce_range(case["nonces"])
    got = {}
    for path in (True, False):
        kernel = CpuKernel(w, case["block_hash"], batch=5, threads=2, fused=path)
        got[path] = kernel.distances(case["public_key"], nonces)
        kernel.close()
        assert np.abs(got[path] - np.array(case["dist"])).max() < EXACT
    assert np.abs(got[True] - got[False]).max() < EXACT / 4  # float32 rounding apart, no more


@needs_ext
def test_both_paths_agree_where_scores_need_the_shift():
    w = weights.build(PocParams.from_mapping(dict(TINY, n_kv_heads=2, seq_len=11)), HASH, 60.0)
    fast = CpuKernel(w, HASH, batch=3, fused=True).distances(KEY, range(7))
    plain = CpuKernel(w, HASH, batch=3, fused=False).distances(KEY, range(7))
    assert np.isfinite(fast).all()
    assert np.abs(fast - plain).max() < EXACT


def test_the_environment_turns_the_default_off(monkeypatch):
    w = weights.build(PocParams.from_mapping(TINY), HASH)
    monkeypatch.setenv("GONKA_POC_FUSED", "0")
    assert not fused.available()
    assert CpuKernel(w, HASH).fused is False
    monkeypatch.delenv("GONKA_POC_FUSED")
    assert fused.available() == fused.built()
    assert CpuKernel(w, HASH).fused == fused.built()


def test_asking_for_the_loops_where_they_are_not_built_says_so(monkeypatch):
    monkeypatch.setattr(fused, "built", lambda: False)
    w = weights.build(PocParams.from_mapping(TINY), HASH)
    with pytest.raises(RuntimeError, match="not built"):
        CpuKernel(w, HASH, fused=True)
    assert CpuKernel(w, HASH).fused is False
