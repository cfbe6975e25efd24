"""The kernel worker: one process per device that computes PoC v1 distances for the miner agent,
speaking JSON lines. Run as `python -m gonka_tui.miner.kernel_worker` (no arguments).

Protocol 1 reference
====================

Framing. Requests arrive on stdin, answers leave on stdout: one JSON object per line (UTF-8, "\\n"
ends it), every output line flushed as it is written and never interleaved with another. Nothing
else is ever written to stdout (the worker points file descriptor 1 at stderr at start, so a stray
print or a library's output cannot corrupt the stream); diagnostics and tracebacks go to stderr only.
Blank input lines are ignored. NaN and Infinity are not JSON: they are refused in input and never
sent. Floats are float64 written in full (Python's repr): a distance read back is bit for bit the
one computed. Nonces and k indices are integers in 0 … 2**63 − 1.

Order. The worker answers every request except `exit` with exactly one answer line (`ready`,
`generating`, `validated`, `stopped` or `error`), in the order the requests arrived: requests are
queued and carried out one at a time. Between requests the worker generates (when told to), one
batch at a time; a queued request is taken before the next batch, so `validate` overtakes
generation but never a request sent before it. `batch`, `stats` and `heartbeat` are streamed
between the answers. Every request may carry an "id" (a string of up to 256 characters or an
integer); its answer, `error` included, echoes it as "id" (null when the request had none).

Requests (stdin)
----------------
{"type": "init", ...}: load a round (the model of a block hash) and answer `ready`.
    Exactly one of
      "preset": str            a name from gonka_tui.poc.presets (cpu, testnet, mainnet)
      "params": object         the keys of PocParams (dim, n_layers, n_heads, n_kv_heads, vocab_size,
                               ffn_dim_multiplier, multiple_of, norm_eps, rope_theta, use_scaled_rope
                               (optional, false), seq_len), checked by PocParams.from_mapping
    "block_hash": str          required, 1–1024 characters, used verbatim in every seed
    "public_key": str          required, 1–1024 characters, used verbatim: whose nonces `generate` computes
    "r_target": float          > 0; a nonce is valid iff dist < r_target (strict). Default: the
                               preset's; required with "params"
    "weight_scale": float      > 0, default 1 (a test knob: every weight × it; 1 in the protocol)
    "node_id", "node_count", "group_id", "group_count": int
                               the share of the nonce space (gonka_tui.poc.nonces.NonceRange):
                               nonce(k) = node_id + group_id·node_count + k·group_count·node_count;
                               defaults 0, 1, 0, 1
    "batch": int               1–65536, nonces per kernel call (default: the kernel's, 64 on the CPU)
    "threads": int             1–1024, CPU kernel threads (default 1; ignored on CUDA)
    "device": str              "auto" (default: CUDA when torch sees a GPU, else the CPU), "cpu", "cuda"
    "start": int               the k to generate from (to resume a round), default 0
  Building the kernel can take minutes for the big presets (heartbeats go on meanwhile). The current
  round, if any, is dropped when an init is taken; an init while generating is refused (error: send
  stop first). When the build fails the answer is an error and no round is loaded. Requests sent
  during a build wait for it; to abandon a build, send exit (or end the process).

{"type": "generate", "start"?: int, "count"?: int}: start generating and answer `generating`.
    "start"                    the k to begin at; default: where the round's last run stopped
                               (init's "start" for the first run)
    "count"                    stop after this many nonces (k values), 1 … 2**63 − 1; default: until `stop`
  The run computes nonce(k) for k = start, start + 1, … in batches of `step` nonces (see `ready`) and
  sends one `batch` per kernel call, then `stopped` when it ends by itself (count reached, or the
  nonce space exhausted). Errors: no round loaded; already generating.

{"type": "validate", "public_key": str, "nonces": [int], "dist": [float], "r_target"?: float,
 "fraud_threshold"?: float}: recompute another host's nonces and answer `validated`.
    "public_key"               that host's key, verbatim, 1–1024 characters (block hash and params: the round's)
    "nonces", "dist"           the nonces and the distances that host claimed: same length, at most
                               1,000,000; each dist a finite number
    "r_target"                 > 0, default the round's
    "fraud_threshold"          0 … 1, default 1e-7 (what the API node sends)
  Judged by gonka_tui.poc.validation.validate: a nonce is invalid when its recomputed distance is
  above r_target or its claimed distance is not below it; fraud when P(≥ n_invalid | honest, p =
  5e-4) < fraud_threshold. Errors: no round loaded; bad fields.

{"type": "stop"}: end the current run (after the batch being computed) and answer `stopped`; also
  answered when nothing runs. The round stays loaded; a later generate resumes from "next_k".

{"type": "exit"}: exit with code 0 once every request before it is answered: a run with a "count"
  finishes first (its `stopped` says "count"); an open-ended run ends after its current batch with
  `stopped`, reason "exit". No answer of its own. End of file on
  stdin does the same, so `printf '…' | python -m gonka_tui.miner.kernel_worker` answers every line.
  To abandon a request in progress (a long build), end the process (SIGTERM).

Answers and streams (stdout)
----------------------------
ready       {"type", "id", "protocol": 1, "device": "cpu"|"cuda", "dtype": str (the kernel's
             arithmetic: "float32" on the CPU, "float16" on CUDA), "batch": int (nonces per kernel
             call), "threads": int (CPU kernel threads; 1 on CUDA), "step": int (nonces per `batch`
             message: batch × threads on the CPU, batch on CUDA), "preset": str|null, "params":
             object (PocParams.to_json, as used), "r_target": float, "weight_scale": float,
             "block_hash": str, "public_key": str, "node_id", "node_count", "group_id",
             "group_count": int, "next_k": int (where generate starts by default),
             "flops_per_nonce": int, "load_s": float (build time)}
generating  {"type", "id", "start_k": int, "count": int|null, "step": int}
batch       {"type", "k_start": int, "k_end": int (exclusive): the k computed, all of them;
             "computed": k_end − k_start, "nonces": [int] only the valid ones (dist < r_target),
             in k order, "dist": [float] their distances, "seconds": float (kernel time)}
             Resume a round by sending generate with start = the last batch's k_end.
stats       {"type", "generating": bool (false in a run's last), "nonces": int, "valid": int (this run so far),
             "elapsed_s": float (since this run began), "nonces_per_second": float (over the last
             "window_s" seconds of batches; 0 before the first), "window_s": float, "next_k": int,
             "round_nonces": int, "round_valid": int (since init)}
             Every second while generating, and once more when a run ends (just before `stopped`).
validated   {"type", "id", "public_key": str, "nonces": [int], "received_dist": [float] (as claimed),
             "dist": [float] (recomputed), "r_target": float, "fraud_threshold": float,
             "n_invalid": int, "probability_honest": float, "fraud_detected": bool, "seconds": float}
stopped     {"type", "id" (null when the run ended by itself), "reason": "stop"|"count"|"exhausted"|"exit"
             |"error", "was_generating": bool, "next_k": int|null (null: no round), "nonces": int,
             "valid": int, "elapsed_s": float (this run; 0 when nothing ran)}
             No `batch` of that run follows it.
heartbeat   {"type", "protocol": 1, "pid": int, "state": "empty"|"loading"|"idle"|"generating",
             "uptime_s": float, "queued": int (requests waiting)}
             At start and then every second, also while a batch or an init computes.
error       {"type", "message": str (one line for a person), "request": str|null (the type of the
             offending request, as sent; null when the line had none: not JSON, not an object, no
             string type), "id"}
             Sent for: a line that is not JSON or not an object, a line over 64 MiB, an unknown
             type, an unknown or malformed field, init while generating, generate or validate
             before a round is loaded, generate while generating, a kernel that fails (a generate
             that fails is followed by `stopped` with reason "error"). The worker keeps running.

Lifetime. The worker exits with code 0 on `exit`, on end of file on stdin, when its stdout is
closed, and when its parent dies (its parent process id changes; checked four times a second). It
ignores SIGINT (Ctrl-C in the agent's terminal): the agent decides when it ends.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import BinaryIO, Union

import numpy as np

from gonka_tui.core.errors import InputError
from gonka_tui.poc import presets
from gonka_tui.poc.nonces import MAX_NONCE, NonceRange
from gonka_tui.poc.params import PocParams
from gonka_tui.poc.validation import FRAUD_THRESHOLD, validate

PROTOCOL = 1
HEARTBEAT_S = 1.0
PARENT_CHECK_S = 0.25
RATE_WINDOW_S = 10.0
MAX_LINE_BYTES = 64 << 20
MAX_VALIDATE_NONCES = 1_000_000
MAX_TEXT = 1024
MAX_ID = 256
DEVICES = ("auto", "cpu", "cuda")
TYPES = ("init", "generate", "validate", "stop", "exit")
INIT_FIELDS = ("preset", "params", "block_hash", "public_key", "r_target", "weight_scale", "node_id", "node_count",
               "group_id", "group_count", "batch", "threads", "device", "start")


def log(message: str) -> None:
    print(f"kernel_worker[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


# ----- requests: parsed and checked on arrival, carried out in turn -----

class RequestError(InputError):
    pass


@dataclass(frozen=True)
class Init:
    params: PocParams
    preset: str | None
    block_hash: str
    public_key: str
    r_target: float
    weight_scale: float
    nonce_range: NonceRange
    batch: int | None
    threads: int | None
    device: str
    start: int
    id: object = None


@dataclass(frozen=True)
class Generate:
    start: int | None
    count: int | None
    id: object = None


@dataclass(frozen=True)
class Validate:
    public_key: str
    nonces: tuple[int, ...]
    dist: tuple[float, ...]
    r_target: float | None
    fraud_threshold: float
    id: object = None


@dataclass(frozen=True)
class Stop:
    id: object = None


@dataclass(frozen=True)
class Exit:
    id: object = None


@dataclass(frozen=True)
class Invalid:
    """A line that could not be taken: answered with an error in its turn."""
    message: str
    request: str | None = None
    id: object = None


Request = Union[Init, Generate, Validate, Stop, Exit, Invalid]


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _whole(data: dict, kind: str, key: str, default: int | None, lo: int, hi: int) -> int | None:
    v = data.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise RequestError(f"{kind}: {key} must be a whole number, got {v!r}"[:300])
    if not lo <= v <= hi:
        raise RequestError(f"{kind}: {key} must be between {lo} and {hi}, got {v}")
    return v


def _number(data: dict, kind: str, key: str, default: float | None, *, positive: bool = True,
            at_most: float = math.inf) -> float | None:
    """A finite number, above 0 (positive) or at least 0, and at most `at_most`."""
    v = data.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise RequestError(f"{kind}: {key} must be a number, got {v!r}"[:300])
    v = float(v)
    if (v <= 0 if positive else v < 0) or v > at_most:
        bound = "above 0" if positive else "at least 0"
        limit = f" and at most {at_most}" if at_most < math.inf else ""
        raise RequestError(f"{kind}: {key} must be {bound}{limit}, got {v!r}")
    return v


def _text(data: dict, kind: str, key: str) -> str:
    v = data.get(key)
    if v is None:
        raise RequestError(f"{kind}: '{key}' is missing")
    if not isinstance(v, str) or not 1 <= len(v) <= MAX_TEXT:
        raise RequestError(f"{kind}: {key} must be a non-empty string of at most {MAX_TEXT} characters")
    return v


def _check_fields(data: dict, kind: str, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed) - {"type", "id"})
    if unknown:
        known = ", ".join(allowed) if allowed else "none besides type and id"
        raise RequestError(f"{kind}: unknown field '{unknown[0]}'"[:200] + f" (known: {known})")


def _parse_init(data: dict, rid: object) -> Init:
    _check_fields(data, "init", INIT_FIELDS)
    has_preset, has_params = data.get("preset") is not None, data.get("params") is not None
    if has_preset == has_params:
        raise RequestError("init: give exactly one of 'preset' (a name) and 'params' (an object)")
    name, default_r = None, None
    if has_preset:
        if not isinstance(data["preset"], str):
            raise RequestError("init: preset must be a preset's name (a string)")
        chosen = presets.preset(data["preset"])
        name, params, default_r = chosen.name, chosen.params, chosen.r_target
    else:
        params = PocParams.from_mapping(data["params"])
    r_target = _number(data, "init", "r_target", default_r)
    if r_target is None:
        raise RequestError("init: r_target is required with 'params' (there is no preset to take it from)")
    nonce_range = NonceRange(_whole(data, "init", "node_id", 0, 0, 1 << 31),
                             _whole(data, "init", "node_count", 1, 1, 1 << 31),
                             _whole(data, "init", "group_id", 0, 0, 1 << 31),
                             _whole(data, "init", "group_count", 1, 1, 1 << 31))
    start = _whole(data, "init", "start", 0, 0, MAX_NONCE)
    if nonce_range.nonce(start) > MAX_NONCE:
        raise RequestError(f"init: start {start} is past the end of this share of the nonce space")
    device = data.get("device")
    device = "auto" if device is None else device
    if not isinstance(device, str) or device not in DEVICES:
        raise RequestError(f"init: device must be one of {', '.join(DEVICES)}, got {device!r}"[:300])
    return Init(params, name, _text(data, "init", "block_hash"), _text(data, "init", "public_key"), r_target,
                _number(data, "init", "weight_scale", 1.0), nonce_range,
                _whole(data, "init", "batch", None, 1, 65536), _whole(data, "init", "threads", None, 1, 1024),
                device, start, rid)


def _parse_validate(data: dict, rid: object) -> Validate:
    _check_fields(data, "validate", ("public_key", "nonces", "dist", "r_target", "fraud_threshold"))
    public_key = _text(data, "validate", "public_key")
    nonces, dist = data.get("nonces"), data.get("dist")
    if not isinstance(nonces, list) or not isinstance(dist, list):
        raise RequestError("validate: nonces and dist must both be lists")
    if len(nonces) != len(dist):
        raise RequestError(f"validate: nonces has {len(nonces)} entries but dist has {len(dist)}: they must pair up")
    if len(nonces) > MAX_VALIDATE_NONCES:
        raise RequestError(f"validate: at most {MAX_VALIDATE_NONCES:,} nonces in one request")
    for i, n in enumerate(nonces):
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_NONCE:
            raise RequestError(f"validate: nonces[{i}] must be a whole number in 0..{MAX_NONCE}, got {n!r}"[:300])
    for i, d in enumerate(dist):
        if isinstance(d, bool) or not isinstance(d, (int, float)):
            raise RequestError(f"validate: dist[{i}] must be a number, got {d!r}"[:300])
    return Validate(public_key, tuple(nonces), tuple(float(d) for d in dist),
                    _number(data, "validate", "r_target", None),
                    _number(data, "validate", "fraud_threshold", FRAUD_THRESHOLD, positive=False, at_most=1.0), rid)


def _good_id(rid: object) -> bool:
    if isinstance(rid, str):
        return len(rid) <= MAX_ID
    return isinstance(rid, int) and not isinstance(rid, bool) and abs(rid) <= MAX_NONCE


def parse_request(raw: bytes) -> Request:
    """One input line as a request, or Invalid saying what is wrong with it; never raises."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        return Invalid(f"not a JSON line ({type(e).__name__}: {e})"[:300])
    if not isinstance(data, dict):
        return Invalid(f"a request must be a JSON object with a 'type', got a JSON {type(data).__name__}")
    kind = data.get("type")
    if not isinstance(kind, str):
        return Invalid(f"a request needs a string 'type' ({', '.join(TYPES)})")
    kind = kind[:64]
    rid = data.get("id")
    if rid is not None and not _good_id(rid):
        return Invalid(f"{kind}: id must be a string of at most {MAX_ID} characters or an integer", kind)
    try:
        if kind == "init":
            return _parse_init(data, rid)
        if kind == "generate":
            _check_fields(data, kind, ("start", "count"))
            return Generate(_whole(data, kind, "start", None, 0, MAX_NONCE),
                            _whole(data, kind, "count", None, 1, MAX_NONCE), rid)
        if kind == "validate":
            return _parse_validate(data, rid)
        if kind in ("stop", "exit"):
            _check_fields(data, kind, ())
            return Stop(rid) if kind == "stop" else Exit(rid)
    except InputError as e:
        return Invalid(str(e), kind, rid)
    return Invalid(f"unknown request type '{kind}' (known: {', '.join(TYPES)})", kind, rid)


