"""The miner agent's recording: samples (throughput, devices, telemetry), PoC batches, epochs and log
lines in SQLite under its home (`<home>/miner/records.sqlite`, WAL, file 0600 in a 0700 directory), so
history survives restarts, the app can draw the last hours and `gonka miner replay` can play it back.

Batches are the agent's memory of its work: a batch queued before a crash is still queued after it, and
a batch recorded submitted is never handed out for submission again. Samples and log lines older than
`retention_hours` are deleted (at most once a minute); batches and epochs are kept.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable

from gonka_tui.core.errors import InputError
from gonka_tui.core.fileio import create_private_file, ensure_private_dir

RECORDS_FILE = "records.sqlite"
SCHEMA_VERSION = 1
DEFAULT_RETENTION_HOURS = 24.0
PRUNE_INTERVAL_S = 60.0

QUEUED, SUBMITTING, SUBMITTED, ACCEPTED, REJECTED, DROPPED = (
    "queued", "submitting", "submitted", "accepted", "rejected", "dropped")
BATCH_STATES = (QUEUED, SUBMITTING, SUBMITTED, ACCEPTED, REJECTED, DROPPED)
PHASES = ("PoCGenerate", "PoCGenerateWindDown", "PoCValidate", "PoCValidateWindDown", "Inference")
LOG_LEVELS = ("debug", "info", "warning", "error")
MAX_LOG_CHARS = 4000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, nonces_per_second REAL NOT NULL,
    devices TEXT NOT NULL, telemetry TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS samples_time ON samples (time);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL, poc_start_height INTEGER NOT NULL,
    nonce_count INTEGER NOT NULL, state TEXT NOT NULL, tx_hash TEXT, reason TEXT, payload TEXT,
    queued_at REAL NOT NULL, submitted_at REAL, settled_at REAL);
CREATE INDEX IF NOT EXISTS batches_state ON batches (state, queued_at);
CREATE TABLE IF NOT EXISTS epochs (
    epoch INTEGER PRIMARY KEY, poc_start_height INTEGER, phase TEXT, weight INTEGER,
    earned_ngonka TEXT, claimed INTEGER NOT NULL DEFAULT 0, claim_tx_hash TEXT, seed TEXT,
    updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS epoch_phases (
    epoch INTEGER NOT NULL, time REAL NOT NULL, phase TEXT NOT NULL, block_height INTEGER);
CREATE INDEX IF NOT EXISTS epoch_phases_epoch ON epoch_phases (epoch, time);
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS logs_time ON logs (time);
"""


def records_path(home: Path | str) -> Path:
    return Path(home) / "miner" / RECORDS_FILE


# ----------------------------------------------------------------------------------------------
# Rows


@dataclass(frozen=True)
class Sample:
    id: int
    time: float
    nonces_per_second: float
    devices: Any  # what the agent passed: per device name, its figures
    telemetry: Any

    def to_json(self) -> dict:
        return {"time": self.time, "nonces_per_second": self.nonces_per_second, "devices": self.devices,
                "telemetry": self.telemetry}


@dataclass(frozen=True)
class Batch:
    batch_id: str
    epoch: int
    poc_start_height: int
    nonce_count: int
    state: str
    tx_hash: str | None
    reason: str | None
    payload: Any  # what the agent needs to submit it again (nonces, distances), or None
    queued_at: float
    submitted_at: float | None
    settled_at: float | None

    def to_json(self) -> dict:
        return {"batch_id": self.batch_id, "epoch": self.epoch, "poc_start_height": self.poc_start_height,
                "nonce_count": self.nonce_count, "state": self.state, "tx_hash": self.tx_hash, "reason": self.reason,
                "queued_at": self.queued_at, "submitted_at": self.submitted_at, "settled_at": self.settled_at}


@dataclass(frozen=True)
class PhaseChange:
    time: float
    phase: str
    block_height: int | None


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    poc_start_height: int | None
    phase: str | None
    weight: int | None
    earned_ngonka: str | None  # an integer as a string, as the chain writes amounts
    claimed: bool
    claim_tx_hash: str | None
    seed: str | None  # the seed sent in MsgSubmitSeed, revealed at claim; never put it in a log
    updated_at: float

    def to_json(self) -> dict:
        return {"epoch": self.epoch, "poc_start_height": self.poc_start_height, "phase": self.phase,
                "weight": self.weight, "earned_ngonka": self.earned_ngonka, "claimed": self.claimed,
                "claim_tx_hash": self.claim_tx_hash, "updated_at": self.updated_at}


