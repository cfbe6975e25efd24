"""The CPU kernel gives exactly the reference's distances: every known answer at weight scales 1
and 10, the same as a plain full forward on cases the data file does not hold (GQA with other
rope_theta, large nonces, one head, one layer), whatever the batching, the threads or the order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gonka_tui.poc import fused as fused_loops
from gonka_tui.poc import seeds, weights
from gonka_tui.poc.kernel import CpuKernel
from gonka_tui.poc.params import PocParams
from tests.poc.conftest import CASES, HASH, KEY, TINY, nonce_range
from tests.poc.plain_model import distances as plain_distances

EXACT = 1e-6


@pytest.mark.parametrize("case", CASES, ids=[f"{c['preset']}-x{c['weight_scale']}" for c in CASES])
def test_known_answers(case):
    params = PocParams.from_mapping(case["params"])
    kernel = CpuKernel(weights.build(params, case["block_hash"], case["weight_scale"]), case["block_hash"],
                       batch=5, threads=2)
    got = kernel.distances(case["public_key"], nonce_range(case["nonces"]))
    kernel.close()
    assert np.abs(got - np.array(case["dist"])).max() < EXACT


OTHER_SHAPES = [
    dict(TINY, n_heads=8, n_kv_heads=2, rope_theta=500000, seq_len=7),  # GQA 4:1, odd length
    dict(TINY, n_heads=4, n_kv_heads=1, dim=48, multiple_of=16, rope_theta=1000),  # MQA
    dict(TINY, n_heads=1, n_kv_heads=1, n_layers=1, seq_len=1),  # one head, one layer, one position
    dict(TINY, n_layers=3, vocab_size=300, ffn_dim_multiplier=2.0, norm_eps=1e-6),
]


@pytest.mark.parametrize("shape", OTHER_SHAPES, ids=["gqa4", "mqa", "single", "deeper"])
def test_the_kernel_equals_a_plain_full_forward(shape):
    params = PocParams.from_mapping(shape)
    w = weights.build(params, HASH, 10.0)  # scale 10: a mistake in a layer shows
    nonces = [0, 1, 7, 2**31 + 5, 2**62 + 1]
    kernel = CpuKernel(w, HASH, batch=2)
    assert np.abs(kernel.distances(KEY, nonces) - plain_distances(w, HASH, KEY, nonces)).max() < EXACT


def test_the_layers_matter_at_scale_ten():
    """The check above can fail: dropping a layer moves distances far beyond the tolerance."""
    params = PocParams.from_mapping(TINY)
    w = weights.build(params, HASH, 10.0)
    full = CpuKernel(w, HASH).distances(KEY, range(8))
    w.layers = w.layers[:1]
    assert np.abs(CpuKernel(w, HASH).distances(KEY, range(8)) - full).max() > 1e-4


TINY_KERNEL = {}


def tiny_weights():
    if not TINY_KERNEL:
        TINY_KERNEL["w"] = weights.build(PocParams.from_mapping(dict(TINY, n_kv_heads=2)), HASH, 10.0)
    return TINY_KERNEL["w"]


@settings(max_examples=25, deadline=None)
@given(nonces=st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=12, unique=True),
       batch=st.integers(1, 9), threads=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_batching_threads_and_order_do_not_change_a_distance(nonces, batch, threads, seed):
    w = tiny_weights()
    one = CpuKernel(w, HASH, batch=1)
    expected = dict(zip(nonces, one.distances(KEY, nonces)))
    shuffled = list(np.random.default_rng(seed).permutation(nonces))
    kernel = CpuKernel(w, HASH, batch=batch, threads=threads)
    got = kernel.distances(KEY, shuffled)
    kernel.close()
    assert np.abs(got - np.array([expected[n] for n in shuffled])).max() < EXACT


def test_the_public_key_and_the_block_hash_are_used_verbatim():
    w = tiny_weights()
    kernel = CpuKernel(w, HASH)
    upper, lower = kernel.distances(KEY.upper(), [3]), kernel.distances(KEY, [3])
    assert abs(upper[0] - lower[0]) > 1e-4  # the key's case is part of the seed
    other = CpuKernel(w, HASH.lower()).distances(KEY, [3])
    assert abs(other[0] - lower[0]) > 1e-4  # the target follows the hash string as given


def test_tiles_do_not_change_a_distance(monkeypatch):
    import gonka_tui.poc.kernel as kernel_module

    w = tiny_weights()
    whole = CpuKernel(w, HASH, batch=6).distances(KEY, range(6))
    monkeypatch.setattr(kernel_module, "FFN_TILE_BYTES", 3 * 8 * w.params.ffn_hidden)  # 3-row gate tiles (numpy)
    monkeypatch.setattr(kernel_module, "FFN_TILE_ROWS", 5)  # 5-row feed-forward tiles, the last one short
    monkeypatch.setattr(kernel_module, "ATTENTION_TILE_ROWS", 4 * w.params.seq_len)  # 4 nonces, then 2
    for fused in (False, True) if fused_loops.built() else (False,):
        tiled = CpuKernel(w, HASH, batch=6, fused=fused).distances(KEY, range(6))
        assert np.abs(whole - tiled).max() < EXACT


def test_the_softmax_shortcut_changes_nothing_and_large_scores_stay_finite(monkeypatch):
    import gonka_tui.poc.kernel as kernel_module

    w = tiny_weights()
    monkeypatch.setattr(kernel_module, "SOFTMAX_SHIFT_ABOVE", float("inf"))  # never subtract the row max
    plain = CpuKernel(w, HASH).distances(KEY, range(6))
    monkeypatch.setattr(kernel_module, "SOFTMAX_SHIFT_ABOVE", float("-inf"))  # always subtract it
    shifted = CpuKernel(w, HASH).distances(KEY, range(6))
    assert np.abs(plain - shifted).max() < EXACT
    huge = weights.build(PocParams.from_mapping(TINY), HASH, 60.0)  # scores far above exp's float32 range
    with np.errstate(all="ignore"):
        monkeypatch.setattr(kernel_module, "SOFTMAX_SHIFT_ABOVE", float("inf"))
        assert not np.isfinite(CpuKernel(huge, HASH).distances(KEY, range(4))).all()  # the shift is needed here
    monkeypatch.undo()
    got = CpuKernel(huge, HASH).distances(KEY, range(4))
    assert np.isfinite(got).all()
    assert np.abs(got - plain_distances(huge, HASH, KEY, list(range(4)))).max() < EXACT


@pytest.mark.parametrize("shape", [TINY, dict(TINY, n_kv_heads=2, seq_len=5)], ids=["mha", "gqa"])
@pytest.mark.parametrize("fused, gemm", [(False, None), (True, None), (True, "avx512")], ids=["numpy", "fused", "own"])
def test_flops_per_nonce_counts_every_matrix_product_the_kernel_performs(shape, fused, gemm, monkeypatch):
    import gonka_tui.poc.kernel as kernel_module

    if fused and not fused_loops.built():
        pytest.skip("gonka_tui.poc._fused is not built")
    if gemm and gemm not in fused_loops.gemm_isas():
        pytest.skip(f"no {gemm} here")
    params = PocParams.from_mapping(shape)
    kernel = CpuKernel(weights.build(params, HASH), HASH, batch=3, fused=fused, gemm=gemm)
    counted = []
    real, real_own = np.matmul, fused_loops.matmul

    def counting(a, b, **kwargs):
        out = real(a, b, **kwargs)
        counted.append(2 * out.size * a.shape[-1])  # every output element is a dot product of length k
        return out

    def counting_own(a, w, out, **kwargs):
        counted.append(2 * a.shape[0] * w.k * w.out_cols * (2 if w.gate else 1))  # gated: w1 and w3
        return real_own(a, w, out, **kwargs)

    monkeypatch.setattr(kernel_module.np, "matmul", counting)
    monkeypatch.setattr(kernel_module.fused_loops, "matmul", counting_own)
    kernel.distances(KEY, range(3))
    monkeypatch.undo()
    if fused:  # attention runs in the compiled loop, out of np.matmul's sight: the causal pairs are added
        s, hd, heads, full_layers = params.seq_len, params.head_dim, params.n_heads, params.n_layers - 1
        attention = 2 * full_layers * 2 * heads * hd * s * (s + 1) // 2 + 2 * 2 * heads * hd * s
        counted.append(3 * attention)
    assert kernel.flops_per_nonce == params.flops_per_nonce(causal=fused)
    assert sum(counted) == 3 * kernel.flops_per_nonce


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**63 - 1), st.booleans())
def test_shuffling_a_row_is_the_gather_by_its_permutation(n, first, transposed):
    vocab = TINY["vocab_size"]
    logits = np.random.default_rng(n).standard_normal((n, vocab)).astype(np.float32)
    if transposed:  # the kernel hands over a transposed view of (vocab, batch)
        logits = np.ascontiguousarray(logits.T).T
    nonces = [first - i for i in range(n) if first - i >= 0] or [first]
    logits = logits[:len(nonces)]
    got = seeds.permuted(logits, HASH, KEY, nonces)
    want = np.stack([logits[i, seeds.permutation(HASH, KEY, nonce, vocab)] for i, nonce in enumerate(nonces)])
    assert got.dtype == np.float64 and np.array_equal(got, want.astype(np.float64))


def test_distances_are_the_reference_formula():
    rows = np.random.default_rng(3).standard_normal((4, 257)).astype(np.float32)
    target = np.random.default_rng(4).standard_normal(257)
    target /= np.linalg.norm(target)
    want = [np.linalg.norm(row / np.linalg.norm(row) - target) for row in rows]  # float32 norm, as the reference
    assert np.abs(seeds.distances(rows.astype(np.float64), target) - want).max() < 1e-7
