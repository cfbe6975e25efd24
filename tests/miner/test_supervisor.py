"""The kernel supervisor with real worker subprocesses and tiny params: the nonce split, the watchdog
(crash, hang, give-up), pause and stop, and that nothing outlives it. Every wait is on an event with
a deadline."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import pytest

from gonka_tui.core.errors import InputError
from gonka_tui.miner.supervisor import (Batch, KernelFailed, KernelGaveUp, KernelLog, KernelReady, KernelSpec,
                                        KernelStarted, KernelStopped, Round, Supervisor)
from gonka_tui.poc.backends import cuda_available
from tests.poc.conftest import KNOWN_ANSWERS

try:
    import psutil
except ImportError:  # optional: the checks fall back to os.kill
    psutil = None

CASE = next(c for c in KNOWN_ANSWERS["cases"] if c["preset"] == "tiny" and c["weight_scale"] == 1
            and c["nonces"] == "0-15")
TINY, BLOCK_HASH, PUBLIC_KEY = CASE["params"], CASE["block_hash"], CASE["public_key"]
DIST = dict(enumerate(CASE["dist"]))  # nonce -> the reference's distance
_sorted = sorted(DIST.values())
R_TARGET = (_sorted[7] + _sorted[8]) / 2  # half of the 16 pass
DEADLINE = 20.0
EXIT_AT_ONCE = (sys.executable, "-c", "raise SystemExit(3)")


class Events:
    """on_event for the supervisor: every event kept, waited on with deadlines."""

    def __init__(self) -> None:
        self.seen: list = []
        self._changed = asyncio.Event()
        self.hooks: list = []

    def __call__(self, event) -> None:
        self.seen.append(event)
        for hook in self.hooks:
            hook(event)
        self._changed.set()

    def mark(self) -> int:
        return len(self.seen)

    async def next(self, pred, *, after: int = 0, timeout: float = DEADLINE, what: str = "the event"):
        """The first event from index `after` on that satisfies pred."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        i = after
        while True:
            while i < len(self.seen):
                if pred(self.seen[i]):
                    return self.seen[i]
                i += 1
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), max(0.0, end - loop.time()))
            except asyncio.TimeoutError:
                raise AssertionError(f"no {what} within {timeout} s; last events: {self.seen[-5:]}") from None

    async def count(self, pred, n: int, *, after: int = 0, timeout: float = DEADLINE, what: str = "events"):
        """Wait until n events from `after` on satisfy pred; returns them."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            got = [e for e in self.seen[after:] if pred(e)]
            if len(got) >= n:
                return got
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), max(0.0, end - loop.time()))
            except asyncio.TimeoutError:
                raise AssertionError(f"only {len(got)} of {n} {what} within {timeout} s") from None

    def batches(self, name: str | None = None, *, after: int = 0) -> list[Batch]:
        return [e for e in self.seen[after:] if isinstance(e, Batch) and (name is None or e.name == name)]


def is_batch(name: str, pid: int | None = None):
    return lambda e: isinstance(e, Batch) and e.name == name and (pid is None or e.pid == pid)


def tiny_round(**kw) -> Round:
    return Round(TINY, kw.pop("block_hash", BLOCK_HASH), kw.pop("public_key", PUBLIC_KEY), R_TARGET, **kw)


def _live_processes() -> dict[int, int]:
    """pid -> process group of every process that is not a zombie (a killed helper may wait a moment
    for init to reap it: dead all the same)."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
            if fields[0] not in ("Z", "X"):
                out[int(entry)] = int(fields[2])
    return out


def gone(pid: int) -> bool:
    """No live process with this id, and none left in its group (the workers lead their own)."""
    live = _live_processes()
    return pid not in live and pid not in live.values()


@pytest.fixture
async def make():
    made: list[Supervisor] = []

    def factory(specs, **kw):
        events = Events()
        sup = Supervisor(specs, on_event=events, **{"exit_grace": 1.0, **kw})
        made.append(sup)
        return sup, events

    yield factory
    for sup in made:
        await sup.close()


