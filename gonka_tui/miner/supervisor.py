"""The kernel supervisor: one kernel worker process per device (gonka_tui.miner.kernel_worker, spoken to
in its JSON-lines protocol), a watchdog that restarts a worker that dies or falls silent, and typed
events for the miner agent. No chain, no keys, no UI: the agent decides what a round is and what to do
with the batches.

Nonce split. The round gives this host's share (node_id of node_count, as an ML node has); inside it
device i of n is group i of n, as the reference's NonceIterator splits an ML node among its GPU groups:
nonce = node_id + i·node_count + k·n·node_count. A device that gives up leaves its share undone rather
than moving the others (their positions would no longer mean anything).

Watchdog. A worker that exits on its own (crash, SIGKILL, OOM) or writes nothing for
`heartbeat_misses` heartbeat intervals (it beats every second) is killed with its process group and
started again after a back-off of 0.5 s doubling per restart inside the window, capped at 5 s. After
`restart_limit` restarts within `restart_window_minutes` the device is given up (state "failed",
KernelGaveUp with the last failure). A worker restarted during a round loads it again and resumes at
the k after the last batch it reported, so finished work is not redone.

Clocks. `clock` (time.monotonic unless a test injects one) dates restarts for the give-up window and
the `since` of each device; heartbeat deadlines and back-off delays run on the event loop's own time.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import math
import os
import signal
import sys
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from gonka_tui.core.errors import InputError
from gonka_tui.poc.nonces import MAX_NONCE, NonceRange
from gonka_tui.poc.params import PocParams

log = logging.getLogger(__name__)

WORKER_COMMAND = (sys.executable, "-m", "gonka_tui.miner.kernel_worker")
DEVICES = ("auto", "cpu", "cuda")
STATES = ("starting", "ready", "generating", "restarting", "failed", "stopped")
BACKOFF_FIRST_S = 0.5
BACKOFF_CAP_S = 5.0
MAX_LINE_BYTES = 64 << 20  # the worker's own input limit; a batch of 65536 valid nonces is ~2 MiB
STDERR_TAIL = 20
MAX_TEXT = 1024


# ----- what the agent gives -----

@dataclass(frozen=True)
class KernelSpec:
    """One device's kernel. `device` is what the worker's init takes (auto, cpu, cuda); a GPU of several
    is chosen with CUDA_VISIBLE_DEVICES in `env` (KernelSpec.cuda(i) does both)."""

    name: str
    command: tuple[str, ...] = WORKER_COMMAND
    device: str = "cpu"
    threads: int | None = None
    batch: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not 1 <= len(self.name) <= 64 or not self.name.isprintable():
            raise InputError(f"kernel name must be 1–64 printable characters, got {self.name!r}"[:200])
        command = tuple(self.command)
        if not command or not all(isinstance(a, str) and a for a in command):
            raise InputError(f"kernel {self.name}: the worker command must be a non-empty list of strings")
        object.__setattr__(self, "command", command)
        if self.device not in DEVICES:
            raise InputError(f"kernel {self.name}: device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        for key, lo, hi in (("threads", 1, 1024), ("batch", 1, 65536)):
            v = getattr(self, key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi):
                raise InputError(f"kernel {self.name}: {key} must be a whole number in {lo}..{hi}, got {v!r}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in dict(self.env).items()):
            raise InputError(f"kernel {self.name}: env must map strings to strings")
        object.__setattr__(self, "env", dict(self.env))

    @classmethod
    def cuda(cls, index: int, **kw: Any) -> "KernelSpec":
        env = {**kw.pop("env", {}), "CUDA_VISIBLE_DEVICES": str(index)}
        return cls(name=f"cuda:{index}", device="cuda", env=env, **kw)


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TEXT:
        raise InputError(f"round: {what} must be a non-empty string of at most {MAX_TEXT} characters")
    return value


@dataclass(frozen=True, eq=False)
class Round:
    """One PoC round as the kernels need it. `resume` maps a device name to the k it starts at (an agent
    restarted mid-round passes what devices() said before). Two rounds with the same `key` are the same
    round: positions carry over."""

    params: Mapping[str, Any] | PocParams
    block_hash: str
    public_key: str
    r_target: float
    node_id: int = 0
    node_count: int = 1
    resume: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        params = self.params if isinstance(self.params, PocParams) else PocParams.from_mapping(self.params)
        object.__setattr__(self, "params", params.to_json())
        _text(self.block_hash, "block_hash")
        _text(self.public_key, "public_key")
        r = self.r_target
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r) or r <= 0:
            raise InputError(f"round: r_target must be a number above 0, got {r!r}"[:200])
        object.__setattr__(self, "r_target", float(r))
        NonceRange(self.node_id, self.node_count)  # the one clear message for a bad share
        resume = dict(self.resume)
        for name, k in resume.items():
            if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= MAX_NONCE:
                raise InputError(f"round: resume position of {name!r} must be a whole number ≥ 0, got {k!r}"[:200])
        object.__setattr__(self, "resume", resume)

    @property
    def key(self) -> tuple:
        return (self.block_hash, self.public_key, self.r_target, self.node_id, self.node_count,
                json.dumps(self.params, sort_keys=True))


# ----- what the agent hears -----

@dataclass(frozen=True)
class KernelStarted:
    name: str
    pid: int


@dataclass(frozen=True)
class KernelReady:
    """The round is loaded (the worker's `ready`)."""
    name: str
    pid: int
    device: str
    dtype: str
    step: int
    next_k: int
    load_s: float


@dataclass(frozen=True)
class Batch:
    """Valid nonces (dist < r_target) of k_start … k_end − 1 of the device's share; `round` is the Round
    they belong to."""
    name: str
    pid: int
    nonces: list[int]
    dist: list[float]
    k_start: int
    k_end: int
    computed: int
    seconds: float
    group_id: int
    group_count: int
    round: Round = field(repr=False, compare=False)


@dataclass(frozen=True)
class Stats:
    name: str
    nonces_per_second: float
    generating: bool
    nonces: int
    valid: int
    next_k: int
    round_nonces: int
    round_valid: int


@dataclass(frozen=True)
class KernelFailed:
    """The worker died or fell silent; it is restarted after `retry_in` seconds."""
    name: str
    reason: str
    restarts: int
    retry_in: float


@dataclass(frozen=True)
class KernelGaveUp:
    name: str
    reason: str
    restarts: int


@dataclass(frozen=True)
class KernelStopped:
    """Generation stopped (reason as the worker gave it: stop, exhausted, error, exit) or, with reason
    "closed", the worker ended because the supervisor closed."""
    name: str
    reason: str
    next_k: int | None


@dataclass(frozen=True)
class KernelLog:
    """Something worth a log line: a malformed line from the worker, an error it answered."""
    name: str
    level: str
    message: str


Event = KernelStarted | KernelReady | Batch | Stats | KernelFailed | KernelGaveUp | KernelStopped | KernelLog


@dataclass(frozen=True)
class DeviceStatus:
    name: str
    pid: int | None
    state: str
    restarts: int
    last_failure: str | None
    nonces_per_second: float
    since: float
    next_k: int
    group_id: int
    device: str | None


# ----- one device -----

class _Kernel:
    def __init__(self, sup: "Supervisor", spec: KernelSpec, index: int) -> None:
        self.sup, self.spec, self.index = sup, spec, index
        self.name = spec.name
        self.proc: asyncio.subprocess.Process | None = None
        self.state = "starting"
        self.since = sup._clock()
        self.restarts = 0
        self.restart_times: deque[float] = deque()
        self.last_failure: str | None = None
        self.nonces_per_second = 0.0
        self.device: str | None = None
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)
        self.failure: str | None = None  # why the current process is being killed
        self.last_error: str | None = None  # the worker's last error line
        self.task: asyncio.Task | None = None
        self.group_open = False  # the worker's process group may still have members: killpg is ours to send
        self._reset_worker_state()
        self.pos_key: tuple | None = None
        self.next_k = 0

    def _reset_worker_state(self) -> None:
        self.loaded: Round | None = None
        self.inflight: tuple[str, str, Round | None] | None = None  # (id, type, round)
        self.generating = False
        self.exhausted_key: tuple | None = None
        self.heard = False

    # --- state ---

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state, self.since = state, self.sup._clock()
        self.sup._changed()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def position(self, rnd: Round) -> int:
        if self.pos_key != rnd.key:
            self.pos_key, self.next_k = rnd.key, rnd.resume.get(self.name, 0)
        return self.next_k

    # --- requests ---

    def send(self, obj: dict) -> bool:
        stdin = self.proc.stdin if self.proc is not None else None
        if stdin is None or stdin.is_closing():
            return False
        try:
            stdin.write(json.dumps(obj, allow_nan=False, separators=(",", ":")).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError, RuntimeError):
            return False  # the reader sees the end of the process
        return True

    def request(self, kind: str, rnd: Round | None = None, **fields: Any) -> None:
        rid = f"{self.name}-{next(self.sup._ids)}"
        if self.send({"type": kind, "id": rid, **fields}):
            self.inflight = (rid, kind, rnd)

    def sync(self) -> None:
        """Send the one request that brings the worker closer to what the supervisor wants."""
        sup = self.sup
        if not self.alive or self.failure is not None or sup._closing or self.inflight is not None:
            return
        want = sup._round
        run = want is not None and not sup._paused
        if self.generating:
            if not run or self.loaded is None or self.loaded.key != want.key:
                self.request("stop")
            return
        if want is None:
            if self.heard and self.state == "starting":
                self.set_state("ready")
            return
        if self.loaded is None or self.loaded.key != want.key:
            self.loaded = None
            r = NonceRange(want.node_id, want.node_count, self.index, len(sup._kernels))
            init = {"params": want.params, "block_hash": want.block_hash, "public_key": want.public_key,
                    "r_target": want.r_target, "device": self.spec.device, "node_id": r.node_id,
                    "node_count": r.node_count, "group_id": r.group_id, "group_count": r.group_count,
                    "start": self.position(want)}
            init.update({k: v for k, v in (("batch", self.spec.batch), ("threads", self.spec.threads))
                         if v is not None})
            self.set_state("starting")
            self.request("init", want, **init)
        elif run and self.exhausted_key != want.key:
            self.request("generate", want, start=self.position(want))

    # --- failures ---

    def fail(self, reason: str) -> None:
        """Kill this worker (and its process group) for `reason`; the life loop restarts it."""
        if self.failure is None and not self.sup._closing:
            self.failure = reason
        self.kill()

    def kill(self) -> None:
        if self.proc is None or not self.group_open:
            return
        try:  # the worker leads its own process group: kernel helpers it spawned go with it
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # --- the worker's lines ---

    def emit(self, event: Event) -> None:
        self.sup._emit(event)

    def on_line(self, raw: bytes) -> None:
        self.heard = True
        try:
            msg = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError):
            msg = None
        kind = msg.get("type") if isinstance(msg, dict) else None
        handler = getattr(self, f"_on_{kind}", None) if isinstance(kind, str) and kind.isidentifier() else None
        if handler is None:
            self.emit(KernelLog(self.name, "warning", f"malformed line from the worker: {raw[:200]!r}"))
            return
        try:
            handler(msg)
        except (KeyError, TypeError, ValueError) as e:
            self.emit(KernelLog(self.name, "warning", f"malformed {kind} line from the worker ({e}): {raw[:200]!r}"))
        self.sync()

    def _answer(self, msg: dict) -> tuple[str, Round | None] | None:
        """The request this answer is for, taken off the in-flight slot (None: not ours)."""
        if self.inflight is None or msg.get("id") != self.inflight[0]:
            return None
        _, kind, rnd = self.inflight
        self.inflight = None
        return kind, rnd

    def _on_heartbeat(self, msg: dict) -> None:
        pass  # being heard is the point; sync() may move a round-less worker to ready

    def _on_ready(self, msg: dict) -> None:
        taken = self._answer(msg)
        if taken is None:
            return
        rnd = taken[1]
        self.loaded, self.generating, self.exhausted_key = rnd, False, None
        self.device = str(msg["device"])
        self.set_state("ready")
        self.emit(KernelReady(self.name, self.proc.pid, self.device, str(msg["dtype"]), int(msg["step"]),
                              int(msg["next_k"]), float(msg["load_s"])))

    def _on_generating(self, msg: dict) -> None:
        if self._answer(msg) is None:
            return
        self.generating = True
        self.set_state("generating")

    def _on_stopped(self, msg: dict) -> None:
        self._answer(msg)
        reason = str(msg.get("reason"))
        if not msg.get("was_generating"):
            self.generating = False
            return
        self.generating = False
        self.nonces_per_second = 0.0
        if self.loaded is not None and isinstance(msg.get("next_k"), int) and self.pos_key == self.loaded.key:
            self.next_k = max(self.next_k, msg["next_k"])
        if reason == "exhausted" and self.loaded is not None:
            self.exhausted_key = self.loaded.key
        self.set_state("ready")
        if not self.sup._closing:
            self.emit(KernelStopped(self.name, reason, msg.get("next_k")))
        if reason == "error" and self.sup._round is not None:
            self.fail("the kernel failed while generating" + self._last_error())

    def _on_batch(self, msg: dict) -> None:
        rnd = self.loaded
        k0, k1 = msg["k_start"], msg["k_end"]
        nonces, dist = msg["nonces"], msg["dist"]
        if not (_is_int(k0) and _is_int(k1) and 0 <= k0 <= k1 and isinstance(nonces, list)
                and isinstance(dist, list) and len(nonces) == len(dist)):
            raise ValueError("bad k range or nonces and dist that do not pair up")
        if rnd is None:
            return
        if self.pos_key == rnd.key:
            self.next_k = max(self.next_k, k1)
        share = NonceRange(rnd.node_id, rnd.node_count, self.index, len(self.sup._kernels))
        keep_n, keep_d = [], []
        for n, d in zip(nonces, dist):
            # never pass on a nonce outside this device's share or not below r_target
            ok = (_is_int(n) and isinstance(d, float) and math.isfinite(d) and d < rnd.r_target
                  and (n - share.offset) % share.step == 0 and k0 <= (n - share.offset) // share.step < k1)
            if ok:
                keep_n.append(n)
                keep_d.append(d)
        if len(keep_n) != len(nonces):
            self.emit(KernelLog(self.name, "warning", f"dropped {len(nonces) - len(keep_n)} nonces of a batch "
                                "that are not valid nonces of this device's share"))
        if self.sup._accepting is not None and self.sup._accepting.key == rnd.key:
            self.emit(Batch(self.name, self.proc.pid, keep_n, keep_d, k0, k1, k1 - k0, float(msg["seconds"]),
                            share.group_id, share.group_count, rnd))

    def _on_stats(self, msg: dict) -> None:
        nps = float(msg["nonces_per_second"])
        self.nonces_per_second = nps if msg["generating"] else 0.0
        self.emit(Stats(self.name, nps, bool(msg["generating"]), int(msg["nonces"]), int(msg["valid"]),
                        int(msg["next_k"]), int(msg["round_nonces"]), int(msg["round_valid"])))

    def _on_error(self, msg: dict) -> None:
        message = str(msg.get("message"))[:500]
        self.emit(KernelLog(self.name, "error", f"the worker said: {message}"))
        self.last_error = message
        taken = self._answer(msg)
        if taken is None:
            return
        kind = taken[0]
        if kind == "init":
            self.fail(f"could not load the round: {message}")
        elif kind == "generate" and "already generating" in message:
            self.generating = True
            self.set_state("generating")
        elif kind == "generate" and "no round" in message:
            self.loaded = None

    def _last_error(self) -> str:
        return f": {self.last_error}" if self.last_error else ""

    # --- the process's life ---

    async def life(self) -> None:
        sup = self.sup
        while not sup._closing:
            reason = await self._run_once()
            if sup._closing:
                return
            self.last_failure = reason
            now = sup._clock()
            window = sup.restart_window_minutes * 60.0
            while self.restart_times and self.restart_times[0] <= now - window:
                self.restart_times.popleft()
            if len(self.restart_times) >= sup.restart_limit:
                self.set_state("failed")
                self.emit(KernelGaveUp(self.name, reason, self.restarts))
                return
            delay = min(BACKOFF_FIRST_S * 2 ** len(self.restart_times), BACKOFF_CAP_S)
            self.restart_times.append(now)
            self.restarts += 1
            self.set_state("restarting")
            self.emit(KernelFailed(self.name, reason, self.restarts, delay))
            await asyncio.sleep(delay)

    async def _run_once(self) -> str:
        """Start the worker and serve it until it ends; returns why it ended."""
        sup = self.sup
        self._reset_worker_state()
        self.failure, self.last_error = None, None
        self.stderr_tail.clear()
        self.nonces_per_second = 0.0
        self.set_state("starting")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.spec.command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env={**os.environ, **self.spec.env}, limit=MAX_LINE_BYTES,
                start_new_session=True)  # its own group: killed with its helpers; the terminal's ^C is ours
        except OSError as e:
            return f"could not start the worker: {e}"
        proc = self.proc
        self.group_open = True
        if sup._closing:  # close() ran while this one was starting
            self.kill()
            await proc.wait()
            self.group_open = False
            return "closed"
        self.emit(KernelStarted(self.name, proc.pid))
        self.sync()
        err_task = asyncio.create_task(self._drain_stderr(proc))
        try:
            await self._read(proc)
            await proc.wait()
            try:  # the last stderr lines say why it died
                await asyncio.wait_for(asyncio.shield(err_task), 1.0)
            except asyncio.TimeoutError:
                pass
        finally:
            err_task.cancel()
            self.kill()  # stray helpers of a worker that died
            if proc.returncode is not None:
                self.group_open = False  # from here on the id may be anyone's
        self.generating, self.inflight = False, None
        if self.failure is not None:
            return self.failure
        return _exit_reason(proc.returncode) + (f" ({self.stderr_tail[-1]})" if self.stderr_tail else "")

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        sup = self.sup
        while True:
            timeout = sup.heartbeat_timeout if self.heard else sup.startup_timeout
            try:
                raw = await asyncio.wait_for(proc.stdout.readline(), timeout)
            except asyncio.TimeoutError:
                if sup._closing:
                    continue
                self.fail(f"silent for {timeout:g} s ({sup.heartbeat_misses} heartbeats missed)" if self.heard
                          else f"no heartbeat within {timeout:g} s of starting")
                return
            except ValueError:  # a line over the limit: dropped, the stream goes on
                self.emit(KernelLog(self.name, "warning", f"dropped a line longer than {MAX_LINE_BYTES >> 20} MiB"))
                continue
            if not raw:
                return
            if raw.strip():
                self.on_line(raw)

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").strip()
            if line:
                self.stderr_tail.append(line[:300])

    def status(self) -> DeviceStatus:
        return DeviceStatus(self.name, self.proc.pid if self.proc is not None else None, self.state, self.restarts,
                            self.last_failure, self.nonces_per_second, self.since, self.next_k, self.index,
                            self.device)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


