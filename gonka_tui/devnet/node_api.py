"""`/v1/`: the node API subset (status, identity, participants, epochs) and `POST /faucet`.

/v1/identity is signed by the node key: signature = base64 of the 64-byte secp256k1 r‖s over
sha256 of the compact JSON of `data` with sorted keys (`json.dumps(data, separators=(",", ":"),
sort_keys=True)`).
"""

from __future__ import annotations

import base64
import binascii
import json
import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gonka_tui import __version__
from gonka_tui.core.errors import InputError
from gonka_tui.core.network_constants import BASE_DENOM

from .blocks import rfc3339_ns
from .chain import FAUCET_CAP, Chain
from .limits import parse_int, read_json_object
from .poc_api import NODE_ROUTES as EPOCH_ROUTES
from .shapes import format_price


def _chain(request: Request) -> Chain:
    return request.app.state.chain


def message(status: int, text: str) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status)


async def status(request: Request) -> JSONResponse:
    chain = _chain(request)
    return JSONResponse({
        "chain_id": chain.chain_id,
        "block_height": chain.height,
        "block_time": rfc3339_ns(chain.latest.time_ns),
        "node_address": chain.node_address,
        "min_gas_price_ngonka": format_price(chain.rules.min_gas_price),
        "mempool_size": len(chain.mempool),
        "version": __version__,
        "devnet": True,
    })


def identity_payload(chain: Chain) -> dict:
    data = {"address": chain.node_address, "block": chain.height, "timestamp": time.time_ns()}
    signed = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return {"data": data, "signature": base64.b64encode(chain.node_signer.sign(signed)).decode()}


async def identity(request: Request) -> JSONResponse:
    return JSONResponse(identity_payload(_chain(request)))


def participant_json(chain: Chain, account) -> dict:
    return {"pubkey": base64.b64encode(account.pubkey).decode(), "balance": chain.spendable(account),
            "denom": BASE_DENOM}


async def get_participant(request: Request) -> JSONResponse:
    chain = _chain(request)
    address = request.path_params["address"]
    try:
        account = chain.account(address)
    except InputError as exc:
        return message(400, f"invalid address: {exc}")
    if account is None or account.pubkey is None:
        return message(404, f"participant {address} not found: the account has no public key on chain yet "
                       "(send a transaction from it, or POST /v1/participants)")
    return JSONResponse(participant_json(chain, account))


async def post_participant(request: Request) -> JSONResponse:
    chain = _chain(request)
    try:
        body = await read_json_object(request)
        pub, address = body.get("pub_key"), body.get("address")
        if not isinstance(pub, str) or not pub:
            raise InputError("pub_key (base64 of the 33-byte compressed secp256k1 key) is required")
        if not isinstance(address, str) or not address:
            raise InputError("address (gonka1…) is required")
        try:
            key = base64.b64decode(pub, validate=True)
        except (binascii.Error, ValueError):
            raise InputError("pub_key is not valid base64") from None
        account = chain.register_pubkey(address, key)
    except InputError as exc:
        return message(400, str(exc))
    return JSONResponse({"address": account.address, **participant_json(chain, account)})


async def faucet(request: Request) -> JSONResponse:
    chain = _chain(request)
    try:
        body = await read_json_object(request)
        address, amount = body.get("address"), body.get("amount")
        if not isinstance(address, str) or not address:
            raise InputError("address (gonka1…) is required")
        if amount is None:
            raise InputError('amount is required: a string of ngonka, e.g. "1000000000" (1 GNK)')
        value = parse_int(amount, "amount (ngonka)")
        if value > FAUCET_CAP:
            raise InputError(f"the faucet gives at most {FAUCET_CAP} ngonka (10,000 GNK) per request; "
                             f"asked for {value}")
        try:
            chain.rules.canonical_address(address)
        except InputError as exc:
            raise InputError(f"invalid address: {exc}") from None
        result = chain.faucet(address, value)
    except InputError as exc:
        return message(400, str(exc))
    out = {"txhash": result.hash, "code": result.code}
    if result.code:
        out["log"] = result.log
    return JSONResponse(out)


ROUTES = [
    Route("/v1/status", status),
    Route("/v1/identity", identity),
    Route("/v1/participants/{address}", get_participant),
    Route("/v1/participants", post_participant, methods=["POST"]),
    Route("/faucet", faucet, methods=["POST"]),
    *EPOCH_ROUTES,
]