async def test_each_device_mines_its_own_share_with_valid_distances(make):
    sup, ev = make([KernelSpec("cpu:0", batch=8), KernelSpec("cpu:1", batch=8)])
    await sup.start_round(tiny_round(node_id=1, node_count=2))  # this host: the odd nonces
    for name in ("cpu:0", "cpu:1"):
        await ev.count(is_batch(name), 4, what=f"batches of {name}")
    ready = {e.name: e for e in ev.seen if isinstance(e, KernelReady)}
    assert {n: (r.device, r.step, r.next_k) for n, r in ready.items()} == {"cpu:0": ("cpu", 8, 0),
                                                                           "cpu:1": ("cpu", 8, 0)}

    seen_nonces: list[int] = []
    for group, name in enumerate(("cpu:0", "cpu:1")):
        batches = ev.batches(name)
        # device g of 2 on node 1 of 2: nonce = 1 + 2g + 4k, k counted without gaps or repeats
        assert batches[0].k_start == 0
        assert all(a.k_end == b.k_start for a, b in zip(batches, batches[1:]))
        for b in batches:
            assert (b.group_id, b.group_count, b.computed) == (group, 2, b.k_end - b.k_start)
            assert len(b.nonces) == len(b.dist) and all(d < R_TARGET for d in b.dist)
            assert all(n % 4 == 1 + 2 * group and b.k_start <= n // 4 < b.k_end for n in b.nonces)
            seen_nonces += b.nonces
        # the first batch covers nonces up to 31: those with a reference distance are exactly the passing ones
        first = dict(zip(batches[0].nonces, batches[0].dist))
        share = [n for n in range(16) if n % 4 == 1 + 2 * group]
        assert sorted(n for n in first if n < 16) == [n for n in share if DIST[n] < R_TARGET]
        assert all(abs(first[n] - DIST[n]) < 1e-6 for n in first if n < 16)
    assert len(seen_nonces) == len(set(seen_nonces)) > 0  # the two devices never overlap
    assert all(d.state == "generating" and d.restarts == 0 for d in sup.devices())


async def test_pause_resume_and_stop_round(make):
    sup, ev = make([KernelSpec("a", batch=8), KernelSpec("b", batch=8)])
    first = tiny_round()
    await sup.start_round(first)
    for name in ("a", "b"):
        await ev.count(is_batch(name), 2, what=f"batches of {name}")

    await sup.pause()
    paused_at = {d.name: d.next_k for d in sup.devices()}
    assert all(d.state == "ready" and d.nonces_per_second == 0 for d in sup.devices()), sup.devices()
    for name in ("a", "b"):  # the last batch before the pause ends where the device stands
        assert ev.batches(name)[-1].k_end == paused_at[name]
    mark = ev.mark()
    await sup.resume()
    for name in ("a", "b"):  # resume goes on from there: nothing redone, nothing skipped
        b = await ev.next(is_batch(name), after=mark, what=f"a batch of {name} after resume")
        assert b.k_start == paused_at[name] and b.round is first

    await sup.stop_round()
    stopped = [e for e in ev.seen[mark:] if isinstance(e, KernelStopped)]
    assert sorted(e.name for e in stopped) == ["a", "b"] and {e.reason for e in stopped} == {"stop"}
    assert all(d.state == "ready" for d in sup.devices())
    mark = ev.mark()

    # A new round (an agent restarted mid-round passes where each device was): after stop_round returned,
    # every batch is the new round's, and device a starts where it was told to.
    second = tiny_round(public_key="03" + "22" * 32, resume={"a": 40})
    await sup.start_round(second)
    got = {}
    for name in ("a", "b"):
        got[name] = await ev.next(is_batch(name), after=mark, what=f"a batch of {name} in the second round")
    assert (got["a"].k_start, got["b"].k_start) == (40, 0)
    assert all(b.round is second for b in ev.batches(after=mark))
    assert all(n % 2 == 0 for b in ev.batches("a", after=mark) for n in b.nonces)


async def test_sigkilled_worker_is_restarted_within_5_s_and_resumes_its_position(make):
    sup, ev = make([KernelSpec("a", batch=8), KernelSpec("b", batch=8)])
    await sup.start_round(tiny_round())
    await ev.count(is_batch("a"), 3, what="batches of a")
    old = next(d.pid for d in sup.devices() if d.name == "a")
    other = next(d.pid for d in sup.devices() if d.name == "b")
    mark = ev.mark()
    killed = time.monotonic()
    os.kill(old, signal.SIGKILL)

    failed = await ev.next(lambda e: isinstance(e, KernelFailed) and e.name == "a", after=mark)
    assert "SIGKILL" in failed.reason and failed.restarts == 1 and failed.retry_in == 0.5
    started = await ev.next(lambda e: isinstance(e, KernelStarted) and e.name == "a", after=mark)
    assert started.pid != old and time.monotonic() - killed < 5.0
    last_old = ev.batches("a")[-1] if ev.batches("a")[-1].pid == old else None
    old_end = max(b.k_end for b in ev.batches("a") if b.pid == old)
    new = await ev.next(is_batch("a", started.pid), after=mark, what="a batch from the restarted worker")
    assert new.k_start == old_end, (last_old, new)  # the work done before the crash is not redone
    assert gone(old)

    a, b = sup.devices()
    assert (a.state, a.restarts, a.pid) == ("generating", 1, started.pid) and "SIGKILL" in a.last_failure
    assert (b.pid, b.restarts) == (other, 0)  # the other device never noticed
    nonces = [n for x in ev.batches() for n in x.nonces]
    assert len(nonces) == len(set(nonces))


async def test_hung_worker_is_killed_after_3_missed_heartbeats_and_restarted(make):
    sup, ev = make([KernelSpec("a", batch=8)])
    await sup.start_round(tiny_round())
    await ev.count(is_batch("a"), 2, what="batches")
    old = sup.devices()[0].pid
    mark = ev.mark()
    hung = time.monotonic()
    os.kill(old, signal.SIGSTOP)  # alive, silent

    failed = await ev.next(lambda e: isinstance(e, KernelFailed), after=mark)
    detected = time.monotonic()
    assert failed.reason.startswith("silent for 3 s") and "3 heartbeats" in failed.reason
    assert 2.5 <= detected - hung < 6.0  # three 1 s heartbeats missed, not fewer
    started = await ev.next(lambda e: isinstance(e, KernelStarted), after=mark)
    assert started.pid != old and time.monotonic() - detected < 5.0
    old_end = max(b.k_end for b in ev.batches("a") if b.pid == old)
    new = await ev.next(is_batch("a", started.pid), after=mark, what="a batch after the restart")
    assert new.k_start == old_end
    assert gone(old)  # a stopped process is killed, not left frozen
    assert sup.devices()[0].restarts == 1


async def test_gives_up_after_restart_limit_restarts_in_the_window(make):
    sup, ev = make([KernelSpec("broken", command=EXIT_AT_ONCE), KernelSpec("good")], restart_limit=2)
    await sup.start()
    gave_up = await ev.next(lambda e: isinstance(e, KernelGaveUp))
    assert gave_up.name == "broken" and gave_up.reason == "exited with code 3" and gave_up.restarts == 2
    failures = [e for e in ev.seen if isinstance(e, KernelFailed)]
    assert [(e.name, e.restarts, e.retry_in) for e in failures] == [("broken", 1, 0.5), ("broken", 2, 1.0)]
    assert len([e for e in ev.seen if isinstance(e, KernelStarted) and e.name == "broken"]) == 3
    broken = sup.devices()[0]
    assert (broken.state, broken.restarts, broken.last_failure) == ("failed", 2, "exited with code 3")

    # The other device is unaffected and still mines; the failed one stays failed.
    mark = ev.mark()
    await sup.start_round(tiny_round())
    b = await ev.next(is_batch("good"), after=mark)
    assert b.group_count == 2 and all(n % 2 == 1 for n in b.nonces)  # its share stays its own
    assert sup.devices()[0].state == "failed"
    assert not any(isinstance(e, KernelStarted) and e.name == "broken" for e in ev.seen[mark:])


async def test_restarts_older_than_the_window_do_not_count(make):
    now = [1000.0]
    sup, ev = make([KernelSpec("broken", command=EXIT_AT_ONCE)], restart_limit=1, restart_window_minutes=10,
                   clock=lambda: now[0])
    # Eleven minutes pass between two crashes: each is the only one in its window.
    ev.hooks.append(lambda e: now.__setitem__(0, now[0] + 11 * 60) if isinstance(e, KernelFailed) else None)
    await sup.start()
    failures = await ev.count(lambda e: isinstance(e, KernelFailed), 3, what="restarts")
    assert [e.retry_in for e in failures[:3]] == [0.5] * 3  # the back-off starts over too
    assert not any(isinstance(e, KernelGaveUp) for e in ev.seen)
    assert sup.devices()[0].state in ("restarting", "starting")


async def test_a_device_whose_round_cannot_load_is_given_up(make):
    if cuda_available():
        pytest.skip("this machine has a GPU: the CUDA kernel would load")
    sup, ev = make([KernelSpec("gpu", device="cuda")], restart_limit=0)
    await sup.start_round(tiny_round())
    gave_up = await ev.next(lambda e: isinstance(e, KernelGaveUp))
    assert gave_up.reason.startswith("could not load the round: init: could not build the kernel")
    assert any(isinstance(e, KernelLog) and e.level == "error" for e in ev.seen)
    assert sup.devices()[0].state == "failed" and gone(sup.devices()[0].pid)


NOISY = (sys.executable, "-c",
         "import os, sys; os.write(1, b'not json\\n[1, 2]\\n{\"type\": \"bogus\"}\\n{\"type\": \"batch\"}\\n'); "
         "os.execv(sys.executable, [sys.executable, '-m', 'gonka_tui.miner.kernel_worker'])")


async def test_malformed_lines_are_logged_and_the_worker_goes_on(make):
    sup, ev = make([KernelSpec("noisy", command=NOISY, batch=8)])
    await sup.start_round(tiny_round())
    await ev.count(is_batch("noisy"), 2, what="batches")
    logs = [e for e in ev.seen if isinstance(e, KernelLog)]
    assert len(logs) == 4 and all(e.level == "warning" and "malformed" in e.message for e in logs)
    assert "not json" in logs[0].message and "batch" in logs[3].message
    assert not any(isinstance(e, KernelFailed) for e in ev.seen)
    assert sup.devices()[0].restarts == 0


def _family(pid: int) -> list[int]:
    if psutil is None:
        return [pid]
    return [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]


async def test_close_leaves_no_process_behind_even_a_frozen_one(make):
    # threads=2: the CPU kernel runs a helper process per extra core; those must go too.
    sup, ev = make([KernelSpec("a", batch=8, threads=2), KernelSpec("b", batch=8)], exit_grace=0.5)
    await sup.start_round(tiny_round())
    for name in ("a", "b"):
        await ev.next(is_batch(name), what=f"a batch of {name}")
    pids = [d.pid for d in sup.devices()]
    family = [p for pid in pids for p in _family(pid)]
    if psutil is not None:
        assert len(family) >= 3  # a's helper is there to be cleaned up
    os.kill(pids[1], signal.SIGSTOP)  # it cannot answer exit: close must kill it
    await sup.close()
    assert all(gone(p) for p in family), [p for p in family if not gone(p)]
    assert [d.state for d in sup.devices()] == ["stopped", "stopped"]
    closed = [e for e in ev.seen if isinstance(e, KernelStopped) and e.reason == "closed"]
    assert sorted(e.name for e in closed) == ["a", "b"]
    assert not any(isinstance(e, (KernelFailed, KernelStarted)) for e in ev.seen[ev.seen.index(closed[0]):])


async def test_cancelling_the_task_that_owns_the_supervisor_ends_its_workers():
    ev = Events()
    pids: list[int] = []

    async def owner() -> None:
        async with Supervisor([KernelSpec("a", batch=8)], on_event=ev, exit_grace=0.5) as sup:
            await sup.start_round(tiny_round())
            await ev.next(is_batch("a"))
            pids.extend(d.pid for d in sup.devices())
            await asyncio.Event().wait()  # mines until cancelled

    task = asyncio.create_task(owner())
    await ev.next(is_batch("a"))
    await ev.next(lambda e: pids)  # the owner has read the pids
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pids and all(gone(p) for p in pids)


async def test_kill_now_is_the_synchronous_last_resort(make):
    sup, ev = make([KernelSpec("a")])
    await sup.start()
    started = await ev.next(lambda e: isinstance(e, KernelStarted))
    sup.kill_now()  # what atexit and __del__ call: no await, no restart afterwards
    await sup.close()
    assert gone(started.pid)
    assert not any(isinstance(e, KernelFailed) for e in ev.seen)


@pytest.mark.parametrize("change, words", [
    ({"params": {**TINY, "dim": 66}}, "multiple of n_heads"),
    ({"r_target": 0}, "r_target"),
    ({"r_target": float("nan")}, "r_target"),
    ({"block_hash": ""}, "block_hash"),
    ({"node_id": 2, "node_count": 2}, "node_id"),
    ({"resume": {"a": -1}}, "resume"),
])
def test_a_bad_round_is_one_clear_error(change, words):
    fields = {"params": TINY, "block_hash": BLOCK_HASH, "public_key": PUBLIC_KEY, "r_target": R_TARGET, **change}
    with pytest.raises(InputError, match=words):
        Round(**fields)


def test_bad_specs_and_settings_are_refused():
    with pytest.raises(InputError, match="device"):
        KernelSpec("x", device="tpu")
    with pytest.raises(InputError, match="differ"):
        Supervisor([KernelSpec("x"), KernelSpec("x")], on_event=print)
    with pytest.raises(InputError, match="restart_limit"):
        Supervisor([KernelSpec("x")], on_event=print, restart_limit=-1)
    spec = KernelSpec.cuda(1)
    assert (spec.name, spec.device, spec.env["CUDA_VISIBLE_DEVICES"]) == ("cuda:1", "cuda", "1")
