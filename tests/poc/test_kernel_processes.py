"""The multi-core CPU kernel (one process per core): the same distances as one kernel, in the order
asked, and no helper process outlives it — closed, or its parent killed."""

from __future__ import annotations

import json
import os
import signal
import select
import subprocess
import sys

import numpy as np

from gonka_tui.poc.backends import open_kernel
from gonka_tui.poc.kernel_processes import ProcessKernel
from gonka_tui.poc.params import PocParams
from tests.conftest import REPO
from tests.poc.conftest import CASES, nonce_range


def test_shares_computed_in_helper_processes_give_the_known_answers_in_order():
    case = next(c for c in CASES if c["preset"] == "tiny-gqa" and c["weight_scale"] == 10)
    kernel = open_kernel(PocParams.from_mapping(case["params"]), case["block_hash"], weight_scale=10, device="cpu",
                         threads=3, batch=2)
    assert isinstance(kernel, ProcessKernel)
    helpers = [proc for _, proc in kernel._helpers]
    try:
        nonces = nonce_range(case["nonces"])
        order = nonces[::-1]  # 16 nonces in 3 shares of whole batches, reversed
        got = kernel.distances(case["public_key"], order)
        assert np.abs(got - np.array(case["dist"])[order]).max() < 1e-6
        assert kernel.distances(case["public_key"], []).shape == (0,)
    finally:
        kernel.close()
    assert all(not p.is_alive() for p in helpers)


PARENT = """
import json, sys, time
from gonka_tui.poc.kernel_processes import ProcessKernel
from gonka_tui.poc.params import PocParams
kernel = ProcessKernel(PocParams.from_mapping(json.loads(sys.argv[1])), "AB" * 32, processes=2, batch=2)
print(json.dumps([p.pid for _, p in kernel._helpers]), flush=True)
time.sleep(600)
"""


def test_helpers_exit_when_their_parent_is_killed():
    params = json.dumps(CASES[0]["params"])
    parent = subprocess.Popen([sys.executable, "-c", PARENT, params], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        (pid,) = json.loads(parent.stdout.readline())
        fd = os.pidfd_open(pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        ready, _, _ = select.select([fd], [], [], 30)  # readable once the helper has exited
        os.close(fd)
        assert ready, "the helper outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
