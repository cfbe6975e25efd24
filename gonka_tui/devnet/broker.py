"""The devnet's broker: an OpenAI-compatible endpoint at /broker/v1 that pays for each request from its own
account, the way mainnet's gateways and brokers do (network.md §4), so the plain `openai` package works against it.

    GET  /broker/v1/models              {"object": "list", "data": [{id, object: "model", created, owned_by}]}
    POST /broker/v1/chat/completions    Authorization: Bearer KEY; the same bodies and replies as the signed
                                        route, and usage carries "cost_ngonka" (what the broker was charged)
    GET  /broker/v1/account             Authorization: Bearer KEY; {"address", "balance"}

Keys come from `gonka devnet --broker-key KEY` (repeatable), are compared in constant time and never logged.
The broker's account key is made once and kept 0600 in the devnet home (like the node key); at start the node
tops the account up when it is below FUNDING_FLOOR.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gonka_tui.core.address import address_from_pubkey
from gonka_tui.core.errors import InputError
from gonka_tui.core.secp256k1 import Signer
from gonka_tui.core.units import NGONKA_PER_GNK, format_gnk

from .genesis import load_or_create_key
from .inference_api import RequestRefused, body_hash, read_request_body

BROKER_KEY_FILE = "broker_key.json"
FUNDING_FLOOR = 1_000 * NGONKA_PER_GNK
FUNDING_TOP_UP = 100_000 * NGONKA_PER_GNK
MIN_KEY_CHARS = 16
MAX_KEY_CHARS = 256
MAX_KEYS = 64
BROKER_KEYS_ENV = "GONKA_DEVNET_BROKER_KEYS"  # more --broker-key values, one per line (kept out of ps)
_KEY = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: it travels in an HTTP header


def parse_broker_key(text: str) -> str:
    """A `--broker-key`: 16 to 256 printable ASCII characters, no spaces (the message never repeats it)."""
    if not isinstance(text, str) or not _KEY.fullmatch(text) or not MIN_KEY_CHARS <= len(text) <= MAX_KEY_CHARS:
        raise InputError(f"--broker-key must be {MIN_KEY_CHARS} to {MAX_KEY_CHARS} printable ASCII characters "
                         "without spaces (e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)")
    return text


def load_or_create_account_key(home: Path) -> Signer:
    return load_or_create_key(home, BROKER_KEY_FILE, "the devnet broker's key")


class Broker:
    def __init__(self, signer: Signer | None, keys=()) -> None:
        self.signer = signer  # None when no key is configured: the broker is off and has no account
        self.address = address_from_pubkey(signer.pubkey) if signer is not None else None
        keys = list(dict.fromkeys(keys))
        if len(keys) > MAX_KEYS:
            raise InputError(f"at most {MAX_KEYS} --broker-key")
        self._keys = [parse_broker_key(k).encode() for k in keys]

    def __repr__(self) -> str:  # never the keys
        return f"Broker(address={self.address}, keys={len(self._keys)})"

    @classmethod
    def open(cls, home: Path, keys=()) -> Broker:
        keys = list(keys)
        return cls(load_or_create_account_key(Path(home)) if keys else None, keys)

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def check(self, headers) -> None:
        """RequestRefused (401) unless the request carries one of the keys."""
        if not self._keys:
            raise RequestRefused(401, "this devnet was started without --broker-key: the broker takes no requests "
                                 "(restart it with `gonka devnet --broker-key KEY`)", "invalid_request_error",
                                 "invalid_api_key")
        auth = headers.get("authorization") or ""
        scheme, _, token = auth.partition(" ")
        given = token.strip().encode("utf-8", "replace") if scheme.lower() == "bearer" else b""
        match = False
        for key in self._keys:  # every key compared, each in constant time
            match |= hmac.compare_digest(given, key)
        if not match:
            raise RequestRefused(401, "Incorrect API key provided (send Authorization: Bearer KEY with a key the "
                                 "devnet was started with)", "invalid_request_error", "invalid_api_key")

    def ensure_funded(self, chain, log=lambda _m: None) -> None:
        """Top the account up from the node when it is below the floor (a faucet transfer, in the next block)."""
        account = chain.check.get(self.address)
        balance = account.spendable(chain.check.block_time_s) if account else 0
        if balance >= FUNDING_FLOOR:
            return
        reply = chain.transfer_from_node(self.address, FUNDING_TOP_UP, memo="broker funding")
        if reply.code:
            log(f"could not fund the broker account {self.address}: {reply.log}")
        else:
            log(f"broker account {self.address} funded with {format_gnk(FUNDING_TOP_UP)} (tx {reply.hash[:12]}…)")


def _broker(request: Request) -> Broker:
    return request.app.state.broker


async def models(request: Request) -> JSONResponse:
    service = request.app.state.inference
    created = request.app.state.chain.genesis_time_ns // 1_000_000_000
    return JSONResponse({"object": "list", "data": [
        {"id": m, "object": "model", "created": created, "owned_by": "gonka-devnet"}
        for m in service.catalogue.active_models()]})


async def account(request: Request) -> JSONResponse:
    broker = _broker(request)
    try:
        broker.check(request.headers)
    except RequestRefused as exc:
        return exc.response()
    chain = request.app.state.chain
    return JSONResponse({"address": broker.address, "balance": str(chain.spendable(chain.ledger.get(broker.address)))})


async def chat_completions(request: Request) -> Response:
    broker = _broker(request)
    try:
        broker.check(request.headers)
        raw = await read_request_body(request)
    except RequestRefused as exc:
        return exc.response()
    return await request.app.state.inference.complete(
        raw, requester=broker.address, inference_id=f"broker-{secrets.token_hex(16)}", request_ts=time.time_ns(),
        prompt_hash=body_hash(raw), broker=True)


ROUTES = [
    Route("/broker/v1/models", models),
    Route("/broker/v1/account", account),
    Route("/broker/v1/chat/completions", chat_completions, methods=["POST"]),
]
