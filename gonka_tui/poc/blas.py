"""numpy's BLAS as the kernel sees it (threadpoolctl): which library and core type, and its thread
count held for a block of code.

One ThreadpoolController for the process: `threadpool_limits` finds the loaded libraries afresh on
every entry (0.22 ms here, against 6 µs with a controller kept), and the kernel enters it once per
call."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager

_lock = threading.Lock()
_controller = None


def _get():
    global _controller
    if _controller is None:
        with _lock:
            if _controller is None:
                from threadpoolctl import ThreadpoolController

                _controller = ThreadpoolController()
    return _controller


def limited(threads: int) -> AbstractContextManager:
    """numpy's BLAS held to `threads` threads inside the block (process-wide), as it was after."""
    return _get().limit(limits=threads, user_api="blas")


def info(library: str | None = None) -> dict:
    """The first BLAS loaded (of `library`, e.g. "openblas", where given): library, core type,
    threads, version; None each where there is none."""
    for lib in _get().info():
        if lib.get("user_api") == "blas" and library in (None, lib.get("internal_api")):
            return {"library": lib.get("internal_api"), "core_type": lib.get("architecture"),
                    "threads": lib.get("num_threads"), "version": lib.get("version")}
    return {"library": None, "core_type": None, "threads": None, "version": None}
