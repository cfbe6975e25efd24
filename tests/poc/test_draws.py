"""The compiled draws (gonka_tui/poc/_draws.c) are numpy's, bit for bit: the generator's raw words for
any entropy, the standard normals in float64 and float32 (tail and wedges included), the shuffle of
any length; the kernel's inputs and distances equal seeds.py's; bad arguments are refused; and where
the learned tables do not reproduce numpy, or GONKA_POC_DRAWS=numpy, numpy's own calls serve."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gonka_tui.poc import draws, seeds, weights
from gonka_tui.poc.kernel import CpuKernel
from gonka_tui.poc.params import PocParams
from tests.poc.conftest import CASES, HASH, KEY, nonce_range

compiled = pytest.mark.skipif(not draws.built(), reason="gonka_tui.poc._draws was not built (no C compiler)")
ZIGGURAT_EDGE = 3.6541528853610087  # past it a normal comes from the tail


def numpy_gen(entropy: bytes) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(np.frombuffer(entropy, "<u4"))))


@pytest.fixture
def learned(monkeypatch):
    """The tables, learned afresh for this test (and forgotten after it)."""
    monkeypatch.delenv("GONKA_POC_DRAWS", raising=False)
    monkeypatch.setattr(draws, "_learned", False)
    assert draws.available()
    return draws._tables()


@compiled
@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=40).map(lambda b: b * 4))
def test_raw_words_are_pcg64_seeded_by_seedsequence(entropy):
    out = np.empty(64, np.uint64)
    draws._ext().raw(entropy, out, 64)
    want = np.random.PCG64(np.random.SeedSequence(np.frombuffer(entropy, "<u4"))).random_raw(64)
    assert np.array_equal(out, want)


@compiled
def test_normals_are_numpys_to_the_bit_tail_and_wedges_included(learned):
    ext, tables = learned
    n = 1 << 20
    for i in range(2):
        entropy = seeds.entropy(f"normals {i}", seeds.INPUT_HASHES)
        want = numpy_gen(entropy).standard_normal(n)
        assert (np.abs(want) > ZIGGURAT_EDGE).sum() > 100  # the tail was drawn, not only the rectangles
        got, got32 = np.empty(n), np.empty(n, np.float32)
        ext.normals(entropy, tables, got, n, 8)
        ext.normals(entropy, tables, got32, n, 4)
        assert np.array_equal(got.view(np.uint64), want.view(np.uint64))
        assert np.array_equal(got32, want.astype(np.float32))


@compiled
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 255, 256, 257, 1000, 8192, 151936])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_the_shuffle_is_numpys(n, dtype):
    entropy = seeds.entropy(f"shuffle {n}", seeds.PERMUTATION_HASHES)
    got = np.arange(n, dtype=dtype)
    draws._ext().shuffle(entropy, got, n, got.itemsize)
    want = np.arange(n, dtype=dtype)
    numpy_gen(entropy).shuffle(want)
    assert np.array_equal(got, want)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**63 - 1), st.booleans(), st.sampled_from(["compiled", "numpy"]))
def test_distances_are_seeds_whatever_the_layout(n, first, transposed, path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GONKA_POC_DRAWS", path)
        vocab = 300
        logits = np.random.default_rng(n).standard_normal((n, vocab)).astype(np.float32)
        if transposed:  # the CPU kernel hands over a transposed view of (vocab, batch)
            logits = np.ascontiguousarray(logits.T).T
        before = logits.copy()
        nonces = [first + i for i in range(n)]
        target = seeds.target(HASH, vocab)
        got = draws.distances(logits, HASH, KEY, nonces, target)
        want = seeds.distances(seeds.permuted(logits, HASH, KEY, nonces), target)
        assert np.abs(got - want).max() < 1e-12
        assert np.array_equal(logits, before)  # the caller's logits are not shuffled


@compiled
@pytest.mark.parametrize("count, seq_len, dim", [(1, 5, 24), (4, 5, 24), (9, 5, 24), (5, 40, 500)])
def test_the_inputs_are_seeds(learned, count, seq_len, dim):
    # streams drawn ahead four at a time, a last group short, and (40·500 normals) streams run past
    # the words drawn for them ahead
    nonces = [0, 1, 7, 2**62 + 3, 2**63 - 1, 5, 6, 8, 9][:count]
    got = draws.inputs(HASH, KEY, nonces, seq_len, dim)
    want = seeds.inputs(HASH, KEY, nonces, seq_len, dim)
    assert got.dtype == np.float32 and np.array_equal(got, want)


@compiled
def test_distances_of_long_rows_are_seeds(learned):
    # 40 000 logits: each shuffle runs past the words drawn for it ahead; 6 nonces: a group of four and a short one
    logits = np.random.default_rng(3).standard_normal((6, 40_000)).astype(np.float32)
    nonces = list(range(10, 16))
    target = seeds.target(HASH, logits.shape[1])
    got = draws.distances(logits, HASH, KEY, nonces, target)
    want = seeds.distances(seeds.permuted(logits, HASH, KEY, nonces), target)
    assert np.abs(got - want).max() < 1e-12


@compiled
@pytest.mark.parametrize("call, message", [
    (lambda e, t: e.normals(b"", t, np.empty(4), 4, 8), "whole 32-bit words"),
    (lambda e, t: e.normals(b"abc", t, np.empty(4), 4, 8), "whole 32-bit words"),
    (lambda e, t: e.normals(b"abcd", t[:-8], np.empty(4), 4, 8), "tables: need 6144 bytes"),
    (lambda e, t: e.normals(b"abcd", t, np.empty(4), 5, 8), "fewer than"),
    (lambda e, t: e.normals(b"abcd", t, np.empty(4), 4, 2), "itemsize"),
    (lambda e, t: e.normals(b"abcd", t, np.empty(9, np.uint8)[1:], 1, 8), "not aligned"),
    (lambda e, t: e.raw(b"abcd", np.empty(3, np.uint64), -1), "rows >= 0"),
    (lambda e, t: e.shuffle(b"abcd", np.empty(3, np.int64), 4, 8), "fewer than"),
    (lambda e, t: e.shuffle(b"abcd", np.empty(3, np.int64), 3, 3), "itemsize"),
    (lambda e, t: e.inputs(b"abcdefgh", 3, t, np.empty(8, np.float32), 4), "whole seeds"),
    (lambda e, t: e.inputs(b"abcdefgh", 0, t, np.empty(8, np.float32), 4), "whole seeds"),
    (lambda e, t: e.inputs(b"abcdefgh", 1, t, np.empty(7, np.float32), 4), "fewer than"),
    (lambda e, t: e.inputs(b"abcdefgh", 1, t[:-8], np.empty(8, np.float32), 4), "tables: need 6144 bytes"),
    (lambda e, t: e.distances(b"abcd", 1, np.empty((1, 3), np.float32), np.empty(2), np.empty(1)), "target"),
    (lambda e, t: e.distances(b"abcd", 1, np.empty((1, 0), np.float32), np.empty(0), np.empty(1)), "1 to 2"),
    (lambda e, t: e.distances(b"abcdabcd", 1, np.empty((1, 3), np.float32), np.empty(3), np.empty(2)), "a row for each"),
    (lambda e, t: e.distances(b"abcd", 1, np.empty((1, 3), np.float32), np.empty(3), np.empty(0)), "fewer than"),
    (lambda e, t: e.distances(b"abcd", 1, np.empty((1, 3)), np.empty(3), np.empty(1)), "float32"),
    (lambda e, t: e.distances(b"abcd", 1, np.empty((1, 6), np.float32)[:, ::2], np.empty(3), np.empty(1)),
     "contiguous rows"),
])
def test_bad_arguments_are_refused(learned, call, message):
    ext, tables = learned
    with pytest.raises(ValueError, match=message):
        call(ext, tables)


@compiled
def test_read_only_and_strided_buffers_are_refused(learned):
    ext, tables = learned
    frozen = np.zeros(4)
    frozen.flags.writeable = False
    with pytest.raises((TypeError, BufferError)):
        ext.normals(b"abcd", tables, frozen, 4, 8)
    with pytest.raises((TypeError, BufferError)):
        ext.shuffle(b"abcd", np.zeros(8)[::2], 4, 8)


@compiled
def test_tables_that_do_not_reproduce_numpy_are_not_used(monkeypatch):
    monkeypatch.delenv("GONKA_POC_DRAWS", raising=False)
    real = draws._learn_tables()
    w, f, k = real[:2048], real[2048:4096], np.frombuffer(real[4096:], np.uint64).copy()
    k[7] //= np.uint64(2)  # layer 7's rectangle half as wide: half its draws take a word more, for the wedge test
    monkeypatch.setattr(draws, "_learn_tables", lambda: w + f + k.tobytes())
    monkeypatch.setattr(draws, "_learned", False)
    assert not draws.available() and draws.name() == "numpy"
    nonces = [3, 4]
    assert np.array_equal(draws.inputs(HASH, KEY, nonces, 4, 16), seeds.inputs(HASH, KEY, nonces, 4, 16))


def test_numpy_serves_when_turned_off(monkeypatch):
    monkeypatch.setenv("GONKA_POC_DRAWS", "numpy")
    assert not draws.available() and draws.name() == "numpy"


@pytest.mark.parametrize("path", ["compiled", "numpy"])
@pytest.mark.parametrize("case", CASES[:2], ids=[f"{c['preset']}-x{c['weight_scale']}" for c in CASES[:2]])
def test_known_answers_on_either_path(case, path, monkeypatch):
    if path == "compiled" and not draws.built():
        pytest.skip("gonka_tui.poc._draws was not built")
    monkeypatch.setenv("GONKA_POC_DRAWS", path)
    assert draws.name() == path
    params = PocParams.from_mapping(case["params"])
    kernel = CpuKernel(weights.build(params, case["block_hash"], case["weight_scale"]), case["block_hash"], batch=4)
    got = kernel.distances(case["public_key"], nonce_range(case["nonces"]))
    kernel.close()
    assert np.abs(got - np.array(case["dist"])).max() < 1e-6
