"""Blocks: header, hashes and times.

The block hash is sha256 over a canonical header (chain id, height, time, previous block hash,
data hash, app hash, proposer), each field length-prefixed so no two headers share bytes. The
data hash is a merkle root of the tx hashes (RFC 6962 style, as CometBFT does). The app hash
commits to the state after the block: sha256(previous app hash ‖ sha256 of the changed account
records).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import datetime, timezone

EMPTY_HASH = hashlib.sha256(b"").digest()


def rfc3339_ns(time_ns: int) -> str:
    """2026-01-02T03:04:05.123456789Z (CometBFT's format, nanoseconds, UTC)."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}Z"


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 merkle hash (leaf prefix 0x00, inner 0x01); sha256('') for no leaves."""
    if not leaves:
        return EMPTY_HASH
    level = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            nxt.append(hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest())
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def state_hash(previous: bytes, records: list[tuple]) -> bytes:
    h = hashlib.sha256()
    for rec in records:
        h.update(_field(repr(rec).encode()))
    return hashlib.sha256(previous + h.digest()).digest()


@dataclass(frozen=True)
class Header:
    chain_id: str
    height: int
    time_ns: int
    last_block_hash: bytes
    data_hash: bytes
    app_hash: bytes
    proposer: bytes
    num_txs: int

    def hash(self) -> bytes:
        return hashlib.sha256(b"".join([
            _field(self.chain_id.encode()), struct.pack(">QQ", self.height, self.time_ns),
            _field(self.last_block_hash), _field(self.data_hash), _field(self.app_hash), _field(self.proposer),
        ])).digest()

    def to_row(self) -> tuple:
        return (self.height, self.hash(), self.time_ns, self.last_block_hash, self.data_hash, self.app_hash,
                self.num_txs)


def header_json(chain_id: str, height: int, time_ns: int, last_block_hash: bytes, data_hash: bytes,
                app_hash: bytes, proposer: bytes, *, encode=lambda b: b.hex().upper()) -> dict:
    """A CometBFT 0.38 header. `encode` writes the byte fields (hex for JSON-RPC, base64 for REST)."""
    last_id = ({"hash": encode(last_block_hash), "parts": {"total": 1, "hash": encode(last_block_hash)}}
               if last_block_hash else {"hash": "", "parts": {"total": 0, "hash": ""}})
    return {
        "version": {"block": "11", "app": "0"},
        "chain_id": chain_id,
        "height": str(height),
        "time": rfc3339_ns(time_ns),
        "last_block_id": last_id,
        "last_commit_hash": encode(EMPTY_HASH),
        "data_hash": encode(data_hash),
        "validators_hash": encode(hashlib.sha256(proposer).digest()),
        "next_validators_hash": encode(hashlib.sha256(proposer).digest()),
        "consensus_hash": encode(hashlib.sha256(b"gonka-devnet-consensus").digest()),
        "app_hash": encode(app_hash),
        "last_results_hash": encode(EMPTY_HASH),
        "evidence_hash": encode(EMPTY_HASH),
        "proposer_address": encode(proposer),
    }
