"""Choosing a kernel: torch on CUDA (float16, as production runs) when torch and a GPU are present,
else numpy on the CPU. Every kernel answers `distances(public_key, nonces)` with float64 distances,
and tells its `device`, `batch`, `dtype` and `flops_per_nonce`."""

from __future__ import annotations

import os
from typing import Protocol, Sequence

import numpy as np

from gonka_tui.core.errors import InputError
from gonka_tui.poc.params import PocParams

# nonces per batch on the CPU. 64, not 32: the output layer's 8 MB of weights and the per-call work of
# numpy are spread over twice the nonces (+1 to +5 % nonces/s), for 5 MiB more per worker; 96 or 128
# gain ~1 %, within the noise, for twice the buffers. Alternating in one process on this workplace's EPYC.
DEFAULT_BATCH = 64


class Kernel(Protocol):
    device: str
    dtype: str
    batch: int
    flops_per_nonce: int  # 2 × the multiply-adds of the matrix products it computes for one nonce

    def distances(self, public_key: str, nonces: Sequence[int]) -> np.ndarray: ...

    def close(self) -> None: ...


def cuda_available() -> bool:
    """torch sees a GPU. Without torch, or (on Linux) without an NVIDIA driver, False at once:
    importing torch alone costs seconds."""
    import importlib.util
    import sys

    if importlib.util.find_spec("torch") is None:
        return False
    if sys.platform.startswith("linux") and not os.path.exists("/proc/driver/nvidia"):
        return False
    import torch

    return bool(torch.cuda.is_available())


def host_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(params: PocParams, bytes_per_value: int, available: int | None, where: str) -> None:
    """Refuse a model that cannot fit: its weights alone, with a quarter more for activations."""
    need = params.total_params * bytes_per_value * 5 // 4
    if available is not None and need > available:
        raise InputError(f"this model needs about {need / 2**30:.1f} GiB and {where} has "
                         f"{available / 2**30:.1f} GiB free: use a smaller preset (e.g. cpu), or a GPU with more memory")


def open_kernel(params: PocParams, block_hash: str, *, weight_scale: float = 1.0, device: str = "auto",
                threads: int | None = None, batch: int | None = None, parallel: str = "processes") -> Kernel:
    """device: 'auto' (CUDA when present, else the CPU), 'cpu', 'cuda' or 'torch-cpu' (tests).
    On the CPU, `threads` > 1 runs that many single-threaded kernels: as processes (the default,
    ~10 % faster: no GIL) or as threads of this process (`parallel="threads"`)."""
    if device == "auto":
        device = "cuda" if cuda_available() else "cpu"
    if device == "cpu":
        from gonka_tui.poc import weights
        from gonka_tui.poc.kernel import CpuKernel

        if parallel not in ("processes", "threads"):
            raise InputError(f"unknown parallel mode '{parallel}' (processes, threads)")
        threads = threads or 1
        check_memory(params, 4 * threads if parallel == "processes" else 4, host_memory_bytes(), "this machine")
        if threads > 1 and parallel == "processes":
            from gonka_tui.poc.kernel_processes import ProcessKernel

            return ProcessKernel(params, block_hash, weight_scale=weight_scale, batch=batch or DEFAULT_BATCH,
                                 processes=threads)
        return CpuKernel(weights.build(params, block_hash, weight_scale), block_hash,
                         batch=batch or DEFAULT_BATCH, threads=threads)
    if device in ("cuda", "torch-cpu"):
        try:
            from gonka_tui.poc.torch_kernel import TorchKernel
        except ImportError:
            raise InputError("the GPU kernel needs torch: pip install 'gonka-tui[torch]'") from None
        return TorchKernel(params, block_hash, weight_scale=weight_scale,
                           device="cuda" if device == "cuda" else "cpu", batch=batch)
    raise InputError(f"unknown device '{device}' (auto, cpu, cuda)")
