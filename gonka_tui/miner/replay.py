"""`gonka miner replay`: an agent's recording played back as the statuses the Miner screen shows,
at the recorded pace divided by `speed` (Dolphie's record/replay is the model).

Each recorded sample holds the throughput, the device rows and the agent's summary at that moment
(`agent` in its telemetry: state, epoch, phase, weight, earnings, batches); the log lines recorded
up to a sample's time come with it. Sparklines and the 60 s / 15 min averages are rebuilt from the
samples played so far, so a replay looks as the live screen did.
"""

from __future__ import annotations

from collections import deque
from typing import Any, AsyncIterator

from gonka_tui.miner.records import Recorder, Replay
from gonka_tui.miner.status import (DEVICE_STATES, PHASES, STATES, TELEMETRY_FIELDS, AgentStatus, DeviceStatus,
                                    LogLine, Throughput)

SHORT_POINTS = 60
LONG_POINTS = 72
LONG_EVERY = 12  # a long-window point per this many samples


def _device(data: Any) -> DeviceStatus | None:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    figures = {}
    for key in TELEMETRY_FIELDS:
        value = data.get(key)
        figures[key] = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    state = data.get("state") if data.get("state") in DEVICE_STATES else "stopped"
    unavailable = data.get("unavailable") if isinstance(data.get("unavailable"), dict) else {}
    pid = data.get("pid") if isinstance(data.get("pid"), int) else None
    restarts = data.get("restarts") if isinstance(data.get("restarts"), int) else 0
    rate = data.get("nonces_per_second")
    return DeviceStatus(data["name"], pid, state, restarts, float(rate) if isinstance(rate, (int, float)) else 0.0,
                        data.get("last_failure") if isinstance(data.get("last_failure"), str) else None,
                        unavailable={str(k): str(v) for k, v in unavailable.items()}, **figures)


def _summary(sample) -> dict:
    agent = sample.telemetry.get("agent") if isinstance(sample.telemetry, dict) else None
    return agent if isinstance(agent, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _amount(value: Any) -> str:
    return value if isinstance(value, str) and value.isascii() and value.isdigit() else "0"


async def statuses(records: Recorder, *, since: float | None = None, speed: float = 1.0,
                   max_delay: float | None = 5.0, sleep=None) -> AsyncIterator[tuple[float, AgentStatus]]:
    """(recorded time, the status as it was then) for each sample from `since`, paced by `speed`."""
    kwargs = {"sleep": sleep} if sleep is not None else {}
    logs = sorted(records.logs(since=since, limit=100_000), key=lambda line: (line.time, line.id))
    shown: deque[LogLine] = deque(maxlen=50)
    rates: deque[tuple[float, float]] = deque()
    short: deque[float] = deque(maxlen=SHORT_POINTS)
    long: deque[float] = deque(maxlen=LONG_POINTS)
    bucket: list[float] = []
    top, next_log, first = 0.0, 0, None
    async for sample in Replay(records, since=since, speed=speed, max_delay=max_delay, **kwargs):
        first = sample.time if first is None else first
        while next_log < len(logs) and logs[next_log].time <= sample.time:
            line = logs[next_log]
            shown.append(LogLine(line.time, line.level, line.message))
            next_log += 1
        rate = float(sample.nonces_per_second)
        rates.append((sample.time, rate))
        while rates and sample.time - rates[0][0] > 900:
            rates.popleft()
        short.append(rate)
        bucket.append(rate)
        if len(bucket) == LONG_EVERY:
            long.append(sum(bucket) / len(bucket))
            bucket = []
        top = max(top, rate)

        def mean(seconds: float) -> float:
            window = [r for t, r in rates if sample.time - t <= seconds]
            return sum(window) / len(window) if window else 0.0

        a = _summary(sample)
        devices = tuple(d for d in map(_device, sample.devices if isinstance(sample.devices, list) else [])
                        if d is not None)
        state = a.get("state") if a.get("state") in STATES else ("mining" if rate > 0 else "waiting")
        phase = a.get("phase") if a.get("phase") in PHASES else "Inference"
        yield sample.time, AgentStatus(
            state=state, account=str(a.get("account", "")), epoch=_int(a.get("epoch")), phase=phase,
            block_height=_int(a.get("block_height")), phase_ends_in_seconds=None, next_poc_start=None,
            weight=_int(a.get("weight")), earned_ngonka=_amount(a.get("earned_ngonka")),
            estimate_per_day_ngonka=_amount(a.get("estimate_per_day_ngonka")),
            batches_accepted=_int(a.get("batches_accepted")), batches_rejected=_int(a.get("batches_rejected")),
            batches_queued=_int(a.get("batches_queued")), nonces_submitted=_int(a.get("nonces_submitted")),
            uptime_seconds=sample.time - first, restarts=sum(d.restarts for d in devices), devices=devices,
            throughput=Throughput(rate, mean(60), mean(900), top), series_short=tuple(short),
            series_long=tuple(long), log=tuple(shown), error=a.get("error") if isinstance(a.get("error"), str) else None)


def agent_summary(status: AgentStatus) -> dict:
    """What a recorded sample keeps of the agent's status, for a replay to show it again."""
    return {k: getattr(status, k) for k in (
        "state", "account", "epoch", "phase", "block_height", "weight", "earned_ngonka", "estimate_per_day_ngonka",
        "batches_accepted", "batches_rejected", "batches_queued", "nonces_submitted", "error")}
