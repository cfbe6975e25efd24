"""`gonka miner compute` reproduces the known answers as a host would run it; `gonka miner bench`
prints its figures; bad params, hashes, keys and nonce specs get one clear line."""

from __future__ import annotations

import json

import pytest

from tests.poc.conftest import CASES, HASH, KEY, TINY, nonce_range

TINY_JSON = json.dumps(TINY)


@pytest.mark.parametrize("case", [c for c in CASES if c["preset"] != "S"] + [CASES[-1]],
                         ids=lambda c: f"{c['preset']}-x{c['weight_scale']}")
def test_compute_reproduces_the_known_answers(gonka, case):
    source = ["--preset", "cpu"] if case["preset"] == "S" else ["--params", json.dumps(case["params"])]
    r = gonka("miner", "compute", *source, "--block-hash", case["block_hash"], "--public-key", case["public_key"],
              "--nonces", case["nonces"], "--weight-scale", str(case["weight_scale"]), "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["nonces"] == nonce_range(case["nonces"])
    assert max(abs(a - b) for a, b in zip(out["dist"], case["dist"])) < 1e-6


def test_compute_takes_lists_and_ranges_and_prints_plain_lines(gonka):
    r = gonka("miner", "compute", "--params", TINY_JSON, "--block-hash", HASH, "--public-key", KEY,
              "--nonces", "3,0-1")
    assert r.code == 0 and r.err == ""  # no progress for what takes under a second
    lines = [line.split("\t") for line in r.out.splitlines()]
    assert [int(n) for n, _ in lines] == [3, 0, 1]
    assert abs(float(lines[0][1]) - CASES[0]["dist"][3]) < 1e-6


@pytest.mark.parametrize("args,message", [
    (["--params", "{not json"], "--params is not valid JSON"),
    (["--params", json.dumps({**TINY, "dim": 65})], "not a multiple of n_heads"),
    (["--preset", "huge"], "no preset 'huge'"),
    (["--preset", "mainnet", "--device", "cpu"], "needs a GPU"),
    (["--block-hash", "XYZ"], "--block-hash must be hexadecimal"),
    (["--block-hash", "AB" * 31], "must be 64 hex digits"),
    (["--public-key", KEY[:-2]], "must be 66 hex digits"),
    (["--nonces", "7-3"], "runs backwards"),
    (["--nonces", "x"], "not a number"),
    (["--weight-scale", "0"], "--weight-scale must be a positive number"),
])
def test_bad_input_gets_one_clear_line(gonka, args, message):
    base = {"--params": TINY_JSON, "--block-hash": HASH, "--public-key": KEY, "--nonces": "0-1"}
    if "--preset" in args:
        del base["--params"]
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    extra = [x for k, v in base.items() for x in (k, v)]
    r = gonka("miner", "compute", *extra)
    assert r.code != 0
    errors = [line for line in r.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], r.err
    assert r.out == ""


def test_bench_prints_its_figures(gonka):
    r = gonka("miner", "bench", "--params", TINY_JSON, "--seconds", "0.3", "--threads", "1", "--json")
    assert r.code == 0, r.err
    out = r.json()
    for key in ("preset", "device", "blas", "threads", "batch", "nonces_per_second", "flops_per_nonce",
                "flops_per_second", "gemm_flops_per_second", "ratio"):
        assert key in out
    assert out["device"] == "cpu" and out["threads"] == 1 and out["nonces_per_second"] > 0
    assert set(out["blas"]) >= {"library", "core_type", "threads"}
    assert out["ratio"] == pytest.approx(out["flops_per_second"] / out["gemm_flops_per_second"], rel=1e-3)
    # the sustained matrix-multiply rate is never above its fastest single product
    assert out["gemm_peak_flops_per_second"] >= out["gemm_flops_per_second"] and out["ratio_to_peak"] <= out["ratio"]
    assert out["flops_per_second"] == pytest.approx(out["nonces_per_second"] * out["flops_per_nonce"], rel=1e-3)
