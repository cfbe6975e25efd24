"""PoC state: participants, seeds, batches, epochs and rewards, as records under tuple keys.

Like the accounts (`ledger.py`) it has a committed state, whose changes are written to SQLite in the
block's own transaction, and copy-on-write overlays for the check state and for one tx's scratch layer
(committed into its base in one step: all or nothing). Records are JSON-able dicts and are never
mutated once stored: a change puts a new dict.

Keys:
    ("p", address)                      participant {url, validator_key, worker_key, join_height}
    ("s", epoch, address)               seed signature (hex) sent in MsgSubmitSeed
    ("b", poc_start, address, batch_id) batch {nonces, dist, node_id, height}
    ("n", poc_start, address)           nonces submitted so far in that round (a cap, not the weight)
    ("e", epoch)                        epoch {status, weights, excluded, ...}
    ("r", epoch, address)               performance summary {weight, rewarded, claimed, burned, settled}
    ("v", address)                      reward vesting tranches [ngonka, …], oldest first
"""

from __future__ import annotations

import json

DELETED = None  # a deleted record in an overlay


def key_text(key: tuple) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def key_from_text(text: str) -> tuple:
    return tuple(json.loads(text))


class PocState:
    """The committed PoC state."""

    def __init__(self, records: dict[tuple, dict] | None = None) -> None:
        self.records: dict[tuple, object] = dict(records or {})
        self.dirty: set[tuple] = set()

    def get(self, key: tuple):
        return self.records.get(key)

    def put(self, key: tuple, value) -> None:
        if value is DELETED:
            self.records.pop(key, None)
        else:
            self.records[key] = value
        self.dirty.add(key)

    def delete(self, key: tuple) -> None:
        self.put(key, DELETED)

    def put_many(self, items) -> None:
        for key, value in items:
            self.put(key, value)

    def scan(self, *prefix) -> list[tuple[tuple, object]]:
        """Records whose key starts with `prefix`, in key order."""
        n = len(prefix)
        return sorted(((k, v) for k, v in self.records.items() if k[:n] == prefix), key=lambda kv: kv[0])

    def take_dirty(self) -> tuple[list[tuple[str, str]], list[str]]:
        """(upserts as (key, json), deleted keys) since the last call."""
        upserts, deletes = [], []
        for key in sorted(self.dirty, key=key_text):
            value = self.records.get(key)
            if value is None:
                deletes.append(key_text(key))
            else:
                upserts.append((key_text(key), json.dumps(value, separators=(",", ":"), sort_keys=True)))
        self.dirty.clear()
        return upserts, deletes


class PocOverlay:
    """A copy-on-write layer over the committed PoC state or another overlay."""

    def __init__(self, base: PocState | PocOverlay) -> None:
        self.base = base
        self.records: dict[tuple, object] = {}

    def get(self, key: tuple):
        if key in self.records:
            return self.records[key]
        return self.base.get(key)

    def put(self, key: tuple, value) -> None:
        self.records[key] = value

    def delete(self, key: tuple) -> None:
        self.records[key] = DELETED

    def commit(self) -> None:
        self.base.put_many(self.records.items())
        self.records = {}

    def put_many(self, items) -> None:
        for key, value in items:
            self.put(key, value)

    def reset(self) -> None:
        self.records.clear()
