"""`gonka miner replay`: a recording comes back as the statuses the Miner screen showed, paced by speed."""

from __future__ import annotations

import dataclasses

from gonka_tui.miner.records import Recorder
from gonka_tui.miner.replay import agent_summary, statuses
from tests.miner.test_agent_api import sample_status


async def test_a_recording_plays_back_as_statuses_at_its_pace(tmp_path):
    now = [1000.0]
    records = Recorder(tmp_path, clock=lambda: now[0])
    for i, (state, rate) in enumerate([("waiting", 0.0), ("mining", 200.0), ("mining", 400.0), ("paused", 0.0)]):
        s = sample_status(state=state, weight=10 * i, earned_ngonka=str(5 * i))
        records.log(f"line {i}", "info", at=now[0])
        records.sample(rate, [dataclasses.asdict(d) for d in s.devices], {"agent": agent_summary(s)}, at=now[0])
        now[0] += 5.0
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    played = [status async for _when, status in statuses(records, speed=2.0, sleep=sleep)]
    assert [s.state for s in played] == ["waiting", "mining", "mining", "paused"]
    assert [s.weight for s in played] == [0, 10, 20, 30] and played[-1].earned_ngonka == "15"
    assert waits == [2.5, 2.5, 2.5]  # 5 s between samples at twice the speed
    assert played[2].throughput.s10 == 400.0 and played[3].throughput.max == 400.0
    assert list(played[3].series_short) == [0.0, 200.0, 400.0, 0.0]
    assert [line.text for line in played[1].log] == ["line 0", "line 1"]  # the log as it was then
    assert played[1].devices == sample_status().devices  # device rows with their telemetry and reasons


async def test_since_starts_the_playback_later(tmp_path):
    records = Recorder(tmp_path, clock=lambda: 0.0)
    for t in (10.0, 20.0, 30.0):
        records.sample(t, [], {}, at=t)

    async def sleep(_seconds: float) -> None:
        pass

    played = [when async for when, _status in statuses(records, since=20.0, sleep=sleep)]
    assert played == [20.0, 30.0]


def test_replay_without_a_recording_says_so(tmp_path):
    from gonka_tui.cli import main

    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["--home", str(tmp_path), "miner", "replay"])
    assert code == 1 and "nothing was recorded" in err.getvalue()
