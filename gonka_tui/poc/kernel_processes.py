"""The CPU kernel on several cores without the GIL: one process per core, each a single-threaded
CpuKernel of the same round, fed its share of every call's nonces over a pipe. Python threads
(CpuKernel(threads=N)) lose ~10 % to the GIL on the per-nonce random numbers and numpy's call
overhead; processes do not. Helpers are spawned (not forked: a fork after OpenBLAS started its
threads can deadlock), build their own weights, and exit when the pipe closes — also when this
process dies."""

from __future__ import annotations

import multiprocessing
from typing import Sequence

import numpy as np

from gonka_tui.poc import blas, weights
from gonka_tui.poc.kernel import CpuKernel
from gonka_tui.poc.params import PocParams


def _serve(conn, params: dict, block_hash: str, weight_scale: float, batch: int) -> None:
    kernel = CpuKernel(weights.build(PocParams.from_mapping(params), block_hash, weight_scale), block_hash,
                       batch=batch)
    conn.send("ready")
    with blas.limited(1):
        while True:
            try:
                job = conn.recv()
            except (EOFError, OSError):
                return
            if job is None:
                return
            public_key, nonces = job
            try:
                conn.send(kernel.distances(public_key, nonces))
            except Exception as exc:  # the parent raises it
                conn.send(exc)


class ProcessKernel:
    """`processes` cores: this process computes one share, spawned helpers the others."""

    device = "cpu"
    dtype = "float32"

    def __init__(self, params: PocParams, block_hash: str, *, weight_scale: float = 1.0, batch: int = 32,
                 processes: int = 2) -> None:
        self.params, self.block_hash, self.batch = params, block_hash, max(1, batch)
        self.threads = self.processes = max(1, processes)
        self.local = CpuKernel(weights.build(params, block_hash, weight_scale), block_hash, batch=self.batch)
        self.flops_per_nonce = self.local.flops_per_nonce  # the helpers run the same kernel
        ctx = multiprocessing.get_context("spawn")
        self._helpers = []
        for _ in range(self.processes - 1):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child, params.to_json(), block_hash, weight_scale, self.batch),
                               daemon=True)
            proc.start()
            child.close()
            self._helpers.append((parent, proc))
        for parent, _ in self._helpers:
            if parent.recv() != "ready":
                raise RuntimeError("a kernel helper process did not start")

    def distances(self, public_key: str, nonces: Sequence[int]) -> np.ndarray:
        nonces = [int(n) for n in nonces]
        if not self._helpers or len(nonces) <= self.batch:
            return self.local.distances(public_key, nonces)
        # contiguous shares of whole batches, one per process, in order
        per = -(-len(nonces) // (self.batch * self.processes)) * self.batch
        shares = [nonces[i:i + per] for i in range(0, len(nonces), per)]
        busy = []
        for (conn, _), share in zip(self._helpers, shares[1:]):
            conn.send((public_key, share))
            busy.append(conn)
        parts = [self.local.distances(public_key, shares[0])]
        for conn in busy:
            got = conn.recv()
            if isinstance(got, BaseException):
                raise got
            parts.append(got)
        return np.concatenate(parts)

    def close(self) -> None:
        for conn, proc in self._helpers:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
            conn.close()
        self._helpers = []
        self.local.close()