@dataclass(frozen=True)
class LogLine:
    id: int
    time: float
    level: str
    message: str

    def to_json(self) -> dict:
        return {"time": self.time, "level": self.level, "message": self.message}


# ----------------------------------------------------------------------------------------------
# Input checks (one clear error, nothing written)


def _json_text(value: Any, what: str) -> str:
    if hasattr(value, "to_json"):
        value = value.to_json()
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError) as e:
        raise InputError(f"{what} cannot be recorded as JSON: {e}") from None


def _number(value: Any, what: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool):
        raise InputError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number < minimum:
        raise InputError(f"{what} must be a finite number ≥ {minimum:g}, got {value!r}")
    return number


def _integer(value: Any, what: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{what} must be an integer ≥ {minimum}, got {value!r}")
    if value >= 2**63:
        raise InputError(f"{what} is too large: {value}")
    return value


def _amount(value: Any, what: str) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 60:
        raise InputError(f"{what} must be a non-negative integer amount in ngonka, got {value!r}")
    return str(int(text))  # no leading zeros


def _text(value: Any, what: str, limit: int = 256) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InputError(f"{what} must be a string of 1–{limit} characters, got {value!r}"[:300])
    return value


# ----------------------------------------------------------------------------------------------
# The recorder


class Recorder:
    """The agent's SQLite recording. Safe to share between threads (one lock around one connection)."""

    def __init__(self, home: Path | str, *, retention_hours: float = DEFAULT_RETENTION_HOURS,
                 clock: Callable[[], float] = time.time) -> None:
        self.retention_hours = _number(retention_hours, "retention_hours")
        if self.retention_hours <= 0:
            raise InputError(f"retention_hours must be > 0, got {retention_hours!r}")
        self._clock = clock
        directory = ensure_private_dir(Path(home) / "miner")
        self.path = directory / RECORDS_FILE
        create_private_file(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a batch recorded submitted must still read submitted after a power cut.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            version = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise InputError(f"{self.path} is not a readable miner recording ({e})") from None
        if version is None:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif version[0] != str(SCHEMA_VERSION):
            self._db.close()
            raise InputError(f"{self.path} was written by another version (schema {version[0]}, "
                             f"this one reads {SCHEMA_VERSION})")
        self._last_prune = -math.inf
        self.prune()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _now(self, at: float | None) -> float:
        return float(self._clock()) if at is None else _number(at, "time")

    def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ----- retention -----

    def prune(self, *, force: bool = False) -> bool:
        """Delete samples and log lines older than the retention; at most once a minute unless `force`."""
        now = float(self._clock())
        if not force and now - self._last_prune < PRUNE_INTERVAL_S:
            return False
        cutoff = now - self.retention_hours * 3600.0
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM samples WHERE time < ?", (cutoff,))
                self._db.execute("DELETE FROM logs WHERE time < ?", (cutoff,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self._last_prune = now
        return True

    # ----- samples -----

    def sample(self, nonces_per_second: float, devices: Any = None, telemetry: Any = None, *,
               at: float | None = None) -> int:
        """Record one sample: the total throughput, per-device figures and the telemetry (JSON-able)."""
        nps = _number(nonces_per_second, "nonces per second")
        when = self._now(at)
        devices_text = _json_text({} if devices is None else devices, "devices")
        telemetry_text = _json_text({} if telemetry is None else telemetry, "telemetry")
        row_id = self._write("INSERT INTO samples (time, nonces_per_second, devices, telemetry) VALUES (?, ?, ?, ?)",
                             (when, nps, devices_text, telemetry_text)).lastrowid
        self.prune()
        return int(row_id)

    def samples(self, since: float | None = None, until: float | None = None, *,
                limit: int | None = None) -> list[Sample]:
        """Samples with since ≤ time ≤ until, oldest first (at most `limit`, the oldest ones)."""
        rows = self._read(
            "SELECT id, time, nonces_per_second, devices, telemetry FROM samples "
            "WHERE time >= ? AND time <= ? ORDER BY time, id LIMIT ?",
            (-math.inf if since is None else _number(since, "since", minimum=-math.inf),
             math.inf if until is None else _number(until, "until", minimum=-math.inf),
             -1 if limit is None else _integer(limit, "limit", minimum=1)))
        return [_sample(r) for r in rows]

    def _samples_after(self, position: tuple[float, int] | None, until: float, limit: int) -> list[Sample]:
        if position is None:
            rows = self._read("SELECT id, time, nonces_per_second, devices, telemetry FROM samples "
                              "WHERE time <= ? ORDER BY time, id LIMIT ?", (until, limit))
        else:
            t, i = position
            rows = self._read("SELECT id, time, nonces_per_second, devices, telemetry FROM samples "
                              "WHERE (time > ? OR (time = ? AND id > ?)) AND time <= ? ORDER BY time, id LIMIT ?",
                              (t, t, i, until, limit))
        return [_sample(r) for r in rows]

    def last_hours(self, hours: float) -> list[Sample]:
        hours = _number(hours, "hours")
        return self.samples(since=float(self._clock()) - hours * 3600.0)

    def latest_sample(self) -> Sample | None:
        rows = self._read("SELECT id, time, nonces_per_second, devices, telemetry FROM samples "
                          "ORDER BY time DESC, id DESC LIMIT 1")
        return _sample(rows[0]) if rows else None

    def series(self, window_seconds: float, points: int, *, now: float | None = None) -> list[float | None]:
        """Throughput over the last `window_seconds` in `points` equal buckets, oldest first: the mean
        nonces/s of each bucket's samples, None for a bucket without any (the sparkline shows a gap)."""
        window = _number(window_seconds, "window_seconds")
        if window <= 0:
            raise InputError(f"window_seconds must be > 0, got {window_seconds!r}")
        points = _integer(points, "points", minimum=1)
        if points > 100_000:
            raise InputError(f"points must be at most 100000, got {points}")
        end = self._now(now)
        start = end - window
        width = window / points
        rows = self._read(
            "SELECT MIN(CAST((time - ?) / ? AS INTEGER), ?) AS bucket, AVG(nonces_per_second) FROM samples "
            "WHERE time >= ? AND time <= ? GROUP BY bucket", (start, width, points - 1, start, end))
        out: list[float | None] = [None] * points
        for bucket, mean in rows:
            out[int(bucket)] = float(mean)
        return out

    # ----- batches -----

    def batch_queue(self, batch_id: str, *, epoch: int, poc_start_height: int, nonce_count: int,
                    payload: Any = None, at: float | None = None) -> bool:
        """Queue a batch for submission. False (and nothing changed) when this id is already recorded,
        whatever its state: a batch is queued once."""
        batch_id = _text(batch_id, "batch id")
        args = (batch_id, _integer(epoch, "epoch"), _integer(poc_start_height, "poc_start_height"),
                _integer(nonce_count, "nonce count"), QUEUED,
                None if payload is None else _json_text(payload, "batch payload"), self._now(at))
        cur = self._write("INSERT OR IGNORE INTO batches (batch_id, epoch, poc_start_height, nonce_count, state, "
                          "payload, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?)", args)
        return cur.rowcount == 1

    def _move(self, batch_id: str, to: str, from_states: tuple[str, ...], *, tx_hash: str | None = None,
              reason: str | None = None, time_column: str | None = None, at: float | None = None) -> bool:
        batch_id = _text(batch_id, "batch id")
        if tx_hash is not None:
            tx_hash = _text(tx_hash, "tx hash", 128).upper()
        if reason is not None:
            reason = str(reason)[:MAX_LOG_CHARS]
        when = self._now(at)
        marks = ", ".join("?" for _ in from_states)
        sets = "state = ?, tx_hash = COALESCE(?, tx_hash), reason = COALESCE(?, reason)"
        if time_column:
            sets += f", {time_column} = COALESCE({time_column}, ?)"
        args = (to, tx_hash, reason) + ((when,) if time_column else ()) + (batch_id,) + from_states
        cur = self._write(f"UPDATE batches SET {sets} WHERE batch_id = ? AND state IN ({marks})", args)
        if cur.rowcount == 1:
            return True
        if self.batch(batch_id) is None:
            raise InputError(f"no batch {batch_id!r} is recorded")
        return False

    def batch_submitting(self, batch_id: str, tx_hash: str, *, tx_bytes: bytes | None = None,
                         at: float | None = None) -> bool:
        """Record, before broadcasting, the hash of the signed tx that carries the batch (and its bytes):
        after a crash or a lost reply the agent looks this hash up (see unconfirmed_batches), and may
        broadcast those very bytes again, instead of signing the batch a second time."""
        moved = self._move(batch_id, SUBMITTING, (QUEUED,), tx_hash=tx_hash, time_column="submitted_at", at=at)
        if moved and tx_bytes is not None:
            batch = self.batch(batch_id)
            payload = dict(batch.payload) if isinstance(batch.payload, dict) else {}
            payload["tx"] = base64.b64encode(tx_bytes).decode()
            self._write("UPDATE batches SET payload = ? WHERE batch_id = ?",
                        (_json_text(payload, "batch payload"), batch_id))
        return moved

    def batch_submitted(self, batch_id: str, tx_hash: str | None = None, *, at: float | None = None) -> bool:
        """The node took the tx. From then on the batch is never returned by queued_batches()."""
        return self._move(batch_id, SUBMITTED, (QUEUED, SUBMITTING), tx_hash=tx_hash, time_column="submitted_at",
                          at=at)

    def batch_not_sent(self, batch_id: str) -> bool:
        """A `submitting` batch whose tx the node has never seen goes back to the queue (only that state)."""
        return self._move(batch_id, QUEUED, (SUBMITTING,))

    def batch_accepted(self, batch_id: str, *, at: float | None = None) -> bool:
        return self._move(batch_id, ACCEPTED, (SUBMITTING, SUBMITTED), time_column="settled_at", at=at)

    def batch_rejected(self, batch_id: str, reason: str = "", *, at: float | None = None) -> bool:
        return self._move(batch_id, REJECTED, (SUBMITTING, SUBMITTED), reason=reason or None,
                          time_column="settled_at", at=at)

    def batch_dropped(self, batch_id: str, reason: str = "the acceptance window closed", *,
                      at: float | None = None) -> bool:
        """A queued batch that will never be sent (its window closed)."""
        return self._move(batch_id, DROPPED, (QUEUED,), reason=reason, time_column="settled_at", at=at)

    def batch(self, batch_id: str) -> Batch | None:
        rows = self._read(f"SELECT {_BATCH_COLUMNS} FROM batches WHERE batch_id = ?", (batch_id,))
        return _batch(rows[0]) if rows else None

    def queued_batches(self, *, poc_start_height: int | None = None) -> list[Batch]:
        """Batches not yet submitted (state queued), oldest first: what the agent still has to send."""
        return self._batches_in((QUEUED,), poc_start_height)

    def unconfirmed_batches(self, *, poc_start_height: int | None = None) -> list[Batch]:
        """Batches whose tx was signed and maybe broadcast, not yet known to have reached the node."""
        return self._batches_in((SUBMITTING,), poc_start_height)

    def batches(self, *, epoch: int | None = None, limit: int = 200) -> list[Batch]:
        """The newest batches (of one epoch if given), newest first."""
        if epoch is None:
            rows = self._read(f"SELECT {_BATCH_COLUMNS} FROM batches ORDER BY queued_at DESC, batch_id DESC LIMIT ?",
                              (limit,))
        else:
            rows = self._read(f"SELECT {_BATCH_COLUMNS} FROM batches WHERE epoch = ? "
                              "ORDER BY queued_at DESC, batch_id DESC LIMIT ?", (epoch, limit))
        return [_batch(r) for r in rows]

    def _batches_in(self, states: tuple[str, ...], poc_start_height: int | None) -> list[Batch]:
        marks = ", ".join("?" for _ in states)
        sql = f"SELECT {_BATCH_COLUMNS} FROM batches WHERE state IN ({marks})"
        args: tuple = states
        if poc_start_height is not None:
            sql += " AND poc_start_height = ?"
            args += (poc_start_height,)
        return [_batch(r) for r in self._read(sql + " ORDER BY queued_at, batch_id", args)]

    def batch_counts(self, *, epoch: int | None = None) -> dict[str, int]:
        """How many batches are in each state (every state present, 0 where none)."""
        if epoch is None:
            rows = self._read("SELECT state, COUNT(*) FROM batches GROUP BY state")
        else:
            rows = self._read("SELECT state, COUNT(*) FROM batches WHERE epoch = ? GROUP BY state", (epoch,))
        counts = dict.fromkeys(BATCH_STATES, 0)
        counts.update({state: int(n) for state, n in rows})
        return counts

    # ----- epochs -----

    def _epoch_row(self, epoch: int, when: float) -> None:
        self._write("INSERT OR IGNORE INTO epochs (epoch, updated_at) VALUES (?, ?)", (epoch, when))

    def epoch_phase(self, epoch: int, phase: str, *, poc_start_height: int | None = None,
                    block_height: int | None = None, at: float | None = None) -> bool:
        """Record the epoch's phase; a change is kept in its history. False when the phase is unchanged."""
        epoch = _integer(epoch, "epoch")
        if phase not in PHASES:
            raise InputError(f"unknown epoch phase {phase!r} (one of {', '.join(PHASES)})"[:300])
        if poc_start_height is not None:
            _integer(poc_start_height, "poc_start_height")
        if block_height is not None:
            _integer(block_height, "block_height")
        when = self._now(at)
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT OR IGNORE INTO epochs (epoch, updated_at) VALUES (?, ?)", (epoch, when))
                (current,) = db.execute("SELECT phase FROM epochs WHERE epoch = ?", (epoch,)).fetchone()
                changed = current != phase
                db.execute("UPDATE epochs SET phase = ?, poc_start_height = COALESCE(?, poc_start_height), "
                           "updated_at = ? WHERE epoch = ?", (phase, poc_start_height, when, epoch))
                if changed:
                    db.execute("INSERT INTO epoch_phases VALUES (?, ?, ?, ?)", (epoch, when, phase, block_height))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return changed

    def epoch_weight(self, epoch: int, weight: int, *, at: float | None = None) -> None:
        epoch, weight, when = _integer(epoch, "epoch"), _integer(weight, "weight"), self._now(at)
        self._epoch_row(epoch, when)
        self._write("UPDATE epochs SET weight = ?, updated_at = ? WHERE epoch = ?", (weight, when, epoch))

    def epoch_earned(self, epoch: int, earned_ngonka: int | str, *, at: float | None = None) -> None:
        epoch, amount, when = _integer(epoch, "epoch"), _amount(earned_ngonka, "earned"), self._now(at)
        self._epoch_row(epoch, when)
        self._write("UPDATE epochs SET earned_ngonka = ?, updated_at = ? WHERE epoch = ?", (amount, when, epoch))

    def epoch_seed(self, epoch: int, seed: str, *, at: float | None = None) -> None:
        """Keep the seed sent in MsgSubmitSeed: the claim reveals it, possibly after a restart."""
        epoch, seed, when = _integer(epoch, "epoch"), _text(seed, "seed", 1024), self._now(at)
        self._epoch_row(epoch, when)
        self._write("UPDATE epochs SET seed = ?, updated_at = ? WHERE epoch = ?", (seed, when, epoch))

    def epoch_claimed(self, epoch: int, tx_hash: str | None = None, *, at: float | None = None) -> None:
        epoch, when = _integer(epoch, "epoch"), self._now(at)
        if tx_hash is not None:
            tx_hash = _text(tx_hash, "tx hash", 128).upper()
        self._epoch_row(epoch, when)
        self._write("UPDATE epochs SET claimed = 1, claim_tx_hash = COALESCE(?, claim_tx_hash), updated_at = ? "
                    "WHERE epoch = ?", (tx_hash, when, epoch))

    def epoch(self, epoch: int) -> EpochRecord | None:
        rows = self._read(f"SELECT {_EPOCH_COLUMNS} FROM epochs WHERE epoch = ?", (epoch,))
        return _epoch(rows[0]) if rows else None

    def epochs(self, *, limit: int = 100) -> list[EpochRecord]:
        """The newest epochs first."""
        return [_epoch(r) for r in self._read(f"SELECT {_EPOCH_COLUMNS} FROM epochs ORDER BY epoch DESC LIMIT ?",
                                              (limit,))]

    def phase_changes(self, epoch: int) -> list[PhaseChange]:
        return [PhaseChange(t, p, h) for t, p, h in self._read(
            "SELECT time, phase, block_height FROM epoch_phases WHERE epoch = ? ORDER BY time, rowid", (epoch,))]

    def earned_total(self) -> int:
        """Everything earned over the recorded epochs, in ngonka (summed exactly, not in SQLite floats)."""
        return sum(int(a) for (a,) in self._read("SELECT earned_ngonka FROM epochs WHERE earned_ngonka IS NOT NULL"))

    # ----- log lines -----

    def log(self, message: str, level: str = "info", *, at: float | None = None) -> None:
        """Keep a log line (no secrets: the caller's lines are shown in the app and the status API)."""
        if level not in LOG_LEVELS:
            raise InputError(f"unknown log level {level!r} (one of {', '.join(LOG_LEVELS)})"[:300])
        self._write("INSERT INTO logs (time, level, message) VALUES (?, ?, ?)",
                    (self._now(at), level, str(message)[:MAX_LOG_CHARS]))
        self.prune()

    def logs(self, *, since: float | None = None, limit: int = 200) -> list[LogLine]:
        """The newest `limit` log lines (after `since` if given), oldest first."""
        limit = _integer(limit, "limit", minimum=1)
        rows = self._read("SELECT id, time, level, message FROM logs WHERE time >= ? ORDER BY time DESC, id DESC "
                          "LIMIT ?", (-math.inf if since is None else float(since), limit))
        return [LogLine(*r) for r in reversed(rows)]


_BATCH_COLUMNS = ("batch_id, epoch, poc_start_height, nonce_count, state, tx_hash, reason, payload, queued_at, "
                  "submitted_at, settled_at")
_EPOCH_COLUMNS = "epoch, poc_start_height, phase, weight, earned_ngonka, claimed, claim_tx_hash, seed, updated_at"


def _sample(row: tuple) -> Sample:
    row_id, when, nps, devices, telemetry = row
    return Sample(int(row_id), float(when), float(nps), json.loads(devices), json.loads(telemetry))


def _batch(row: tuple) -> Batch:
    values = list(row)
    values[7] = None if values[7] is None else json.loads(values[7])
    return Batch(*values)


def _epoch(row: tuple) -> EpochRecord:
    epoch, start, phase, weight, earned, claimed, claim_tx, seed, updated = row
    return EpochRecord(epoch, start, phase, weight, earned, bool(claimed), claim_tx, seed, updated)


# ----------------------------------------------------------------------------------------------
# Replay


class Replay:
    """The recorded samples from `since` (to `until`), in order, as an async iterator whose waits between
    samples are the recorded gaps divided by `speed` (2 = twice as fast). `max_delay` caps one wait (a
    recording with the agent off for hours then does not stall the replay). `sleep` is injectable."""

    PAGE = 500

    def __init__(self, records: Recorder, *, since: float | None = None, until: float | None = None,
                 speed: float = 1.0, max_delay: float | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.speed = _number(speed, "speed")
        if self.speed <= 0:
            raise InputError(f"the replay speed must be > 0, got {speed!r}")
        self.max_delay = None if max_delay is None else _number(max_delay, "max_delay")
        self._records = records
        self._since = since
        self._until = None if until is None else _number(until, "until", minimum=-math.inf)
        self._sleep = sleep

    def __aiter__(self) -> AsyncIterator[Sample]:
        return self._run()

    def _pages(self) -> Iterable[list[Sample]]:
        position: tuple[float, int] | None = None
        first = True
        while True:
            if first and self._since is not None:
                page = self._records.samples(since=self._since, until=self._until, limit=self.PAGE)
            else:
                page = self._records._samples_after(position, math.inf if self._until is None else self._until,
                                                    self.PAGE)
            first = False
            if not page:
                return
            yield page
            position = (page[-1].time, page[-1].id)

    async def _run(self) -> AsyncIterator[Sample]:
        previous: float | None = None
        for page in self._pages():
            for sample in page:
                if previous is not None:
                    delay = max(0.0, sample.time - previous) / self.speed
                    if self.max_delay is not None:
                        delay = min(delay, self.max_delay)
                    if delay > 0:
                        await self._sleep(delay)
                previous = sample.time
                yield sample
