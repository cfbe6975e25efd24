"""The compiled loops (gonka_tui.poc._fused: exp, the FFN gate, RMSNorm, attention with RoPE) compute
what the formulas compute, to float32 rounding, on any shapes and strides; they refuse arrays of
another shape, type or layout and write nothing then; and the kernel gives every known answer on both paths."""

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


# the kernel's paths: compiled loops with our own products (where AVX-512 is), with numpy's matmul; numpy alone
PATHS = [dict(fused=True, gemm=isa) for isa in fused.gemm_isas()] + [dict(fused=True, gemm=None), dict(fused=False)]


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


def attention_reference(q, k, v, turns, batch, kv_heads, queries):
    """Causal attention with RoPE in float64, written per head from the formulas: pairs turned by
    their position, scores, −inf mask, softmax, weighted values; rows nonce-major. The outputs of
    each nonce's last `queries` positions, (batch, queries, heads·hd)."""
    hd = turns.shape[1]
    s = k.shape[0] // batch
    heads, rep = q.shape[1] // hd, q.shape[1] // hd // kv_heads
    t = turns[:s].astype(np.float64).view(np.complex128)  # (s, hd/2) cos + i·sin

    def turned(x, n):  # (batch, s, n heads, hd), each pair turned by its position
        z = np.ascontiguousarray(x, dtype=np.float64).view(np.complex128).reshape(batch, s, n, hd // 2)
        return (z * t[None, :, None, :]).view(np.float64).reshape(batch, s, n, hd)

    qr, kr = turned(q, heads)[:, s - queries:], turned(k, kv_heads)
    vv = v.astype(np.float64).reshape(batch, s, kv_heads, hd)
    seen = np.arange(s)[None, :] <= np.arange(s - queries, s)[:, None]
    out = np.empty((batch, queries, heads, hd))
    for h in range(heads):
        scores = np.einsum("bid,bjd->bij", qr[:, :, h], kr[:, :, h // rep])
        scores = np.where(seen[None], scores, -np.inf)
        w = np.exp(scores - scores.max(axis=-1, keepdims=True))
        w /= w.sum(axis=-1, keepdims=True)
        out[:, :, h] = np.einsum("bij,bjd->bid", w, vv[:, :, h // rep])
    return out.reshape(batch, queries, heads * hd)


def attention_inputs(rng, batch, s, heads, kv_heads, hd, scale=1.0):
    """Strided q, k, v (row views of bigger buffers, as the kernel's qkv slices are) and a turns
    table with more positions than s."""
    q = strided(rng, batch * s, heads * hd, scale)
    k = strided(rng, batch * s, kv_heads * hd, scale)
    v = strided(rng, batch * s, kv_heads * hd)
    angles = rng.uniform(-4, 4, (s + 3, hd // 2))
    turns = (np.cos(angles) + 1j * np.sin(angles)).astype(np.complex64).view(F32)
    return q, k, v, turns


@needs_ext
@pytest.mark.parametrize("batch, s, sq, heads, kv_heads, hd", [
    (3, 7, 7, 4, 2, 6),     # GQA, a short sequence, head_dim below a vector
    (2, 33, 33, 2, 1, 34),  # past two key blocks, head_dim 16·2 + 2
    (4, 32, 1, 8, 8, 32),   # the last layer: one query position sees every key
    (5, 17, 6, 6, 3, 16),   # the last positions only, a group of queries cut short
    (2, 40, 40, 4, 2, 48),  # keys turned 16 × 16 at a time: three blocks of dimensions, the last key block part-full
    (1, 1, 1, 1, 1, 2),
])
def test_attention_is_causal_attention_with_rope(batch, s, sq, heads, kv_heads, hd):
    rng = np.random.default_rng(s * hd)
    q, k, v, turns = attention_inputs(rng, batch, s, heads, kv_heads, hd)
    out_big = np.full((batch * s + 2, heads * hd + 4), 7.0, F32)
    out = out_big[1:-1, 2:-2]
    fused.attention(q, k, v, out, turns, batch, kv_heads, sq)
    want = attention_reference(q, k, v, turns, batch, kv_heads, sq)
    got = out.reshape(batch, s, heads * hd)
    # float32 scores of hd products, exp'd: a few 1e-6 (numpy's float32 matmuls as much); a wrong turn,
    # mask or head moves outputs by 1e-2 and more
    assert np.abs(got[:, s - sq:] - want).max() < 1e-5
    got[:, s - sq:] = 7.0
    assert (out_big == 7.0).all()  # nothing written but the queries' rows
    if sq < s:  # the other positions' queries are not read
        q.reshape(batch, s, -1)[:, :s - sq] = np.nan
        assert np.abs(fused.attention(q, k, v, out, turns, batch, kv_heads, sq).reshape(got.shape)[:, s - sq:]
                      - want).max() < 1e-5


@needs_ext
def test_attention_shifts_scores_past_the_threshold_and_only_then():
    rng = np.random.default_rng(5)
    q, k, v, turns = attention_inputs(rng, 3, 9, 2, 2, 8, scale=12.0)  # scores up to ~1000: exp overflows
    want = attention_reference(q, k, v, turns, 3, 2, 9).reshape(27, 16)
    out = np.empty((27, 16), F32)
    assert np.abs(fused.attention(q, k, v, out, turns, 3, 2) - want).max() < 1e-3 * np.abs(want).max()
    with np.errstate(all="ignore"):
        assert not np.isfinite(fused.attention(q, k, v, out, turns, 3, 2, shift_above=np.inf)).all()
    q, k, v, turns = attention_inputs(rng, 2, 6, 2, 1, 4)
    never = fused.attention(q, k, v, np.empty((12, 8), F32), turns, 2, 1, shift_above=np.inf)
    always = fused.attention(q, k, v, np.empty((12, 8), F32), turns, 2, 1, shift_above=-np.inf)
    assert np.abs(never - always).max() < 1e-6


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
def test_arrays_the_loops_cannot_take_are_refused_and_nothing_is_written():
    ext = fused._ext()
    buf = np.zeros(64, F32)
    small = np.zeros(63, F32)
    with pytest.raises(ValueError):
        ext.exp(buf, small, 64)
    misaligned = memoryview(bytearray(4 * 65))[1:1 + 4 * 64]
    with pytest.raises(ValueError):
        ext.exp(buf, misaligned, 64)
    x, out = np.ones((4, 32), F32), np.full((4, 32), 7.0, F32)
    bad = [
        x.reshape(-1),  # not 2-D
        x.astype(np.float64),  # not float32
        np.ones((4, 64), F32)[:, ::2],  # columns apart
        np.ones((4, 32), F32)[::-1],  # rows in reverse
        np.lib.stride_tricks.as_strided(np.ones(64, F32), (4, 32), (16, 4)),  # rows overlapping
        np.ndarray((4, 32), F32, np.zeros(4 * 129, np.uint8), 1),  # misaligned floats
    ]
    for a in bad:
        with pytest.raises(ValueError):
            ext.rmsnorm(a, out, 1e-5)
        with pytest.raises(ValueError):
            ext.rmsnorm(x, a.copy() if a.dtype != F32 else a, 1e-5)
    frozen = np.zeros((4, 32), F32)
    frozen.flags.writeable = False
    for call in (lambda: ext.rmsnorm(x, frozen, 1e-5), lambda: ext.gate(np.zeros((4, 64), F32), frozen[:, :32]),
                 lambda: ext.rms_factors(x, frozen[0, :4], 1e-5)):
        with pytest.raises((ValueError, BufferError)):  # numpy's refusal of a read-only buffer for writing
            call()
    with pytest.raises(ValueError):
        ext.rmsnorm(x, out[:3], 1e-5)  # another shape
    with pytest.raises(ValueError):
        ext.rms_factors(x, np.zeros(3, F32), 1e-5)  # a factor short
    with pytest.raises(ValueError):
        ext.rms_factors(x, np.zeros((4, 1), F32), 1e-5)  # not a vector
    with pytest.raises(ValueError):
        ext.gate(np.zeros((4, 48), F32), out[:, :16])  # not (rows, 2·hidden) → (rows, hidden)
    with pytest.raises(ValueError):
        ext.gate(np.zeros((3, 64), F32), out)  # rows unlike
    assert (out == 7.0).all()
    rows, turns = np.zeros((8, 8), F32), np.zeros((4, 8), F32)  # batch 2, s 4, 1 head of 8
    att_out = np.full((8, 8), 7.0, F32)
    for args in [(rows, rows, rows, att_out, turns, 2, 1, 5, 30.0),  # sq > s
                 (rows, rows, rows, att_out, turns, 2, 1, 0, 30.0),  # no queries
                 (rows, rows, rows, att_out, turns, 3, 1, 4, 30.0),  # rows not whole nonces
                 (rows, rows, rows, att_out, turns, 0, 1, 4, 30.0),  # no nonces
                 (rows, rows, rows, att_out, turns, 2, 2, 4, 30.0),  # k is 1 head of 8, not 2
                 (rows, rows, rows, att_out, turns[:3], 2, 1, 4, 30.0),  # fewer turns than positions
                 (rows, rows, rows, att_out, np.zeros((4, 16), F32)[:, :8], 2, 1, 4, 30.0),  # turns strided
                 (rows, rows, rows, att_out, np.zeros((4, 7), F32), 2, 1, 4, 30.0),  # head_dim odd
                 (rows, rows[:4], rows, att_out, turns, 2, 1, 4, 30.0),  # k's rows unlike q's
                 (rows, rows, rows[:, :4], att_out, turns, 2, 1, 4, 30.0),  # v unlike k
                 (rows, rows, rows, att_out[:, :4], turns, 2, 1, 4, 30.0),  # out unlike q
                 (rows, rows, rows, att_out, turns, 2**40, 2**40, 1, 30.0)]:  # sizes past any array
        with pytest.raises(ValueError):
            ext.attention(*args)
    assert (att_out == 7.0).all()
    ext.rmsnorm(x, out, 1e-5)  # what fits is accepted
    ext.gate(np.zeros((0, 64), F32), np.zeros((0, 32), F32))  # and no rows at all
    ext.attention(rows, rows, rows, att_out, turns, 2, 1, 4, 30.0)
    assert (att_out == 0.0).all()  # zero values: zero outputs


@needs_ext
def test_the_python_wrappers_refuse_what_the_loops_cannot_take():
    x = np.zeros((4, 8), F32)
    with pytest.raises(ValueError):
        fused.rmsnorm(x.astype(np.float64), x, 1e-5)
    with pytest.raises(ValueError):
        fused.rmsnorm(x[:, ::2], np.zeros((4, 4), F32), 1e-5)  # columns not contiguous
    with pytest.raises(ValueError):
        fused.gate(np.zeros((4, 6), F32), x)  # not (rows, 2·hidden) → (rows, hidden)
    turns = np.zeros((4, 8), F32)
    rows = np.zeros((8, 8), F32)
    with pytest.raises(ValueError):
        fused.attention(rows[:7], rows[:7], rows[:7], rows[:7], turns, 2, 1)  # rows not whole nonces
    with pytest.raises(ValueError):
        fused.attention(rows[:6], rows, rows, rows, turns, 2, 1)  # q's rows unlike k's
    with pytest.raises(ValueError):
        fused.attention(rows, rows, rows, rows, turns[:3], 2, 1)  # fewer turns than positions
    with pytest.raises(ValueError):
        fused.attention(rows, rows, rows, rows, turns, 2, 1, queries=5)  # more queries than positions
    with pytest.raises(ValueError):
        fused.attention(rows, rows, rows[:, :4], rows, turns, 2, 1)  # v unlike k
    with pytest.raises(ValueError):
        fused.attention(rows, rows, rows, rows, turns, 2, 2)  # k is 1 head of 8, not 2


@needs_ext
@pytest.mark.parametrize("case", CASES, ids=[f"{c['preset']}-x{c['weight_scale']}" for c in CASES])
def test_both_paths_give_every_known_answer(case):
    params = PocParams.from_mapping(case["params"])
    w = weights.build(params, case["block_hash"], case["weight_scale"])
    nonces = nonce_range(case["nonces"])
    got = []
    for path in PATHS:
        kernel = CpuKernel(w, case["block_hash"], batch=5, threads=2, **path)
        got.append(kernel.distances(case["public_key"], nonces))
        kernel.close()
        assert np.abs(got[-1] - np.array(case["dist"])).max() < EXACT, path
    assert np.abs(np.array(got) - got[-1]).max() < EXACT / 4  # float32 rounding apart, no more


@needs_ext
def test_both_paths_agree_where_scores_need_the_shift():
    w = weights.build(PocParams.from_mapping(dict(TINY, n_kv_heads=2, seq_len=11)), HASH, 60.0)
    plain = CpuKernel(w, HASH, batch=3, fused=False).distances(KEY, range(7))
    for path in PATHS[:-1]:
        fast = CpuKernel(w, HASH, batch=3, **path).distances(KEY, range(7))
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
