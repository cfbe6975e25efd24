"""SQLite (WAL) persistence: one database transaction per block.

Tables: meta (chain id, genesis time, height, hashes, next account number), accounts, blocks,
txs (bytes + result JSON), tx_events (the search index: 'type.key' = value → tx position),
poc (the PoC records of `poc_state.py`: JSON key → JSON value).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from .accounts import LedgerAccount, Vesting
from .limits import INT64_MAX
from .search import Condition, condition_sql

SCHEMA_VERSION = "2"  # 2: PoC records

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    address TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE, sequence INTEGER NOT NULL, pubkey BLOB,
    balance TEXT NOT NULL, vesting_original TEXT, vesting_start INTEGER, vesting_end INTEGER, module TEXT);
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY, hash BLOB NOT NULL, time_ns INTEGER NOT NULL, last_block_hash BLOB NOT NULL,
    data_hash BLOB NOT NULL, app_hash BLOB NOT NULL, num_txs INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    hash TEXT PRIMARY KEY, height INTEGER NOT NULL, idx INTEGER NOT NULL, tx BLOB NOT NULL, result TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS txs_position ON txs (height, idx);
CREATE TABLE IF NOT EXISTS tx_events (
    key TEXT NOT NULL, value TEXT NOT NULL, height INTEGER NOT NULL, idx INTEGER NOT NULL,
    PRIMARY KEY (key, value, height, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS poc (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


def _account_row(a: LedgerAccount) -> tuple:
    v = a.vesting
    return (a.address, a.number, a.sequence, a.pubkey, str(a.balance), str(v.original) if v else None,
            v.start_time if v else None, v.end_time if v else None, a.module)


def _account_from_row(row) -> LedgerAccount:
    address, number, sequence, pubkey, balance, v_orig, v_start, v_end, module = row
    vesting = Vesting(int(v_orig), int(v_start), int(v_end)) if v_orig is not None else None
    return LedgerAccount(address, number, sequence, bytes(pubkey) if pubkey else None, int(balance), vesting, module)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ----- meta and accounts -----

    def meta(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def load_accounts(self) -> dict[str, LedgerAccount]:
        with self._lock:
            rows = self._db.execute("SELECT address, number, sequence, pubkey, balance, vesting_original, "
                                    "vesting_start, vesting_end, module FROM accounts").fetchall()
        return {r[0]: _account_from_row(r) for r in rows}

    def load_poc(self) -> list[tuple[str, str]]:
        with self._lock:
            return self._db.execute("SELECT key, value FROM poc").fetchall()

    # ----- the one write: a block -----

    def commit_block(self, header_row: tuple, txs: list[tuple], events: list[tuple], accounts: list[LedgerAccount],
                     meta: dict[str, str], poc: tuple[list[tuple[str, str]], list[str]] = ((), ())) -> None:
        """Write a block, its txs and index rows, the changed accounts, the changed PoC records (upserts,
        deleted keys) and the meta in one transaction."""
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                db.execute("INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?)", header_row)
                if txs:
                    db.executemany("INSERT OR REPLACE INTO txs VALUES (?, ?, ?, ?, ?)", txs)
                if events:
                    db.executemany("INSERT OR IGNORE INTO tx_events VALUES (?, ?, ?, ?)", events)
                if accounts:
                    db.executemany("INSERT OR REPLACE INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                   [_account_row(a) for a in accounts])
                upserts, deletes = poc
                if upserts:
                    db.executemany("INSERT OR REPLACE INTO poc VALUES (?, ?)", list(upserts))
                if deletes:
                    db.executemany("DELETE FROM poc WHERE key = ?", [(k,) for k in deletes])
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # ----- reads -----

    def block(self, height: int) -> tuple | None:
        with self._lock:
            return self._db.execute("SELECT height, hash, time_ns, last_block_hash, data_hash, app_hash, num_txs "
                                    "FROM blocks WHERE height = ?", (height,)).fetchone()

    def block_txs(self, height: int) -> list[bytes]:
        with self._lock:
            return [bytes(r[0]) for r in self._db.execute(
                "SELECT tx FROM txs WHERE height = ? ORDER BY idx", (height,)).fetchall()]

    def tx(self, txhash: str) -> tuple | None:
        """(hash, height, idx, tx bytes, result dict, block time ns) or None."""
        with self._lock:
            row = self._db.execute("SELECT t.hash, t.height, t.idx, t.tx, t.result, b.time_ns FROM txs t "
                                   "JOIN blocks b ON b.height = t.height WHERE t.hash = ?",
                                   (txhash.upper(),)).fetchone()
        return _tx_row(row) if row else None

    def search(self, conditions: list[Condition], *, offset: int, limit: int, descending: bool) -> tuple[int, list]:
        parts, params = [], []
        for c in conditions:
            sql, p = condition_sql(c)
            parts.append(sql)
            params += p
        matched = " INTERSECT ".join(parts)
        order = "DESC" if descending else "ASC"
        offset = min(offset, INT64_MAX)  # SQLite binds int64 only; any offset that far is past the end anyway
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM ({matched})", params).fetchone()[0]
            rows = self._db.execute(
                f"SELECT t.hash, t.height, t.idx, t.tx, t.result, b.time_ns FROM txs t "
                f"JOIN ({matched}) m ON m.height = t.height AND m.idx = t.idx "
                f"JOIN blocks b ON b.height = t.height ORDER BY t.height {order}, t.idx {order} LIMIT ? OFFSET ?",
                [*params, limit, offset]).fetchall()
        return total, [_tx_row(r) for r in rows]

    def earliest_block(self) -> tuple | None:
        with self._lock:
            return self._db.execute("SELECT height, hash, time_ns, last_block_hash, data_hash, app_hash, num_txs "
                                    "FROM blocks ORDER BY height LIMIT 1").fetchone()


def _tx_row(row) -> tuple:
    txhash, height, idx, tx, result, time_ns = row
    return txhash, height, idx, bytes(tx), json.loads(result), time_ns
