"""`gonka miner bench`: the kernel alone, against this machine's own matrix multiply measured in the
same run at the kernel's largest shape and the same thread count. Prints what a host compares
across rigs and settings: nonces/s, FLOP/s and the ratio of the two rates."""

from __future__ import annotations

import os
import resource
import sys
import time
from typing import Callable

import numpy as np

from gonka_tui.poc import blas, draws
from gonka_tui.poc.backends import DEFAULT_BATCH, open_kernel
from gonka_tui.poc.kernel import FFN_TILE_ROWS
from gonka_tui.poc.params import PocParams

BENCH_HASH = "5E8D3C1F9A7B2D4E6F8091A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6"
BENCH_KEY = "02aab863cd607f7db6e175bdf9daa057e32f0fbeacf7175b5304f7b0e17118f340"
TURN_SECONDS = 0.5  # the kernel's share of one turn of the run
GEMM_SHARE = 0.4  # the GEMM's time in a turn, as a share of the kernel's


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def settle(limit: float = 1.0, poll: float = 0.005) -> None:
    """Wait (at most `limit` s) until this process's threads are idle. After a product OpenBLAS's
    worker threads spin for ~0.1 s before they sleep; in the kernel's turn that follows they would
    hold cores the kernel's processes need (2 threads: 10 % fewer nonces/s, the ratio 0.08 lower)."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        cpu, wall = time.process_time(), time.perf_counter()
        time.sleep(poll)
        if time.process_time() - cpu < 0.25 * (time.perf_counter() - wall):  # not one thread busy
            return


class Gemm:
    """numpy float32 (m×k)·(k×n) with `threads` BLAS threads, timed in slices: sustained = FLOPs done /
    time taken over every slice (the way the kernel's own rate is measured), peak = the fastest single
    product (on this kind of machine ~15 % above sustained even when it is quiet)."""

    def __init__(self, m: int, k: int, n: int, threads: int) -> None:
        rng = np.random.default_rng(0)
        self.a = rng.standard_normal((m, k), dtype=np.float32)
        self.b = rng.standard_normal((k, n), dtype=np.float32)
        self.out = np.empty((m, n), np.float32)
        self.threads, self.flops = threads, 2 * m * k * n
        self.runs, self.elapsed, self.best = 0, 0.0, 0.0

    def run_for(self, seconds: float) -> None:
        with blas.limited(self.threads):
            np.matmul(self.a, self.b, out=self.out)  # back in cache after the kernel's slice
            start = time.perf_counter()
            while (now := time.perf_counter()) - start < seconds:
                np.matmul(self.a, self.b, out=self.out)
                self.runs += 1
                self.best = max(self.best, self.flops / (time.perf_counter() - now))
            self.elapsed += time.perf_counter() - start
        if self.threads > 1:
            settle()

    @property
    def sustained(self) -> float:
        return self.flops * self.runs / self.elapsed if self.elapsed else 0.0


def _cpu_kernel(kernel):
    return getattr(kernel, "local", kernel)  # a multi-process kernel: its own in-process kernel says


def _fused(kernel) -> bool | None:
    value = getattr(_cpu_kernel(kernel), "fused", None)
    return None if value is None else bool(value)


def _products(kernel) -> str | None:
    """Whose matrix products the CPU kernel runs: "numpy", or our own loops' instruction set."""
    cpu = _cpu_kernel(kernel)
    if getattr(cpu, "device", None) != "cpu":
        return None
    return getattr(cpu, "gemm", None) or "numpy"


def run(params: PocParams, *, preset: str | None, seconds: float = 10.0, threads: int | None = None,
        batch: int | None = None, device: str = "auto", parallel: str = "processes",
        progress: Callable[[str], None] = lambda _: None) -> dict:
    threads = threads or available_cores()
    kernel = open_kernel(params, BENCH_HASH, device=device, threads=threads, batch=batch or DEFAULT_BATCH,
                         parallel=parallel)
    # The kernel's largest product: the feed-forward up-projection of one tile of rows. Kernel and
    # GEMM take turns (GEMM_SHARE of each turn), so a neighbour that slows the machine for a while
    # slows both alike and their ratio holds; one after the other, the ratio moved by ±10 % between runs.
    m, k, n = min(kernel.batch * params.seq_len, FFN_TILE_ROWS), params.dim, 2 * params.ffn_hidden
    gemm = Gemm(m, k, n, threads) if kernel.device == "cpu" else None
    try:
        step = kernel.batch * threads  # one batch per thread per call
        kernel.distances(BENCH_KEY, range(step))  # warm: buffers, caches, thread pool
        done, elapsed, next_note, turn_end = 0, 0.0, 1.0, TURN_SECONDS
        while elapsed < seconds:
            start = time.perf_counter()
            kernel.distances(BENCH_KEY, range(step + done, 2 * step + done))
            elapsed += time.perf_counter() - start
            done += step
            if elapsed >= next_note:
                progress(f"{done / elapsed:,.0f} nonces/s · {elapsed:.0f}/{seconds:.0f} s")
                next_note += 1.0
            if gemm is not None and (elapsed >= turn_end or elapsed >= seconds):
                gemm.run_for(TURN_SECONDS * GEMM_SHARE)
                turn_end = elapsed + TURN_SECONDS
    finally:
        kernel.close()
    rate = done / elapsed
    flops = kernel.flops_per_nonce
    sustained, peak = (gemm.sustained, gemm.best) if gemm is not None else (None, None)
    return {
        "preset": preset, "params": params.to_json(), "device": kernel.device, "dtype": kernel.dtype,
        # BLAS runs single-threaded in each of the kernel's `threads` processes or threads
        "blas": {**blas.info(), "threads": 1 if kernel.device == "cpu" else None},
        "threads": threads, "parallel": parallel if threads > 1 and kernel.device == "cpu" else None,
        # the compiled elementwise loops (gonka_tui/poc/fused.py) or numpy's; None off the CPU
        "fused": _fused(kernel),
        # the matrix products: numpy's matmul, or our own (gonka_tui/poc/_fused.c) where BLAS runs AVX-512
        "products": _products(kernel),
        # the input normals and the logits' shuffle: numpy's Generator, or the same bits from gonka_tui/poc/_draws.c
        "draws": draws.name(),
        "batch": kernel.batch, "seconds": round(elapsed, 3), "nonces": done,
        "nonces_per_second": round(rate, 1), "flops_per_nonce": flops,
        "flops_per_second": rate * flops, "gemm_shape": [m, k, n], "gemm_flops_per_second": sustained,
        "gemm_peak_flops_per_second": peak,
        "ratio": round(rate * flops / sustained, 4) if sustained else None,
        "ratio_to_peak": round(rate * flops / peak, 4) if peak else None,
        # this process's peak: each helper process of a multi-core CPU kernel holds about as much
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024),
        "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
    }
