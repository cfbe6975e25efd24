"""The signed inference request of Gonka's transfer-agent flow (network.md §4).

Signed bytes = UTF-8 of hex_lower(sha256(raw body)) + decimal(timestamp ns) + transfer address; the
signature is secp256k1 ECDSA over sha256 of those bytes (RFC 6979, low-S), 64 bytes r‖s in standard
base64, sent as `Authorization` (no "Bearer") with `X-Requester-Address` and `X-Timestamp`. The node
accepts each signature once, so two requests of this process never share a timestamp.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from typing import Callable

from gonka_tui.core.secp256k1 import Signer

_last_ns = 0
_lock = threading.Lock()


def next_timestamp_ns(clock: Callable[[], int] = time.time_ns) -> int:
    """The wall clock in ns, strictly above every timestamp handed out before in this process (a clock
    that stalls or steps back would otherwise repeat one, and the node refuses a replayed signature)."""
    global _last_ns
    with _lock:
        _last_ns = max(clock(), _last_ns + 1)
        return _last_ns


def signed_bytes(body: bytes, timestamp_ns: int, transfer_address: str) -> bytes:
    return (hashlib.sha256(body).hexdigest() + str(int(timestamp_ns)) + transfer_address).encode("utf-8")


class RequestSigner:
    """An account's key, ready to sign many requests (the curve key is built once)."""

    __slots__ = ("_signer", "address", "pubkey")

    def __init__(self, private_key: bytes, address: str) -> None:
        self._signer = Signer(private_key)
        self.pubkey = self._signer.pubkey  # 33-byte compressed
        self.address = address

    def __repr__(self) -> str:
        return f"RequestSigner(address={self.address!r})"

    def signature(self, body: bytes, timestamp_ns: int, transfer_address: str) -> str:
        """base64 of r‖s over sha256(signed bytes)."""
        return base64.b64encode(self._signer.sign(signed_bytes(body, timestamp_ns, transfer_address))).decode("ascii")

    def headers(self, body: bytes, transfer_address: str, timestamp_ns: int | None = None) -> dict[str, str]:
        """The three headers of one request whose raw body is `body`."""
        ts = next_timestamp_ns() if timestamp_ns is None else timestamp_ns
        return {"Authorization": self.signature(body, ts, transfer_address), "X-Requester-Address": self.address,
                "X-Timestamp": str(ts)}
