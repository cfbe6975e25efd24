"""The kernel worker as the miner agent drives it: a real subprocess speaking JSON lines, tiny params,
answers read with deadlines."""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.poc.conftest import KNOWN_ANSWERS

REPO = Path(__file__).resolve().parents[2]
KNOWN = KNOWN_ANSWERS  # the copy in tests/data travels with the repo
CASE = next(c for c in KNOWN["cases"] if c["preset"] == "tiny" and c["weight_scale"] == 1 and c["nonces"] == "0-15")
TINY, BLOCK_HASH, PUBLIC_KEY = CASE["params"], CASE["block_hash"], CASE["public_key"]
DIST = dict(enumerate(CASE["dist"]))  # nonce -> the reference's distance
_sorted = sorted(DIST.values())
R_TARGET = (_sorted[7] + _sorted[8]) / 2  # half of the 16 pass, none within 5e-4 of it
BELOW = sorted(n for n, d in DIST.items() if d < R_TARGET)
ABOVE = sorted(n for n, d in DIST.items() if d >= R_TARGET)
STREAMS = ("heartbeat", "stats", "batch")
DEADLINE = 15.0


class Worker:
    """One worker process; every stdout line must be a JSON object (checked as it is read)."""

    def __init__(self, tmp_path: Path, argv: list[str] | None = None) -> None:
        self.stderr = open(tmp_path / f"worker-{time.monotonic_ns()}.log", "wb")
        self.proc = subprocess.Popen(argv or [sys.executable, "-m", "gonka_tui.miner.kernel_worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, cwd=REPO)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, request: dict | bytes) -> None:
        raw = request if isinstance(request, bytes) else json.dumps(request).encode()
        self.proc.stdin.write(raw + b"\n")
        self.proc.stdin.flush()

    def message(self, timeout: float = DEADLINE) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line from the worker within {timeout} s") from None
        assert line is not None, "the worker closed its stdout"
        msg = json.loads(line)
        assert isinstance(msg, dict) and isinstance(msg.get("type"), str), line
        self.seen.append(msg)
        return msg

    def until(self, *types: str, timeout: float = DEADLINE) -> dict:
        """The next message of one of `types`; the ones before it are in self.seen."""
        end = time.monotonic() + timeout
        while True:
            msg = self.message(max(0.01, end - time.monotonic()))
            if msg["type"] in types:
                return msg
            assert time.monotonic() < end, f"no {types} within {timeout} s"

    def answer(self, timeout: float = DEADLINE) -> dict:
        """The next answer to a request (streamed messages skipped)."""
        end = time.monotonic() + timeout
        while True:
            msg = self.message(max(0.01, end - time.monotonic()))
            if msg["type"] not in STREAMS:
                return msg
            assert time.monotonic() < end, f"no answer within {timeout} s"

    def init(self, **fields) -> dict:
        request = {"type": "init", "params": TINY, "block_hash": BLOCK_HASH, "public_key": PUBLIC_KEY,
                   "r_target": R_TARGET, "device": "cpu", "batch": 4, **fields}
        self.send(request)
        ready = self.answer()
        assert ready["type"] == "ready", ready
        return ready

    def run_until_stopped(self, **generate) -> tuple[dict, list[dict], list[dict]]:
        """generate, then every batch and stats up to `stopped`."""
        self.send({"type": "generate", **generate})
        assert self.answer()["type"] == "generating"
        mark = len(self.seen)
        stopped = self.until("stopped")
        between = self.seen[mark:-1]
        return stopped, [m for m in between if m["type"] == "batch"], [m for m in between if m["type"] == "stats"]

    def wait_exit(self, timeout: float = DEADLINE) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.stderr.close()


@pytest.fixture
def worker(tmp_path):
    w = Worker(tmp_path)
    yield w
    w.close()


def test_generates_the_valid_nonces_of_its_share_with_the_reference_distances(worker):
    ready = worker.init(node_id=1, node_count=2)
    assert (ready["device"], ready["batch"], ready["step"], ready["next_k"]) == ("cpu", 4, 4, 0)
    assert ready["params"] == {**TINY, "rope_theta": float(TINY["rope_theta"])}
    assert ready["r_target"] == R_TARGET and ready["preset"] is None and ready["node_count"] == 2

    stopped, batches, stats = worker.run_until_stopped(count=8)  # k 0..7: the odd nonces 1..15
    assert [(b["k_start"], b["k_end"], b["computed"]) for b in batches] == [(0, 4, 4), (4, 8, 4)]
    found = {n: d for b in batches for n, d in zip(b["nonces"], b["dist"], strict=True)}
    odd = [n for n in range(1, 16, 2)]
    assert sorted(found) == [n for n in odd if n in BELOW] and 0 < len(found) < len(odd)
    for n, d in found.items():
        assert abs(d - DIST[n]) < 1e-6 and d < R_TARGET
    assert (stopped["reason"], stopped["next_k"], stopped["nonces"], stopped["valid"]) == ("count", 8, 8, len(found))
    assert stats and (stats[-1]["nonces"], stats[-1]["valid"], stats[-1]["next_k"]) == (8, len(found), 8)
    assert stats[-1]["nonces_per_second"] > 0 and stats[-1]["elapsed_s"] > 0 and not stats[-1]["generating"]

    # Periodic heartbeats (the first one comes at start; this one after the run).
    beat = worker.until("heartbeat", timeout=3)
    assert beat["state"] == "idle" and beat["pid"] == worker.proc.pid

    # A plain generate resumes where the run stopped.
    stopped, batches, _ = worker.run_until_stopped(count=4)
    assert batches[0]["k_start"] == 8 and stopped["next_k"] == 12
    assert set(batches[0]["nonces"]) <= {17, 19, 21, 23}

    # Valid means dist < r_target, strictly: at r_target = a distance found, that nonce is left out.
    edge = max(found, key=found.get)
    worker.init(node_id=1, node_count=2, r_target=found[edge])  # a second init replaces the round
    _, batches, _ = worker.run_until_stopped(count=8)
    again = {n: d for b in batches for n, d in zip(b["nonces"], b["dist"])}
    assert sorted(again) == sorted(n for n in found if n != edge)
    assert all(again[n] == found[n] for n in again)  # bit for bit: floats travel in full
    worker.send({"type": "exit"})
    assert worker.wait_exit() == 0


def test_validation_counts_forged_nonces_and_overtakes_generation(worker):
    other_key = "03" + "11" * 32
    worker.init(public_key=other_key)  # validate must use its own key, not the round's
    honest = {"type": "validate", "public_key": PUBLIC_KEY, "nonces": BELOW, "dist": [DIST[n] for n in BELOW],
              "id": "honest"}
    worker.send(honest)
    v = worker.answer()
    assert (v["type"], v["id"], v["n_invalid"], v["fraud_detected"], v["probability_honest"]) == \
        ("validated", "honest", 0, False, 1.0)
    assert all(abs(d - DIST[n]) < 1e-6 for n, d in zip(v["nonces"], v["dist"], strict=True))

    def forged(k: int) -> dict:  # honest nonces plus k whose real distance is above r_target, claimed small
        nonces = BELOW + ABOVE[:k]
        return {**honest, "nonces": nonces, "dist": [DIST[n] for n in BELOW] + [1.3] * k, "id": k}

    worker.send(forged(1))
    v = worker.answer()
    assert (v["id"], v["n_invalid"], v["fraud_detected"]) == (1, 1, False)  # one slip: honest hardware can
    assert 1e-7 < v["probability_honest"] < 0.01
    worker.send(forged(len(ABOVE)))
    v = worker.answer()
    assert (v["n_invalid"], v["fraud_detected"]) == (len(ABOVE), True) and v["probability_honest"] < 1e-7
    assert v["received_dist"][-1] == 1.3 and v["dist"][-1] > R_TARGET
    worker.send({**forged(len(ABOVE)), "r_target": 1.5, "id": "wide"})  # a request's own r_target
    v = worker.answer()
    assert (v["id"], v["r_target"], v["n_invalid"], v["fraud_detected"]) == ("wide", 1.5, 0, False)

    # While generating (no count: it never ends by itself) a validate is answered, and generation goes on.
    worker.send({"type": "generate"})
    assert worker.answer()["type"] == "generating"
    worker.until("batch")
    worker.send({**honest, "nonces": list(range(400)), "dist": [1.0] * 400, "id": "calibrate"})
    v = worker.until("validated")
    n = max(400, min(50_000, int(1.6 * 400 / max(v["seconds"], 1e-6))))
    for _ in range(3):  # a validation long enough (over 1.2 s) that heartbeats must flow during it
        worker.send({**honest, "nonces": list(range(n)), "dist": [1.0] * n, "id": f"long-{n}"})
        mark = len(worker.seen)
        v = worker.until("validated")
        assert v["id"] == f"long-{n}" and len(v["dist"]) == n
        if v["seconds"] >= 1.2:
            break
        n *= 2
    assert v["seconds"] >= 1.2
    assert any(m["type"] == "heartbeat" for m in worker.seen[mark:-1]), "no heartbeat while validating"
    worker.until("batch")  # generation resumed
    worker.send({"type": "stop"})
    stopped = worker.answer()
    assert (stopped["type"], stopped["reason"], stopped["was_generating"]) == ("stopped", "stop", True)
    worker.send({"type": "stop"})
    idle = worker.answer()  # no batch of the run after its stopped
    assert (idle["type"], idle["was_generating"], idle["next_k"]) == ("stopped", False, stopped["next_k"])
    assert not [m for m in worker.seen[worker.seen.index(stopped):] if m["type"] == "batch"]


def test_stop_then_exit(worker):
    worker.init()
    worker.send({"type": "stop", "id": 1})
    idle = worker.answer()
    assert (idle["type"], idle["id"], idle["was_generating"], idle["next_k"]) == ("stopped", 1, False, 0)
    worker.send({"type": "generate"})
    worker.until("batch")
    worker.send({"type": "stop", "id": 2})
    stopped = worker.until("stopped")
    assert (stopped["id"], stopped["reason"], stopped["was_generating"]) == (2, "stop", True)
    assert stopped["nonces"] == stopped["next_k"] > 0
    worker.send({"type": "exit"})
    assert worker.wait_exit() == 0


PARENT = """
import json, subprocess, sys, threading
worker = subprocess.Popen([sys.executable, "-m", "gonka_tui.miner.kernel_worker"])  # stdin/stdout inherited
print(json.dumps({"worker_pid": worker.pid}), flush=True)
threading.Event().wait()
"""


def test_worker_exits_when_its_parent_is_killed(tmp_path):
    # The worker's stdin is the test's open pipe: no end of file, only the parent's death can end it.
    parent = Worker(tmp_path, [sys.executable, "-c", PARENT])
    pidfd = None
    try:
        while pidfd is None or not any(m["type"] == "heartbeat" for m in parent.seen):
            line = parent.lines.get(timeout=DEADLINE)
            assert line is not None, "the parent or the worker ended early"
            msg = json.loads(line)
            if "worker_pid" in msg:
                pidfd = os.pidfd_open(msg["worker_pid"])  # readable once that process has exited
            else:
                parent.seen.append(msg)
        assert not select.select([pidfd], [], [], 0)[0], "the worker ended before its parent"
        parent.proc.send_signal(signal.SIGKILL)
        parent.proc.wait(5)
        assert select.select([pidfd], [], [], 10)[0], "the worker outlived its parent by 10 s"
    finally:
        if pidfd is not None:
            if not select.select([pidfd], [], [], 0)[0]:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            os.close(pidfd)
        parent.close()


def test_malformed_requests_get_one_error_each_and_the_worker_goes_on(worker):
    bad_params = {**TINY, "dim": 66}
    validate = {"type": "validate", "public_key": PUBLIC_KEY, "nonces": [0, 1], "dist": [1.3, 1.4]}
    requests: list[tuple[dict | bytes, str, str | None, str]] = [
        (b"this is not json", "error", None, "not a JSON line"),
        (b"[1, 2, 3]", "error", None, "JSON object"),
        (b"{}", "error", None, "'type'"),
        (b'{"type": "init", "r_target": NaN}', "error", None, "not a JSON line"),
        ({"type": "frobnicate"}, "error", "frobnicate", "unknown request type"),
        ({"type": "generate"}, "error", "generate", "no round"),
        ({**validate, "id": "early"}, "error", "validate", "no round"),
        ({"type": "init", "params": bad_params, "block_hash": BLOCK_HASH, "public_key": PUBLIC_KEY,
          "r_target": 1.4}, "error", "init", "multiple of n_heads"),
        ({"type": "init", "params": TINY, "public_key": PUBLIC_KEY, "r_target": 1.4}, "error", "init", "block_hash"),
        ({"type": "init", "preset": "cpu", "params": TINY, "block_hash": BLOCK_HASH, "public_key": PUBLIC_KEY},
         "error", "init", "exactly one"),
        ({"type": "init", "preset": "cpu", "block_hash": BLOCK_HASH, "public_key": PUBLIC_KEY, "node_id": 2,
          "node_count": 2}, "error", "init", "node_id"),
        ({"type": "stop", "extra": 1}, "error", "stop", "unknown field 'extra'"),
        ({"type": "init", "params": TINY, "block_hash": BLOCK_HASH, "public_key": PUBLIC_KEY, "r_target": R_TARGET,
          "device": "cpu"}, "ready", None, ""),
        ({**validate, "dist": [1.3], "id": "short"}, "error", "validate", "pair up"),
        ({**validate, "nonces": [0, -1]}, "error", "validate", "nonces[1]"),
        ({"type": "generate", "count": 0}, "error", "generate", "count"),
        ({"type": "generate"}, "generating", None, ""),
        ({"type": "generate"}, "error", "generate", "already generating"),
        ({"type": "init", "preset": "cpu", "block_hash": BLOCK_HASH, "public_key": PUBLIC_KEY}, "error", "init",
         "send stop first"),
        ({"type": "stop"}, "stopped", None, ""),
        ({**validate, "id": 9}, "validated", None, ""),
    ]
    for request, _, _, _ in requests:
        worker.send(request)
    for request, kind, offending, words in requests:
        got = worker.answer()
        assert got["type"] == kind, (request, got)
        if kind == "error":
            assert got["request"] == offending and words in got["message"], (request, got)
            assert got["id"] == (request.get("id") if isinstance(request, dict) else None)
    assert got["id"] == 9 and abs(got["dist"][0] - DIST[0]) < 1e-6
    worker.proc.stdin.close()  # end of file: a clean exit
    assert worker.wait_exit() == 0


def test_piped_requests_are_all_answered_before_end_of_input_ends_the_worker():
    """`printf '…' | python -m gonka_tui.miner.kernel_worker`: exit and end of input come after
    what was sent before them, so nothing queued is lost."""
    init = {"type": "init", "params": TINY, "block_hash": BLOCK_HASH, "public_key": PUBLIC_KEY,
            "r_target": R_TARGET, "device": "cpu", "id": 1}
    validate = {"type": "validate", "public_key": PUBLIC_KEY, "nonces": BELOW[:2],
                "dist": [DIST[n] for n in BELOW[:2]], "id": 2}
    lines = [json.dumps(init), json.dumps(validate), "garbage", json.dumps({"type": "generate", "count": 4, "id": 3})]
    proc = subprocess.run([sys.executable, "-m", "gonka_tui.miner.kernel_worker"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    answers = [m for m in map(json.loads, proc.stdout.splitlines()) if m["type"] not in STREAMS]
    assert [(m["type"], m.get("id")) for m in answers] == [
        ("ready", 1), ("validated", 2), ("error", None), ("generating", 3), ("stopped", None)]
    assert answers[1]["n_invalid"] == 0 and not answers[1]["fraud_detected"]
    assert answers[-1]["reason"] == "count"  # a counted run finishes before end of input ends the worker
    batches = [m for m in map(json.loads, proc.stdout.splitlines()) if m["type"] == "batch"]
    assert sum(b["computed"] for b in batches) == 4