# ----- the worker -----

class RateMeter:
    """Nonces per second over the batches that ended in the last `window` seconds."""

    def __init__(self, window: float = RATE_WINDOW_S) -> None:
        self.window = window
        self.batches: deque[tuple[float, float, int]] = deque()  # (began, ended, nonces)

    def add(self, began: float, ended: float, n: int) -> None:
        self.batches.append((began, ended, n))

    def rate(self, now: float) -> float:
        while self.batches and self.batches[0][1] < now - self.window:
            self.batches.popleft()
        if not self.batches:
            return 0.0
        span = now - self.batches[0][0]
        return sum(b[2] for b in self.batches) / span if span > 0 else 0.0


@dataclass
class _Round:
    init: Init
    kernel: object
    step: int
    next_k: int
    nonces: int = 0
    valid: int = 0


@dataclass
class _Run:
    start_k: int
    count: int | None
    began: float
    next_k: int
    nonces: int = 0
    valid: int = 0
    last_batch_end: float | None = None
    meter: RateMeter = field(default_factory=RateMeter)


class Worker:
    def __init__(self, out: BinaryIO, parent_pid: int) -> None:
        self._out = out
        self._parent_pid = parent_pid
        self._lock = threading.RLock()  # guards the state below and every write to stdout
        self._wake = threading.Condition(self._lock)
        self._jobs: deque[Request] = deque()
        self._round: _Round | None = None
        self._run: _Run | None = None
        self._state = "empty"
        self._exit_when_idle = False  # exit asked while a counted run was going
        self._started = time.monotonic()

    # --- output ---

    def emit(self, obj: dict) -> None:
        try:
            line = json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n"
        except (TypeError, ValueError) as e:  # a bug, never a broken stream
            log(f"cannot encode a {obj.get('type')} message: {e}")
            line = json.dumps({"type": "error", "message": f"internal error: a {obj.get('type')} answer could not "
                               "be encoded", "request": None, "id": None}) + "\n"
        with self._lock:
            try:
                self._out.write(line.encode())
                self._out.flush()
            except (BrokenPipeError, OSError):
                self.exit(0, "stdout closed")

    def _error(self, message: str, request: str | None, rid: object) -> None:
        self.emit({"type": "error", "message": message, "request": request, "id": rid})

    def exit(self, code: int, why: str) -> None:
        """End the process now, from any thread, but not in the middle of a line being written."""
        log(f"exiting: {why}")
        self._lock.acquire(timeout=1.0)  # a stuck pipe must not keep the worker alive
        sys.stderr.flush()
        os._exit(code)

    # --- input ---

    def submit(self, request: Request) -> None:
        with self._wake:
            self._jobs.append(request)
            self._wake.notify()

    def start(self) -> None:
        threading.Thread(target=self._compute_loop, name="compute", daemon=True).start()
        threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True).start()

    # --- the heartbeat thread ---

    def _heartbeat_loop(self) -> None:
        next_beat = time.monotonic()
        while True:
            if os.getppid() != self._parent_pid:
                self.exit(0, f"parent {self._parent_pid} is gone")
            now = time.monotonic()
            if now >= next_beat:
                with self._lock:
                    self.emit({"type": "heartbeat", "protocol": PROTOCOL, "pid": os.getpid(), "state": self._state,
                               "uptime_s": round(now - self._started, 3), "queued": len(self._jobs)})
                    if self._run is not None:
                        self._emit_stats(now)
                next_beat = max(next_beat + HEARTBEAT_S, now)
            time.sleep(min(PARENT_CHECK_S, max(0.0, next_beat - time.monotonic())))

    def _emit_stats(self, now: float, *, generating: bool = True) -> None:
        run, rnd = self._run, self._round
        self.emit({"type": "stats", "generating": generating, "nonces": run.nonces, "valid": run.valid,
                   "elapsed_s": round(now - run.began, 6), "nonces_per_second": run.meter.rate(now),
                   "window_s": run.meter.window, "next_k": run.next_k, "round_nonces": rnd.nonces,
                   "round_valid": rnd.valid})

    # --- the compute thread: requests in turn, batches in between ---

    def _compute_loop(self) -> None:
        while True:
            with self._wake:
                while not self._jobs and self._run is None:
                    self._wake.wait()
                job = self._jobs.popleft() if self._jobs else None
            try:
                if job is None:
                    self._step()
                else:
                    self._handle(job)
            except Exception as e:  # the worker outlives its bugs; the traceback goes to stderr
                traceback.print_exc(file=sys.stderr)
                kind = type(job).__name__.lower() if job is not None else "generate"
                self._error(f"internal error: {type(e).__name__}: {e}"[:300], kind, getattr(job, "id", None))
                if job is None:
                    with self._lock:
                        self._end_run("error", None)
            if self._exit_when_idle and self._run is None:
                self.exit(0, "asked to exit, the counted run done")

    def _handle(self, job: Request) -> None:
        if isinstance(job, Invalid):
            self._error(job.message, job.request, job.id)
        elif isinstance(job, Init):
            self._init(job)
        elif isinstance(job, Generate):
            self._generate(job)
        elif isinstance(job, Validate):
            self._validate(job)
        elif isinstance(job, Stop):
            self._stop(job)
        elif isinstance(job, Exit):
            with self._lock:
                run = self._run
                if run is not None and run.count is not None:  # a counted run finishes first
                    self._exit_when_idle = True
                    return
                self._end_run("exit", job.id)
            self.exit(0, "asked to exit")

    def _init(self, job: Init) -> None:
        from gonka_tui.poc.backends import open_kernel

        if self._run is not None:
            self._error("init: generation is running: send stop first, then init", "init", job.id)
            return
        with self._lock:
            old, self._round, self._state = self._round, None, "loading"
        if old is not None:
            old.kernel.close()
        began = time.monotonic()
        try:
            kernel = open_kernel(job.params, job.block_hash, weight_scale=job.weight_scale, device=job.device,
                                 threads=job.threads, batch=job.batch)
        except Exception as e:
            with self._lock:
                self._state = "empty"
            if not isinstance(e, InputError):
                traceback.print_exc(file=sys.stderr)
            message = str(e) if isinstance(e, InputError) else f"{type(e).__name__}: {e}".rstrip(": ")
            self._error(f"init: could not build the kernel: {message}"[:500], "init", job.id)
            return
        threads = int(getattr(kernel, "threads", 1))
        step = kernel.batch * (threads if kernel.device == "cpu" else 1)
        load_s = time.monotonic() - began
        r = job.nonce_range
        with self._lock:
            self._round = _Round(job, kernel, step, job.start)
            self._state = "idle"
            log(f"round loaded on {kernel.device} in {load_s:.2f} s ({job.preset or 'custom params'})")
            self.emit({"type": "ready", "id": job.id, "protocol": PROTOCOL, "device": kernel.device,
                       "dtype": kernel.dtype, "batch": kernel.batch, "threads": threads, "step": step,
                       "preset": job.preset, "params": job.params.to_json(), "r_target": job.r_target,
                       "weight_scale": job.weight_scale, "block_hash": job.block_hash, "public_key": job.public_key,
                       "node_id": r.node_id, "node_count": r.node_count, "group_id": r.group_id,
                       "group_count": r.group_count, "next_k": job.start,
                       "flops_per_nonce": kernel.flops_per_nonce, "load_s": round(load_s, 6)})

    def _last_k(self) -> int:
        r = self._round.init.nonce_range
        return (MAX_NONCE - r.offset) // r.step

    def _generate(self, job: Generate) -> None:
        rnd = self._round
        if rnd is None:
            self._error("generate: no round is loaded: send init and wait for ready", "generate", job.id)
            return
        if self._run is not None:
            self._error("generate: already generating (send stop first to start elsewhere)", "generate", job.id)
            return
        start = rnd.next_k if job.start is None else job.start
        if start > self._last_k():
            self._error(f"generate: start {start} is past the end of this share of the nonce space", "generate",
                        job.id)
            return
        with self._lock:
            self._run = _Run(start, job.count, time.monotonic(), start)
            self._state = "generating"
            self.emit({"type": "generating", "id": job.id, "start_k": start, "count": job.count, "step": rnd.step})

    def _step(self) -> None:
        """One batch of the current run."""
        run, rnd = self._run, self._round
        n = rnd.step if run.count is None else min(rnd.step, run.count - run.nonces)
        n = min(n, self._last_k() - run.next_k + 1)
        k0 = run.next_k
        nonces = rnd.init.nonce_range.take(k0, n)
        began = time.monotonic()
        try:
            dist = np.asarray(rnd.kernel.distances(rnd.init.public_key, nonces), dtype=np.float64)
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            self._error(f"generate: the kernel failed: {type(e).__name__}: {e}"[:500], "generate", None)
            with self._lock:
                self._end_run("error", None)
            return
        ended = time.monotonic()
        keep = np.flatnonzero(dist < rnd.init.r_target)
        with self._lock:
            run.next_k = rnd.next_k = k0 + n
            run.nonces += n
            run.valid += len(keep)
            rnd.nonces += n
            rnd.valid += len(keep)
            run.meter.add(began, ended, n)
            run.last_batch_end = ended
            self.emit({"type": "batch", "k_start": k0, "k_end": k0 + n, "computed": n,
                       "nonces": [nonces[i] for i in keep], "dist": dist[keep].tolist(),
                       "seconds": round(ended - began, 6)})
            if run.count is not None and run.nonces >= run.count:
                self._end_run("count", None)
            elif run.next_k > self._last_k():
                self._end_run("exhausted", None)

    def _end_run(self, reason: str, rid: object) -> None:
        """Close the current run (lock held): its last stats, then stopped."""
        run = self._run
        if run is None:
            return
        now = run.last_batch_end or time.monotonic()
        self._emit_stats(now, generating=False)
        self._run, self._state = None, "idle"
        self.emit({"type": "stopped", "id": rid, "reason": reason, "was_generating": True, "next_k": run.next_k,
                   "nonces": run.nonces, "valid": run.valid, "elapsed_s": round(time.monotonic() - run.began, 6)})

    def _stop(self, job: Stop) -> None:
        with self._lock:
            if self._run is not None:
                self._end_run("stop", job.id)
                return
            self.emit({"type": "stopped", "id": job.id, "reason": "stop", "was_generating": False,
                       "next_k": self._round.next_k if self._round else None, "nonces": 0, "valid": 0,
                       "elapsed_s": 0.0})

    def _validate(self, job: Validate) -> None:
        rnd = self._round
        if rnd is None:
            self._error("validate: no round is loaded: send init and wait for ready", "validate", job.id)
            return
        r_target = rnd.init.r_target if job.r_target is None else job.r_target
        began = time.monotonic()
        try:
            computed = np.asarray(rnd.kernel.distances(job.public_key, job.nonces), dtype=np.float64).tolist()
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            self._error(f"validate: the kernel failed: {type(e).__name__}: {e}"[:500], "validate", job.id)
            return
        result = validate(job.nonces, job.dist, computed, r_target, job.fraud_threshold)
        self.emit({"type": "validated", "id": job.id, "public_key": job.public_key, **result.to_json(),
                   "seconds": round(time.monotonic() - began, 6)})


def _read_lines(worker: Worker, stdin: BinaryIO) -> None:
    while True:
        try:
            line = stdin.readline(MAX_LINE_BYTES + 1)
        except OSError as e:
            worker.exit(0, f"stdin failed: {e}")
        if not line:  # like exit: after what came before it
            worker.submit(Exit(None))
            threading.Event().wait()  # the compute thread ends the process
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # drop the rest of the long line
                line = stdin.readline(MAX_LINE_BYTES)
            worker.submit(Invalid(f"a line longer than {MAX_LINE_BYTES >> 20} MiB was dropped"))
            continue
        if not line.strip():
            continue
        request = parse_request(line)
        worker.submit(request)
        if isinstance(request, Exit):
            threading.Event().wait()  # nothing after exit is read; the compute thread ends the process


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        print("usage: python -m gonka_tui.miner.kernel_worker  (JSON lines on stdin and stdout; "
              "the protocol is in the module's docstring)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    out = os.fdopen(os.dup(1), "wb")  # the protocol's own descriptor; fd 1 (stray prints) goes to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = Worker(out, parent)
    worker.start()
    _read_lines(worker, sys.stdin.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
