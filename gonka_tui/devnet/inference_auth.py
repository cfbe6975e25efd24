"""The check a Gonka transfer agent makes of a signed inference request (network.md §4), on the devnet.

Headers: `Authorization: <standard base64 of the 64-byte r‖s>` (no "Bearer"), `X-Requester-Address: gonka1…`,
`X-Timestamp: <unix ns>`. The signature is secp256k1 ECDSA, low-S, over
sha256(UTF-8 of hex_lower(sha256(raw body)) + decimal(timestamp) + transfer address), verified with the
requester's public key on chain (registered by any tx, or POST /v1/participants).

The timestamp must be at most TIMESTAMP_EXPIRATION behind and TIMESTAMP_ADVANCE ahead of the latest block
time. Each signature is usable once: the replay cache holds the signatures seen whose timestamp is still inside
the window — an older one would be refused as stale anyway — so it is bounded by what the window lets in,
and by MAX_CACHED on top (beyond it requests are refused as busy, never let through).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import re
from dataclasses import dataclass

from gonka_tui.core.errors import InputError
from gonka_tui.core.inference_signing import signed_bytes  # what the client signs is what is checked
from gonka_tui.core.secp256k1 import verify

TIMESTAMP_EXPIRATION_NS = 60 * 10**9  # the chain's validation_params.timestamp_expiration
TIMESTAMP_ADVANCE_NS = 30 * 10**9  # validation_params.timestamp_advance
MAX_CACHED = 200_000
_TIMESTAMP = re.compile(r"[0-9]{1,19}")
_BASE64_SIG = re.compile(r"[A-Za-z0-9+/]{86}==")  # 64 bytes in standard base64


class AuthError(Exception):
    """A request refused as unauthenticated (401); the message says why, never what the secret was."""


class ReplayBusy(Exception):
    """The replay cache is full of signatures still inside the window (429)."""


@dataclass(frozen=True)
class SignedRequest:
    requester: str
    timestamp_ns: int
    signature: bytes
    body_hash: str  # hex sha256 of the raw body

    @property
    def signature_b64(self) -> str:
        return base64.b64encode(self.signature).decode()


class ReplayCache:
    """Signatures already used, each kept until its timestamp leaves the window."""

    def __init__(self, window_ns: int = TIMESTAMP_EXPIRATION_NS, max_entries: int = MAX_CACHED) -> None:
        self.window_ns = window_ns
        self.max_entries = max_entries
        self._seen: set[bytes] = set()
        self._by_time: list[tuple[int, bytes]] = []  # a heap: the oldest timestamp first

    def __len__(self) -> int:
        return len(self._seen)

    def prune(self, now_ns: int) -> None:
        horizon = now_ns - self.window_ns
        while self._by_time and self._by_time[0][0] < horizon:
            _, sig = heapq.heappop(self._by_time)
            self._seen.discard(sig)

    def seen(self, signature: bytes) -> bool:
        return signature in self._seen

    def add(self, signature: bytes, timestamp_ns: int, now_ns: int) -> None:
        """Record a used signature; ReplayBusy when the window holds too many (nothing recorded)."""
        self.prune(now_ns)
        if len(self._seen) >= self.max_entries:
            raise ReplayBusy("too many signed requests in the last minute; retry shortly")
        self._seen.add(signature)
        heapq.heappush(self._by_time, (timestamp_ns, signature))


class RequestVerifier:
    """Checks signed requests for one transfer address (the devnet node) against the chain's state."""

    def __init__(self, chain, cache: ReplayCache | None = None) -> None:
        self.chain = chain
        self.cache = cache or ReplayCache()

    @property
    def transfer_address(self) -> str:
        return self.chain.node_address

    def check(self, headers, body: bytes) -> SignedRequest:
        """The verified request, its signature now used; AuthError (401) or ReplayBusy (429) otherwise."""
        auth = (headers.get("authorization") or "").strip()
        requester_text = (headers.get("x-requester-address") or "").strip()
        ts_text = (headers.get("x-timestamp") or "").strip()
        if not auth:
            raise AuthError("missing Authorization header: sign the request (hex(sha256(body)) + timestamp + "
                            "transfer address) with the account key, as the gonka-openai SDK does")
        if auth.lower().startswith("bearer "):
            raise AuthError("this route takes a signed request, not an API key (Authorization is the base64 "
                            "signature, without 'Bearer'); API keys go to the broker at /broker/v1")
        if not requester_text:
            raise AuthError("missing X-Requester-Address header (the gonka1… address that signs and pays)")
        if not ts_text:
            raise AuthError("missing X-Timestamp header (unix time in nanoseconds)")
        if not _TIMESTAMP.fullmatch(ts_text):
            raise AuthError("X-Timestamp must be the unix time in nanoseconds (decimal digits)")
        timestamp = int(ts_text)
        try:
            requester = self.chain.rules.canonical_address(requester_text)
        except InputError as exc:
            raise AuthError(f"X-Requester-Address is not a valid address: {exc}") from None
        if not _BASE64_SIG.fullmatch(auth):
            raise AuthError("Authorization must be the standard base64 of a 64-byte secp256k1 signature (r‖s)")
        try:
            signature = base64.b64decode(auth, validate=True)
        except (binascii.Error, ValueError):
            raise AuthError("Authorization is not valid base64") from None
        now = self.chain.latest.time_ns
        if timestamp < now - TIMESTAMP_EXPIRATION_NS:
            raise AuthError(f"X-Timestamp is {(now - timestamp) / 1e9:.1f} s older than the latest block time; "
                            f"requests are accepted for {TIMESTAMP_EXPIRATION_NS // 10**9} s: sign it again")
        if timestamp > now + TIMESTAMP_ADVANCE_NS:
            raise AuthError(f"X-Timestamp is {(timestamp - now) / 1e9:.1f} s ahead of the latest block time (at most "
                            f"{TIMESTAMP_ADVANCE_NS // 10**9} s): check this computer's clock")
        account = self.chain.ledger.get(requester)
        if account is None or account.pubkey is None:
            raise AuthError(f"the chain has no public key for {requester}: register it with POST /v1/participants "
                            '{"pub_key": <base64>, "address": <gonka1…>} (or send any transaction from it) first')
        if self.cache.seen(signature):
            raise AuthError("this signature was already used: every request needs a fresh timestamp and signature")
        if not verify(account.pubkey, signed_bytes(body, timestamp, self.transfer_address), signature):
            raise AuthError(f"the signature does not match the body, timestamp and transfer address "
                            f"{self.transfer_address} for the key of {requester} (low-S signatures only)")
        self.cache.add(signature, timestamp, now)
        return SignedRequest(requester, timestamp, signature, hashlib.sha256(body).hexdigest())
