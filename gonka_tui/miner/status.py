"""What a miner agent reports about itself: the JSON of `GET /v1/miner/status` and of
`gonka miner status --json`, as typed, immutable snapshots.

The agent builds an `AgentStatus` and serves `to_json()`; the app and the CLI read the JSON back with
`AgentStatus.from_json`, which accepts only what it understands (a value of the wrong type is an
error, not a crash later in a widget), so a rig running another version shows what both know.

Amounts are ngonka as decimal strings (as the chain writes them), counts are integers, rates floats;
a value the agent cannot read is None, with the reason in the device's `unavailable` map.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATES = ("waiting", "mining", "paused", "stopped", "error")
PHASES = ("PoCGenerate", "PoCGenerateWindDown", "PoCValidate", "PoCValidateWindDown", "Inference")
DEVICE_STATES = ("starting", "ready", "generating", "restarting", "failed", "stopped")
TELEMETRY_FIELDS = ("utilization_percent", "temperature_c", "power_w", "fan_percent", "memory_used_bytes",
                    "memory_total_bytes", "nonces_per_joule")


class StatusError(ValueError):
    """The agent's answer is not a status this version understands."""


@dataclass(frozen=True)
class DeviceStatus:
    name: str  # "cpu", "cuda:0"
    pid: int | None  # the kernel process; None while it is not running
    state: str  # one of DEVICE_STATES
    restarts: int  # within the watchdog's window
    nonces_per_second: float
    last_failure: str | None = None
    # Telemetry: each of TELEMETRY_FIELDS, None when unknown (the reason under `unavailable`).
    utilization_percent: float | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    fan_percent: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    nonces_per_joule: float | None = None
    unavailable: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Throughput:
    """Nonces per second averaged over the last 10 s, 60 s and 15 min, and the highest 10 s average seen."""

    s10: float = 0.0
    s60: float = 0.0
    m15: float = 0.0
    max: float = 0.0


@dataclass(frozen=True)
class LogLine:
    time: float  # unix seconds
    level: str  # "info", "warning", "error"
    text: str


@dataclass(frozen=True)
class AgentStatus:
    state: str  # one of STATES
    account: str  # the mining account's address
    epoch: int  # the chain's latest epoch index
    phase: str  # one of PHASES (the chain's name for where the epoch is)
    block_height: int
    phase_ends_in_seconds: float | None  # countdown to the next phase, estimated from block times
    next_poc_start: int | None  # block height of the next round
    weight: int  # the account's weight in the current epoch
    earned_ngonka: str  # rewards received by this agent's claims so far
    estimate_per_day_ngonka: str  # at the last epoch's reward and length
    batches_accepted: int
    batches_rejected: int
    batches_queued: int
    nonces_submitted: int
    uptime_seconds: float
    restarts: int  # all devices, in the watchdog's window
    devices: tuple[DeviceStatus, ...]
    throughput: Throughput
    # Sparklines: nonces/s per point, oldest first; short ≈ the last 2 minutes, long ≈ the last hours.
    series_short: tuple[float, ...] = ()
    series_long: tuple[float, ...] = ()
    log: tuple[LogLine, ...] = ()  # the most recent lines, oldest first
    error: str | None = None  # what put the agent in the error state
    version: str = ""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["throughput"] = {"10s": self.throughput.s10, "60s": self.throughput.s60, "15m": self.throughput.m15,
                             "max": self.throughput.max}
        out["devices"] = [asdict(d) for d in self.devices]
        out["series_short"], out["series_long"] = list(self.series_short), list(self.series_long)
        out["log"] = [asdict(line) for line in self.log]
        return out

    @classmethod
    def from_json(cls, data: Any) -> AgentStatus:
        r = _Reader(data, "status")
        tp = _Reader(r.get("throughput", dict), "throughput")
        return cls(
            state=r.choice("state", STATES), account=r.get("account", str), epoch=r.get("epoch", int),
            phase=r.choice("phase", PHASES), block_height=r.get("block_height", int),
            phase_ends_in_seconds=r.optional("phase_ends_in_seconds", float),
            next_poc_start=r.optional("next_poc_start", int), weight=r.get("weight", int),
            earned_ngonka=r.amount("earned_ngonka"), estimate_per_day_ngonka=r.amount("estimate_per_day_ngonka"),
            batches_accepted=r.get("batches_accepted", int), batches_rejected=r.get("batches_rejected", int),
            batches_queued=r.get("batches_queued", int), nonces_submitted=r.get("nonces_submitted", int),
            uptime_seconds=r.get("uptime_seconds", float), restarts=r.get("restarts", int),
            devices=tuple(_device(d) for d in r.get("devices", list)),
            throughput=Throughput(tp.get("10s", float), tp.get("60s", float), tp.get("15m", float),
                                  tp.get("max", float)),
            series_short=tuple(_number(v, "series_short") for v in r.get("series_short", list, [])),
            series_long=tuple(_number(v, "series_long") for v in r.get("series_long", list, [])),
            log=tuple(_log_line(x) for x in r.get("log", list, [])),
            error=r.optional("error", str), version=r.get("version", str, ""),
        )


_MISSING = object()


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StatusError(f"{where}: expected a number, got {type(value).__name__}")
    return float(value)


class _Reader:
    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise StatusError(f"{where}: expected an object")
        self.data, self.where = data, where

    def get(self, key: str, kind: type, default: Any = _MISSING) -> Any:
        if key not in self.data:
            if default is _MISSING:
                raise StatusError(f"{self.where}.{key} is missing")
            return default
        value = self.data[key]
        if kind is float:
            return _number(value, f"{self.where}.{key}")
        if isinstance(value, bool) and kind is int or not isinstance(value, kind):
            raise StatusError(f"{self.where}.{key}: expected {kind.__name__}, got {type(value).__name__}")
        return value

    def optional(self, key: str, kind: type) -> Any:
        return None if self.data.get(key) is None else self.get(key, kind)

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.get(key, str)
        if value not in allowed:
            raise StatusError(f"{self.where}.{key}: unknown value {value!r}")
        return value

    def amount(self, key: str) -> str:
        value = self.get(key, str)
        if not value.isascii() or not value.isdigit():
            raise StatusError(f"{self.where}.{key}: expected a whole number of ngonka as a string")
        return value


def _device(data: Any) -> DeviceStatus:
    r = _Reader(data, "device")
    unavailable = r.get("unavailable", dict, {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in unavailable.items()):
        raise StatusError("device.unavailable: expected reasons as strings")
    telemetry = {}
    for name in TELEMETRY_FIELDS:
        kind = int if name.endswith("_bytes") else float
        telemetry[name] = r.optional(name, kind)
    return DeviceStatus(name=r.get("name", str), pid=r.optional("pid", int), state=r.choice("state", DEVICE_STATES),
                        restarts=r.get("restarts", int), nonces_per_second=r.get("nonces_per_second", float),
                        last_failure=r.optional("last_failure", str), unavailable=dict(unavailable), **telemetry)


def _log_line(data: Any) -> LogLine:
    r = _Reader(data, "log")
    return LogLine(r.get("time", float), r.get("level", str), r.get("text", str))
