"""What surrounds the math: params checked at the edge, presets and their pass rates, nonce specs,
the nonce split among ML nodes and GPU groups, and the validators' binomial test."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gonka_tui.core.errors import InputError
from gonka_tui.poc.nonces import NonceRange, parse_nonce_spec
from gonka_tui.poc.params import PocParams
from gonka_tui.poc.presets import pass_rate_for, preset, presets, r_target_for
from gonka_tui.poc.validation import binomial_p_greater, validate
from tests.poc.conftest import TINY


@pytest.mark.parametrize("change,message", [
    ({"dim": 65}, "not a multiple of n_heads"),
    ({"n_kv_heads": 3}, "multiple of n_kv_heads"),
    ({"dim": 36, "n_heads": 4}, "must be even"),
    ({"dim": 0}, "between 1"),
    ({"dim": 64.5}, "whole number"),
    ({"dim": True}, "whole number"),
    ({"rope_theta": -1}, "positive"),
    ({"norm_eps": float("nan")}, "positive"),
    ({"seq_len": "8"}, "whole number"),
    ({"bogus": 1}, "unknown key 'bogus'"),
    ({"use_scaled_rope": True}, "not supported"),
])
def test_bad_params_get_one_clear_error(change, message):
    with pytest.raises(InputError, match=message):
        PocParams.from_mapping({**TINY, **change})


def test_a_missing_param_is_named():
    data = dict(TINY)
    del data["vocab_size"]
    with pytest.raises(InputError, match="'vocab_size' is missing"):
        PocParams.from_mapping(data)


def test_presets_and_their_figures():
    cpu, testnet, mainnet = preset("cpu"), preset("testnet"), preset("mainnet")
    assert (cpu.params.dim, cpu.params.n_layers, cpu.params.vocab_size, cpu.params.seq_len) == (256, 4, 8192, 32)
    assert (mainnet.params.dim, mainnet.params.n_layers, mainnet.params.ffn_hidden, mainnet.params.seq_len) == (
        1792, 64, 49152, 256)
    assert round(mainnet.params.total_params / 1e9, 1) == 17.8  # §1.1: ≈17.8 B params
    assert cpu.params.flops_per_nonce(pruned=False) == pytest.approx(0.407e9, rel=1e-3)  # the reference's count
    assert cpu.params.flops_per_nonce() == pytest.approx(0.22e9, rel=0.02)  # §1.1.1: ~0.22 G pruned
    assert mainnet.r_target == 1.398077 and testnet.r_target == 1.4013564660458173
    assert not cpu.needs_gpu and testnet.needs_gpu and mainnet.needs_gpu
    # §1.1.1: the formula gives the launch value for V = 8196 at 5%, and the chain's value is about 2%
    assert r_target_for(0.05, 8196) == pytest.approx(1.4013564660458173, abs=1e-4)
    assert pass_rate_for(1.398077, 8196) == pytest.approx(0.02, abs=0.001)
    for p in presets().values():
        assert pass_rate_for(p.r_target, p.params.vocab_size) == pytest.approx(p.pass_rate, abs=0.002)
    with pytest.raises(InputError, match="no preset 'huge'"):
        preset("huge")


def test_nonce_specs():
    assert parse_nonce_spec("0-7") == list(range(8))
    assert parse_nonce_spec(" 3,17, 100-102 ,17") == [3, 17, 100, 101, 102]
    assert parse_nonce_spec("9223372036854775807") == [2**63 - 1]
    for bad, message in [("", "empty"), ("1-", "not a number"), ("a", "not a number"), ("-3", "not a number"),
                         ("5-2", "backwards"), ("9223372036854775808", "larger than a nonce"),
                         ("0-2000000", "more than"), ("1,,2", "not a number")]:
        with pytest.raises(InputError, match=message):
            parse_nonce_spec(bad)


@given(node_count=st.integers(1, 5), group_count=st.integers(1, 4), n=st.integers(1, 200))
def test_the_nonce_split_covers_the_space_without_overlap(node_count, group_count, n):
    shares = [NonceRange(node, node_count, group, group_count).take(0, n)
              for node in range(node_count) for group in range(group_count)]
    every = [x for share in shares for x in share]
    assert len(every) == len(set(every))  # no nonce twice
    assert set(range(n * node_count * group_count)) == set(every)  # and none left out of the first n·step


def test_the_split_follows_the_reference_formula_and_resumes():
    r = NonceRange(node_id=1, node_count=3, group_id=1, group_count=2)
    assert r.take(0, 4) == [4, 10, 16, 22]  # node + group·nodes + k·(groups·nodes)
    assert r.take(2, 2) == [16, 22]
    it = iter(r)
    assert [next(it) for _ in range(3)] == [4, 10, 16]
    for bad in [dict(node_id=3, node_count=3), dict(group_id=-1), dict(node_count=0), dict(node_id=True)]:
        with pytest.raises(InputError):
            NonceRange(**bad)


def brute_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.mark.parametrize("k,n,p", [(0, 200, 5e-4), (1, 200, 5e-4), (2, 200, 5e-4), (4, 200, 5e-4),
                                   (10, 20, 0.3), (20, 20, 0.3), (7, 10, 0.5)])
def test_the_binomial_tail_is_scipys(k, n, p):
    assert binomial_p_greater(k, n, p) == pytest.approx(brute_tail(k, n, p), rel=1e-9)


def test_validation_finds_fraud_and_spares_honest_hosts():
    r = 1.40
    honest = validate(list(range(200)), [1.39] * 200, [1.39] * 199 + [1.4001], r)  # one honest float difference
    assert honest.n_invalid == 1 and not honest.fraud_detected
    forged = validate(list(range(200)), [1.39] * 200, [1.39] * 190 + [1.41] * 10, r)
    assert forged.n_invalid == 10 and forged.fraud_detected and forged.probability_honest < 1e-7
    claimed_above = validate([1, 2], [1.41, 1.39], [1.39, 1.39], r)  # a claim at or above r_target is never valid
    assert claimed_above.n_invalid == 1
    nan = validate([1], [1.39], [float("nan")], r)
    assert nan.n_invalid == 1
    with pytest.raises(ValueError):
        validate([1, 2], [1.39], [1.39], r)
