"""The devnet's PoC validator: recomputes each participant's sampled nonces with the kernel code in
another process, so the block loop never waits for it.

One spawned worker process (a ProcessPoolExecutor of one) takes the rounds in order; for each it builds
the round's model from the block hash once and recomputes every participant's sample with that
participant's public key, then judges it with the v1 rule (gonka_tui.poc.validation.validate: a nonce
is invalid when its recomputed distance is not below r_target; fraud when the binomial test at
p = 5e-4 gives less than 1e-7). The chain asks `result(epoch)` at each block; None means not yet.

The worker is spawned (the server runs threads, which a fork would copy unsafely), so, as with any
multiprocessing spawn, a script that embeds the devnet must keep its top level behind
`if __name__ == "__main__":` (`python -m gonka_tui` and the `gonka` entry point do).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Callable


def _limit_threads() -> None:
    # One BLAS thread: the worker shares the machine with the block loop and the miners.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"


def recompute(params: dict, block_hash: str, r_target: float, jobs: list[dict]) -> dict:
    """In the worker: {address: {n, n_invalid, probability_honest, fraud_detected}} for each job
    {address, public_key (hex), nonces, dist}; plus "_seconds"."""
    from gonka_tui.poc.backends import open_kernel
    from gonka_tui.poc.params import PocParams
    from gonka_tui.poc.validation import validate

    started = time.monotonic()
    out: dict = {}
    kernel = open_kernel(PocParams.from_mapping(params), block_hash, device="cpu", threads=1)
    try:
        for job in jobs:
            computed = kernel.distances(job["public_key"], job["nonces"]) if job["nonces"] else []
            v = validate(job["nonces"], job["dist"], [float(x) for x in computed], r_target)
            out[job["address"]] = {"n": len(v.nonces), "n_invalid": v.n_invalid,
                                   "probability_honest": v.probability_honest, "fraud_detected": v.fraud_detected}
    finally:
        kernel.close()
    out["_seconds"] = time.monotonic() - started
    return out


class Validator:
    def __init__(self, log: Callable[[str], None] = lambda _m: None) -> None:
        self._log = log
        self._executor: ProcessPoolExecutor | None = None
        self._futures: dict[int, Future] = {}
        self._started: dict[int, float] = {}
        self.durations: dict[int, float] = {}  # epoch → seconds from submit to result (for the figures)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            import multiprocessing

            # spawn, not fork: the server runs threads, and a forked copy of them is not safe
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_limit_threads)
        return self._executor

    def submit(self, epoch: int, params: dict, block_hash: str, r_target: float, jobs: list[dict]) -> None:
        if epoch in self._futures:
            return
        self._started[epoch] = time.monotonic()
        if not jobs:
            done: Future = Future()
            done.set_result({"_seconds": 0.0})
            self._futures[epoch] = done
            return
        try:
            self._futures[epoch] = self._pool().submit(recompute, params, block_hash, r_target, jobs)
        except Exception as exc:  # noqa: BLE001 - a pool that cannot start: the round fails validation
            failed: Future = Future()
            failed.set_exception(exc)
            self._futures[epoch] = failed

    def submitted(self, epoch: int) -> bool:
        return epoch in self._futures

    def result(self, epoch: int) -> dict | None:
        """The results of `epoch`'s validation, {"_error": text} when it failed, None while it runs."""
        future = self._futures.get(epoch)
        if future is None or not future.done():
            return None
        del self._futures[epoch]
        self.durations[epoch] = time.monotonic() - self._started.pop(epoch, time.monotonic())
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001 - reported, and every participant of the round fails
            self._log(f"PoC validation of epoch {epoch} failed: {type(exc).__name__}: {exc}")
            if self._executor is not None:  # a broken pool cannot take the next round: make a new one
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
            return {"_error": f"{type(exc).__name__}: {exc}"}

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._futures.clear()
