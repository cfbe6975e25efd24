"""The optional torch kernel: the known answers on torch's CPU device, float16 close to them,
batching, the weight fill, the memory check and batch sizing; the CUDA comparison where a GPU is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gonka_tui.core.errors import InputError  # noqa: E402
from gonka_tui.poc import torch_kernel, weights  # noqa: E402
from gonka_tui.poc.backends import open_kernel  # noqa: E402
from gonka_tui.poc.kernel import CpuKernel  # noqa: E402
from gonka_tui.poc.nonces import parse_nonce_spec  # noqa: E402
from gonka_tui.poc.params import PocParams  # noqa: E402
from gonka_tui.poc.presets import preset  # noqa: E402
from gonka_tui.poc.torch_kernel import MAX_BATCH, TorchKernel, auto_batch, fill_into  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ANSWERS = [REPO / "tests" / "data" / "poc-v1-known-answers.json",  # a copy travels with the repo for CI
           REPO.parent / "shared" / "data" / "poc-v1-known-answers.json"]
# float16 against the float32 known answers: measured worst 5.6e-5 over the tiny cases (2.4e-5 to
# 5.6e-5 per case; 7.7e-6 and 1.8e-5 on S). Logits rounded to float16 (unit roundoff 4.9e-4) alone
# move a distance by about 1e-5 at vocab 512; the matrix products add the rest. 2e-4 leaves room
# for other BLAS while staying under the 5e-4..2e-2 a layer mistake causes at weight_scale 10.
FLOAT16_TOL = 2e-4
# Different batch sizes pick different BLAS blockings on the CPU: measured up to 7.3e-8 apart, the
# float32 rounding of the sums, far inside the 1e-6 validators tolerate.
BATCH_TOL = 2e-7


def _cases() -> list[dict]:
    for path in ANSWERS:
        if path.exists():
            return json.loads(path.read_text())["cases"]
    return []


CASES = _cases()
IDS = [f"{c['preset']}-x{c['weight_scale']}" for c in CASES]
TINY = [c for c in CASES if c["preset"].startswith("tiny")]
needs_answers = pytest.mark.skipif(not CASES, reason="poc-v1-known-answers.json not found")


def _kernel(case: dict, **kw) -> TorchKernel:
    return TorchKernel(PocParams.from_mapping(case["params"]), case["block_hash"],
                       weight_scale=case["weight_scale"], device="cpu", **kw)


def _run(case: dict, **kw) -> np.ndarray:
    k = _kernel(case, **kw)
    try:
        return k.distances(case["public_key"], parse_nonce_spec(case["nonces"]))
    finally:
        k.close()


def _float16_on_cpu() -> bool:
    try:
        torch.nn.functional.linear(torch.ones(2, 4, dtype=torch.float16), torch.ones(3, 4, dtype=torch.float16))
        torch.nn.functional.silu(torch.ones(2, dtype=torch.float16))
    except RuntimeError:
        return False
    return True


@needs_answers
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_on_cpu_matches_the_known_answers(case):
    got = _run(case)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, case["dist"], rtol=0, atol=1e-6)


@needs_answers
@pytest.mark.skipif(not _float16_on_cpu(), reason="this torch build has no float16 matmul on the CPU")
@pytest.mark.parametrize("case", TINY, ids=[f"{c['preset']}-x{c['weight_scale']}" for c in TINY])
def test_float16_on_cpu_stays_close_to_the_known_answers(case):
    k = _kernel(case, dtype="float16")
    assert (k.device, k.dtype) == ("torch-cpu", "float16")
    got = k.distances(case["public_key"], parse_nonce_spec(case["nonces"]))
    k.close()
    err = np.abs(got - np.asarray(case["dist"]))
    assert err.max() <= FLOAT16_TOL
    assert err.max() > 0  # really float16: float32 would land within 1e-7


@needs_answers
@pytest.mark.parametrize("case", [c for c in CASES if c["weight_scale"] == 10 and c["preset"] != "S"],
                         ids=lambda c: c["preset"])
def test_batching_does_not_change_distances(case):
    whole = _run(case, batch=len(parse_nonce_spec(case["nonces"])))
    for batch in (1, 5):
        np.testing.assert_allclose(_run(case, batch=batch), whole, rtol=0, atol=BATCH_TOL)
    np.testing.assert_allclose(whole, case["dist"], rtol=0, atol=1e-6)


@needs_answers
def test_nonces_come_back_in_the_order_given_and_empty_gives_empty():
    case = TINY[0]
    k = _kernel(case, batch=3)
    order = [9, 2, 15, 0, 7]
    got = k.distances(case["public_key"], order)
    assert k.distances(case["public_key"], []).shape == (0,)
    k.close()
    np.testing.assert_allclose(got, [case["dist"][n] for n in order], rtol=0, atol=1e-6)


@pytest.mark.parametrize("numel", [1, 5, 7, 14, 23, 100])
@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_fill_on_the_device_lays_out_the_pool_as_weights_fill(numel, scale):
    pool = np.random.default_rng(1).normal(0, 0.02, 7).astype(np.float32)
    unrotated = next(f"p{i}" for i in range(10_000) if weights.name_offset("ABCD", f"p{i}") % numel == 0)
    for name in ("output.weight", "layers.0.attention.wq.weight", "norm.weight", unrotated):
        out = torch.empty(numel)
        fill_into(out, torch.from_numpy(pool), "ABCD", name, scale)
        want = weights.fill(pool, "ABCD", name, numel) * np.float32(scale)
        np.testing.assert_array_equal(out.numpy(), want)


def test_parameters_that_fill_several_rows_keep_their_order():
    pool = torch.arange(100, dtype=torch.float32)
    out = torch.empty(3, 4)
    fill_into(out, pool, "ABCD", "layers.0.attention.wo.weight")
    want = weights.fill(pool.numpy(), "ABCD", "layers.0.attention.wo.weight", 12).reshape(3, 4)
    np.testing.assert_array_equal(out.numpy(), want)


def test_memory_check_refuses_a_model_that_cannot_fit_before_drawing_anything(monkeypatch):
    monkeypatch.setattr(torch_kernel, "free_memory", lambda device: 2**30)

    def no_pool(*a, **k):
        raise AssertionError("the pool was drawn before the memory check")

    monkeypatch.setattr(weights, "pool", no_pool)
    with pytest.raises(InputError) as err:
        TorchKernel(preset("mainnet").params, "AB" * 32, device="cpu")
    msg = str(err.value)
    assert "needs about" in msg and "1.0 GiB free" in msg and "smaller preset" in msg
    assert "\n" not in msg


@needs_answers
def test_memory_check_lets_a_model_that_fits_through(monkeypatch):
    monkeypatch.setattr(torch_kernel, "free_memory", lambda device: 2**30)
    case = TINY[0]
    got = _run(case)
    np.testing.assert_allclose(got, case["dist"], rtol=0, atol=1e-6)


def test_automatic_batch_is_bounded_and_grows_with_free_memory():
    p = preset("mainnet").params
    assert auto_batch(p, 2, 0) == 1
    assert auto_batch(p, 2, 1 << 50) == MAX_BATCH
    sizes = [auto_batch(p, 2, gib * 2**30) for gib in (1, 10, 44, 100)]
    assert sizes == sorted(sizes) and 1 < sizes[-1] < MAX_BATCH
    # A float32 model needs more per nonce than a float16 one.
    assert auto_batch(p, 4, 44 * 2**30) < auto_batch(p, 2, 44 * 2**30)


@needs_answers
def test_defaults_on_the_cpu_device_and_through_open_kernel():
    case = TINY[0]
    params = PocParams.from_mapping(case["params"])
    k = open_kernel(params, case["block_hash"], device="torch-cpu")
    assert isinstance(k, TorchKernel)
    assert (k.device, k.dtype, k.batch) == ("torch-cpu", "float32", 64)
    got = k.distances(case["public_key"], [0, 1])
    k.close()
    np.testing.assert_allclose(got, case["dist"][:2], rtol=0, atol=1e-6)
    k = open_kernel(params, case["block_hash"], device="torch-cpu", batch=3)
    assert k.batch == 3
    k.close()


def test_unknown_dtype_and_device_are_refused():
    p = preset("cpu").params
    with pytest.raises(InputError, match="unknown dtype 'float8'"):
        TorchKernel(p, "AB" * 32, device="cpu", dtype="float8")
    with pytest.raises(InputError, match="unknown torch device 'tpu'"):
        TorchKernel(p, "AB" * 32, device="tpu")


def test_backends_does_not_import_torch_until_asked():
    code = ("import sys, gonka_tui.poc.backends; "
            "print(sorted(m for m in ('torch', 'gonka_tui.poc.torch_kernel') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


@needs_answers
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_float16_on_cuda_agrees_with_the_float32_cpu_kernel():
    for case in [c for c in CASES if c["preset"] == "S"]:
        params = PocParams.from_mapping(case["params"])
        k = TorchKernel(params, case["block_hash"], weight_scale=case["weight_scale"], device="cuda")
        assert (k.device, k.dtype) == ("cuda", "float16") and 1 <= k.batch <= MAX_BATCH
        nonces = list(range(64))
        got = k.distances(case["public_key"], nonces)
        k.close()
        cpu = CpuKernel(weights.build(params, case["block_hash"], case["weight_scale"]), case["block_hash"])
        want = cpu.distances(case["public_key"], nonces)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)
        np.testing.assert_allclose(got[:len(case["dist"])], case["dist"], rtol=0, atol=1e-3)