# ----- the supervisor -----

_live: "weakref.WeakSet[Supervisor]" = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    for sup in list(_live):
        sup.kill_now()


class Supervisor:
    """Starts one worker per spec (on the first start_round, or with start()). `on_event` gets every
    event in order, called from the event loop: keep it quick (put the event on a queue). Use
    `async with`, or call close(): either way no worker outlives the supervisor."""

    def __init__(self, specs: Sequence[KernelSpec], *, on_event: Callable[[Event], Any],
                 restart_limit: int = 5, restart_window_minutes: float = 10, heartbeat_interval: float = 1.0,
                 heartbeat_misses: int = 3, startup_timeout: float = 30.0, stop_timeout: float = 10.0,
                 exit_grace: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        specs = list(specs)
        if not specs:
            raise InputError("the supervisor needs at least one kernel")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise InputError(f"kernel names must differ, got {', '.join(names)}")
        for key, v in (("restart_limit", restart_limit), ("heartbeat_misses", heartbeat_misses)):
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if key == "restart_limit" else 1):
                raise InputError(f"{key} must be a whole number ≥ {0 if key == 'restart_limit' else 1}, got {v!r}")
        for key, v in (("restart_window_minutes", restart_window_minutes), ("heartbeat_interval", heartbeat_interval),
                       ("startup_timeout", startup_timeout), ("stop_timeout", stop_timeout),
                       ("exit_grace", exit_grace)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise InputError(f"{key} must be a number above 0, got {v!r}")
        self.restart_limit, self.restart_window_minutes = restart_limit, float(restart_window_minutes)
        self.heartbeat_interval, self.heartbeat_misses = float(heartbeat_interval), heartbeat_misses
        self.heartbeat_timeout = self.heartbeat_interval * heartbeat_misses
        self.startup_timeout, self.stop_timeout, self.exit_grace = startup_timeout, stop_timeout, exit_grace
        self._on_event, self._clock = on_event, clock
        self._ids = iter(range(1, 1 << 62))
        self._round: Round | None = None  # what the kernels should have loaded
        self._accepting: Round | None = None  # whose batches are passed on
        self._paused = False
        self._closing = False  # no restarts, no new requests
        self._closed = False
        self._started = False
        self._version = 0
        self._wake: asyncio.Event | None = None
        self._events: deque[Event] = deque()
        self._delivering = False
        self._kernels = [_Kernel(self, spec, i) for i, spec in enumerate(specs)]
        _live.add(self)

    # --- lifetime ---

    async def __aenter__(self) -> "Supervisor":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the workers (start_round does it too)."""
        if self._closing:
            raise RuntimeError("the supervisor is closed")
        if self._started:
            return
        self._started = True
        self._wake = asyncio.Event()
        for k in self._kernels:
            k.task = asyncio.create_task(k.life(), name=f"kernel {k.name}")

    async def close(self) -> None:
        """Ask every worker to exit, kill what is left after `exit_grace` seconds, wait for all of it."""
        if self._closed:
            return
        self._closing = True
        self._round = self._accepting = None
        try:
            for k in self._kernels:
                if k.alive and k.send({"type": "exit"}):
                    k.proc.stdin.close()
            procs = [k.proc for k in self._kernels if k.alive]
            if procs:
                await asyncio.wait([asyncio.ensure_future(p.wait()) for p in procs], timeout=self.exit_grace)
            for k in self._kernels:
                k.kill()  # the stubborn ones, and any helpers of the others
            tasks = [k.task for k in self._kernels if k.task is not None and not k.task.done()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for p in procs:
                await p.wait()
        except BaseException:  # cancelled mid-close: nothing may be left behind all the same
            self.kill_now()
            raise
        finally:
            _live.discard(self)
        self._closed = True
        for k in self._kernels:
            if k.state not in ("stopped", "failed"):  # a device given up stays so: its last failure says why
                k.set_state("stopped")
                self._emit(KernelStopped(k.name, "closed", k.next_k))

    def kill_now(self) -> None:
        """SIGKILL every worker's process group at once (no waiting): the last resort of atexit and __del__."""
        self._closing = True
        for k in self._kernels:
            k.kill()

    def __del__(self) -> None:
        if any(k.proc is not None and k.proc.returncode is None for k in getattr(self, "_kernels", ())):
            self.kill_now()

    # --- rounds ---

    async def start_round(self, rnd: Round) -> None:
        """Load `rnd` on every device and generate; returns once the requests are sent (loading a big
        preset takes minutes: KernelReady and Batch events follow). A round running before is stopped."""
        if not isinstance(rnd, Round):
            raise InputError("start_round needs a Round")
        if self._closing:
            raise RuntimeError("the supervisor is closed")
        if len(self._kernels) > 1 << 31:
            raise InputError("too many kernels for the nonce split")
        await self.start()
        if self._round is not None and self._round.key != rnd.key:
            await self.stop_round()
        self._round = self._accepting = rnd
        self._sync_all()

    async def stop_round(self) -> None:
        """Stop generating (the processes stay, the round is dropped); no Batch follows once this returns."""
        self._round = None
        await self._settle()
        self._accepting = None

    async def pause(self) -> None:
        """Stop generating but keep the round; resume() goes on from where each device stopped."""
        self._paused = True
        await self._settle()
        self._accepting = None

    async def resume(self) -> None:
        self._paused = False
        self._accepting = self._round
        self._sync_all()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def round(self) -> Round | None:
        return self._round

    async def _settle(self) -> None:
        """Bring every live worker to a standstill; one that does not stop in time is killed (and restarted
        without generating)."""
        self._sync_all()
        loop = asyncio.get_running_loop()
        end = loop.time() + self.stop_timeout

        def busy() -> list[_Kernel]:
            return [k for k in self._kernels if k.alive and k.failure is None and (k.generating or (
                k.inflight is not None and k.inflight[1] in ("generate", "stop")))]

        while (left := busy()) and self._wake is not None:
            remaining = end - loop.time()
            if remaining <= 0:
                for k in left:
                    k.fail(f"did not stop generating within {self.stop_timeout:g} s")
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def _sync_all(self) -> None:
        for k in self._kernels:
            k.sync()

    # --- status and events ---

    def devices(self) -> list[DeviceStatus]:
        return [k.status() for k in self._kernels]

    def _changed(self) -> None:
        self._version += 1
        if self._wake is not None:
            self._wake.set()

    def _emit(self, event: Event) -> None:
        self._events.append(event)
        if self._delivering:  # an event raised while delivering one: delivered after it, in order
            return
        self._delivering = True
        try:
            while self._events:
                ev = self._events.popleft()
                try:
                    self._on_event(ev)
                except Exception:
                    log.exception("the supervisor's event handler failed on %s", type(ev).__name__)
        finally:
            self._delivering = False
        self._changed()
