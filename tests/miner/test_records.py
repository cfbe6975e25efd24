"""The agent's SQLite recording: persistence, retention, batch states, sparkline series and replay."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from gonka_tui.core.errors import InputError
from gonka_tui.miner.records import Recorder, Replay, records_path

T0 = 1_700_000_000.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rec(home, clock):
    r = Recorder(home, clock=clock)
    yield r
    r.close()


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_recording_is_private_and_in_wal_mode(home, clock):
    with Recorder(home, clock=clock) as r:
        r.sample(10.0)
        assert r.path == records_path(home) == home / "miner" / "records.sqlite"
        assert mode(home / "miner") == 0o700
        assert mode(r.path) == 0o600
        wal = r.path.with_name(r.path.name + "-wal")
        assert wal.exists() and mode(wal) == 0o600  # SQLite gives the WAL the database file's mode
    db = sqlite3.connect(records_path(home))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_everything_survives_a_reopen(home, clock):
    with Recorder(home, clock=clock) as r:
        r.sample(123.5, {"cpu": {"nonces_per_second": 123.5, "pid": 42}}, {"host": {"cpu_percent": 99.0}})
        r.batch_queue("b-1", epoch=7, poc_start_height=700, nonce_count=32,
                      payload={"nonces": [1, 2], "dist": [0.1, 0.2]})
        r.epoch_phase(7, "PoCGenerate", poc_start_height=700, block_height=700)
        r.epoch_weight(7, 640)
        r.epoch_earned(7, 12_345_678_901_234_567_890)
        r.log("round started")
    clock.t += 5
    with Recorder(home, clock=clock) as r:
        (s,) = r.samples()
        assert (s.time, s.nonces_per_second) == (T0, 123.5)
        assert s.devices == {"cpu": {"nonces_per_second": 123.5, "pid": 42}}
        assert s.telemetry == {"host": {"cpu_percent": 99.0}}
        (b,) = r.queued_batches()
        assert (b.batch_id, b.epoch, b.poc_start_height, b.nonce_count, b.state) == ("b-1", 7, 700, 32, "queued")
        assert b.payload == {"nonces": [1, 2], "dist": [0.1, 0.2]}
        e = r.epoch(7)
        assert (e.phase, e.poc_start_height, e.weight, e.claimed) == ("PoCGenerate", 700, 640, False)
        assert e.earned_ngonka == "12345678901234567890"  # exact: beyond a float and an int64
        assert [line.message for line in r.logs()] == ["round started"]


def test_retention_deletes_old_samples_and_logs_only_and_at_most_once_a_minute(home, clock):
    with Recorder(home, retention_hours=1, clock=clock) as r:
        r.sample(1.0)
        r.log("old line")
        r.batch_queue("old-batch", epoch=1, poc_start_height=10, nonce_count=1)
        r.epoch_phase(1, "Inference")
        clock.t = T0 + 3590
        r.sample(2.0)  # prunes (the last prune, at open, was over a minute ago); nothing is old enough yet
        clock.t = T0 + 3620
        r.sample(3.0)  # the first sample is past the retention, but the last prune was 30 s ago
        assert [s.nonces_per_second for s in r.samples()] == [1.0, 2.0, 3.0]
        clock.t = T0 + 3651
        r.sample(4.0)
        assert [s.nonces_per_second for s in r.samples()] == [2.0, 3.0, 4.0]
        assert r.logs() == []
        assert r.batch("old-batch") is not None and r.epoch(1) is not None  # kept whatever their age


def test_samples_between_times_and_last_hours(rec, clock):
    for i in range(5):
        rec.sample(float(i), at=T0 + i * 1800)  # every half hour
    clock.t = T0 + 4 * 1800
    assert [s.nonces_per_second for s in rec.samples(since=T0 + 1800, until=T0 + 3 * 1800)] == [1.0, 2.0, 3.0]
    assert [s.nonces_per_second for s in rec.last_hours(1)] == [2.0, 3.0, 4.0]
    assert rec.latest_sample().nonces_per_second == 4.0


def test_queued_batches_come_back_until_submitted_and_never_after(home, clock):
    with Recorder(home, clock=clock) as r:
        assert r.batch_queue("a", epoch=3, poc_start_height=300, nonce_count=10, payload={"nonces": [5]})
        assert r.batch_queue("b", epoch=3, poc_start_height=300, nonce_count=20)
        assert not r.batch_queue("a", epoch=3, poc_start_height=300, nonce_count=99)  # queued once
        assert r.batch("a").nonce_count == 10
        assert [b.batch_id for b in r.queued_batches()] == ["a", "b"]
        assert r.batch_submitted("a", "ab" * 32)
    # The agent restarts: "a" is never handed out again, "b" still is.
    with Recorder(home, clock=clock) as r:
        assert [b.batch_id for b in r.queued_batches()] == ["b"]
        assert r.batch("a").state == "submitted" and r.batch("a").tx_hash == "AB" * 32
        assert not r.batch_queue("a", epoch=3, poc_start_height=300, nonce_count=10)  # re-queuing does nothing
        assert not r.batch_submitted("a")  # not submitted twice
        assert [b.batch_id for b in r.queued_batches()] == ["b"]
        assert r.batch_accepted("a")
        assert not r.batch_not_sent("a")  # only a `submitting` batch can go back to the queue
        assert r.queued_batches(poc_start_height=999) == []


def test_a_batch_signed_before_a_crash_is_looked_up_not_resent(rec):
    rec.batch_queue("c", epoch=3, poc_start_height=300, nonce_count=1)
    assert rec.batch_submitting("c", "cd" * 32)
    assert rec.queued_batches() == []
    (pending,) = rec.unconfirmed_batches()
    assert pending.tx_hash == "CD" * 32
    assert rec.batch_not_sent("c")  # the node never saw that hash: send it again
    assert [b.batch_id for b in rec.queued_batches()] == ["c"]
    rec.batch_submitting("c", "ef" * 32)
    assert rec.batch_submitted("c")
    assert rec.batch("c").tx_hash == "EF" * 32
    assert rec.unconfirmed_batches() == [] and rec.queued_batches() == []


def test_batch_outcomes_and_counts(rec):
    for i in range(4):
        rec.batch_queue(f"x{i}", epoch=5, poc_start_height=500, nonce_count=8)
    rec.batch_submitted("x0")
    rec.batch_submitted("x1")
    rec.batch_accepted("x0")
    rec.batch_rejected("x1", "outside the acceptance window")
    rec.batch_dropped("x2")
    counts = rec.batch_counts()
    assert counts == {"queued": 1, "submitting": 0, "submitted": 0, "accepted": 1, "rejected": 1, "dropped": 1}
    assert rec.batch("x1").reason == "outside the acceptance window"
    assert rec.batch("x0").settled_at is not None
    assert [b.batch_id for b in rec.queued_batches()] == ["x3"]
    with pytest.raises(InputError, match="no batch"):
        rec.batch_submitted("nope")


def test_bad_input_is_one_clear_error_and_writes_nothing(rec):
    with pytest.raises(InputError):
        rec.sample(float("nan"))
    with pytest.raises(InputError):
        rec.sample(-1)
    with pytest.raises(InputError):
        rec.sample(1.0, {"cpu": float("inf")})
    with pytest.raises(InputError):
        rec.batch_queue("", epoch=1, poc_start_height=1, nonce_count=1)
    with pytest.raises(InputError):
        rec.batch_queue("z", epoch=-1, poc_start_height=1, nonce_count=1)
    with pytest.raises(InputError):
        rec.epoch_earned(1, "-5")
    with pytest.raises(InputError):
        rec.epoch_phase(1, "Mining")
    with pytest.raises(InputError):
        rec.log("x", level="loud")
    assert rec.samples() == [] and rec.batches() == [] and rec.epochs() == [] and rec.logs() == []
    with pytest.raises(InputError):
        Recorder(rec.path.parent.parent, retention_hours=0)


def test_not_a_recording_is_refused_clearly(home):
    (home / "miner").mkdir(mode=0o700)
    (home / "miner" / "records.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(InputError, match="not a readable miner recording"):
        Recorder(home)


def test_epoch_phase_changes_weight_earnings_and_claim(rec, clock):
    assert rec.epoch_phase(4, "PoCGenerate", poc_start_height=400, block_height=400)
    clock.t += 10
    assert not rec.epoch_phase(4, "PoCGenerate")  # the same phase again is no change
    clock.t += 10
    assert rec.epoch_phase(4, "PoCValidate", block_height=410)
    assert [(c.phase, c.time, c.block_height) for c in rec.phase_changes(4)] == [
        ("PoCGenerate", T0, 400), ("PoCValidate", T0 + 20, 410)]
    rec.epoch_earned(4, "1000")
    rec.epoch_earned(5, 250)
    rec.epoch_seed(4, "8214596102574436291")
    rec.epoch_claimed(4, "aa" * 32)
    assert rec.earned_total() == 1250
    e = rec.epoch(4)
    assert e.claimed and e.claim_tx_hash == "AA" * 32 and e.seed == "8214596102574436291"
    assert "seed" not in e.to_json()  # the status API never shows it
    assert [x.epoch for x in rec.epochs()] == [5, 4]


def test_series_averages_per_bucket_with_gaps(rec, clock):
    clock.t = T0 + 60
    # A 60 s window in 6 buckets of 10 s: [T0, T0+10) … [T0+50, T0+60].
    for t, v in [(1, 10.0), (5, 20.0), (12, 40.0), (35, 7.0), (59, 1.0), (60, 3.0), (-5, 999.0)]:
        rec.sample(v, at=T0 + t)
    assert rec.series(60, 6) == [15.0, 40.0, None, 7.0, None, 2.0]
    assert rec.series(60, 1) == [pytest.approx(81 / 6)]
    assert rec.series(10, 5, now=T0 + 10) == [10.0, None, 20.0, None, None]
    with pytest.raises(InputError):
        rec.series(0, 5)
    with pytest.raises(InputError):
        rec.series(60, 0)


async def test_replay_yields_samples_in_order_with_scaled_waits(rec):
    for t, v in [(0, 1.0), (2, 2.0), (3, 3.0), (3, 3.5), (10, 4.0)]:
        rec.sample(v, at=T0 + t)
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    got = [s.nonces_per_second async for s in Replay(rec, speed=2.0, sleep=sleep)]
    assert got == [1.0, 2.0, 3.0, 3.5, 4.0]
    assert delays == [pytest.approx(1.0), pytest.approx(0.5), pytest.approx(3.5)]  # no wait for the same instant

    delays.clear()
    got = [s.nonces_per_second async for s in Replay(rec, since=T0 + 2, until=T0 + 3, speed=0.5, sleep=sleep)]
    assert got == [2.0, 3.0, 3.5] and delays == [pytest.approx(2.0)]

    delays.clear()
    got = [s.nonces_per_second async for s in Replay(rec, max_delay=1.0, sleep=sleep)]
    assert delays == [pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1.0)]  # 2 s and 7 s capped

    with pytest.raises(InputError):
        Replay(rec, speed=0)


async def test_replay_reads_page_by_page_without_losing_or_repeating_samples(rec, monkeypatch):
    monkeypatch.setattr(Replay, "PAGE", 3)
    for i in range(10):
        rec.sample(float(i), at=T0 + i // 2)  # pairs at the same instant straddle the page edges

    async def sleep(seconds: float) -> None:
        pass

    assert [s.nonces_per_second async for s in Replay(rec, sleep=sleep)] == [float(i) for i in range(10)]
    assert [s.nonces_per_second async for s in Replay(rec, since=T0 + 1, sleep=sleep)] == [
        float(i) for i in range(2, 10)]
