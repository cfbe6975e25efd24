"""`/chain-api/`: the Cosmos REST (gRPC-gateway) subset, plus the x/inference paths of `poc_api.py`.

Error bodies are the gateway's: {"code": <gRPC code>, "message": "…", "details": []} with
HTTP 400 for bad input and 404 for what does not exist.
"""

from __future__ import annotations

import base64
import binascii
import re

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gonka_tui import __version__
from gonka_tui.core.errors import InputError
from gonka_tui.core.address import bech32_encode
from gonka_tui.core.network_constants import BASE_DENOM

from . import abci, codes, poc_api
from .blocks import header_json, rfc3339_ns
from .chain import Chain
from .codes import QueryError
from .limits import RequestError, parse_int, read_json_object
from .rpc import COMET_VERSION, NODE_NAME
from .shapes import gateway_error, account_json, b64, broadcast_response_json, coin_json, tx_json, tx_response_json
from google.protobuf.json_format import MessageToDict

_HASH = re.compile(r"^[0-9a-fA-F]{64}$")
DEFAULT_LIMIT = 100


error = gateway_error


def bad_request(message: str) -> JSONResponse:
    return error(400, codes.GRPC_INVALID_ARGUMENT, message)


def _chain(request: Request) -> Chain:
    return request.app.state.chain


def _query_error(exc: QueryError) -> JSONResponse:
    return error(exc.http_status, exc.grpc_code, exc.message)


async def account(request: Request) -> JSONResponse:
    try:
        acc = abci.account_or_error(_chain(request), request.path_params["address"])
    except QueryError as exc:
        return _query_error(exc)
    return JSONResponse({"account": account_json(acc)})


def _pagination(total: int) -> dict:
    return {"next_key": None, "total": str(total)}


async def _coins_reply(request: Request, amount_of, by_denom: bool) -> JSONResponse:
    """The four bank routes: all balances or one denom, of the bank or the spendable amount."""
    chain = _chain(request)
    denom = request.query_params.get("denom", "") if by_denom else BASE_DENOM
    try:
        acc = abci.maybe_account(chain, request.path_params["address"])
        abci.check_denom(denom)
    except QueryError as exc:
        return _query_error(exc)
    amount = amount_of(chain, acc, denom)
    if by_denom:
        return JSONResponse({"balance": coin_json(amount, denom)})
    coins = [coin_json(amount)] if amount else []
    return JSONResponse({"balances": coins, "pagination": _pagination(len(coins))})


def _bank(chain, acc, denom: str) -> int:
    return abci.balance_of(acc, denom)


async def balances(request: Request) -> JSONResponse:
    return await _coins_reply(request, _bank, by_denom=False)


async def balance_by_denom(request: Request) -> JSONResponse:
    return await _coins_reply(request, _bank, by_denom=True)


async def spendable_balances(request: Request) -> JSONResponse:
    return await _coins_reply(request, abci.spendable_of, by_denom=False)


async def spendable_by_denom(request: Request) -> JSONResponse:
    return await _coins_reply(request, abci.spendable_of, by_denom=True)


async def _json_body(request: Request) -> dict | JSONResponse:
    try:
        return await read_json_object(request)
    except RequestError as exc:
        return bad_request(str(exc))


def _tx_bytes(body: dict) -> bytes | JSONResponse:
    raw = body.get("tx_bytes")
    if not raw:
        return bad_request("invalid empty tx: tx_bytes (base64) is required")
    if not isinstance(raw, str):
        return bad_request("tx_bytes must be a base64 string")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return bad_request("tx_bytes is not valid base64")


_MODES = {"BROADCAST_MODE_SYNC": "sync", "BROADCAST_MODE_ASYNC": "async", 2: "sync", 3: "async",
          "2": "sync", "3": "async"}


async def _tx_request(request: Request) -> tuple[dict, bytes] | JSONResponse:
    """The JSON body and its decoded tx_bytes, or the 400 reply that says what is wrong."""
    body = await _json_body(request)
    if isinstance(body, JSONResponse):
        return body
    tx = _tx_bytes(body)
    return tx if isinstance(tx, JSONResponse) else (body, tx)


async def broadcast(request: Request) -> JSONResponse:
    got = await _tx_request(request)
    if isinstance(got, JSONResponse):
        return got
    body, tx = got
    mode = body.get("mode", "BROADCAST_MODE_UNSPECIFIED")
    if not isinstance(mode, (str, int)) or mode not in _MODES:
        return bad_request(f"unsupported broadcast mode {mode}; use BROADCAST_MODE_SYNC or BROADCAST_MODE_ASYNC "
                           "(BROADCAST_MODE_BLOCK was removed in Cosmos SDK v0.50)")
    r = _chain(request).broadcast(tx)
    return JSONResponse({"tx_response": broadcast_response_json(r.hash, r.code, r.log, r.codespace)})


async def simulate(request: Request) -> JSONResponse:
    got = await _tx_request(request)
    if isinstance(got, JSONResponse):
        return got
    _body, tx = got
    outcome = _chain(request).simulate(tx)
    if not outcome.ok:
        return error(400, codes.GRPC_INVALID_ARGUMENT,
                     f"{outcome.log} With gas wanted: '{outcome.gas_wanted}' and gas used: '{outcome.gas_used}' ")
    resp = abci.simulate_response(outcome)
    return JSONResponse(MessageToDict(resp, preserving_proto_field_name=True,
                                      always_print_fields_with_no_presence=True))


async def get_tx(request: Request) -> JSONResponse:
    txhash = request.path_params["hash"]
    if not _HASH.fullmatch(txhash):
        return bad_request(f"invalid tx hash {txhash!r}: expected 64 hex characters")
    rec = _chain(request).tx(txhash)
    if rec is None:
        return error(404, codes.GRPC_NOT_FOUND, f"tx not found: {txhash.upper()}")
    tx = tx_json(rec.tx_bytes)
    return JSONResponse({"tx": tx, "tx_response": tx_response_json(rec, tx)})


def _int_param(request: Request, *names: str) -> int | None:
    for name in names:
        v = request.query_params.get(name)
        if v not in (None, ""):
            return parse_int(v, name)
    return None


def _events_query(events: list[str]) -> str:
    """The older `events=` form: key=value items (value quoted or not), AND-joined."""
    parts = []
    for e in events:
        key, sep, value = e.partition("=")
        if not sep or not key.strip():
            raise InputError(f"invalid event {e!r}: expected type.key='value'")
        value = value.strip()
        if not (value.startswith("'") and value.endswith("'")) and not re.fullmatch(r"-?[0-9]+", value):
            value = f"'{value}'"
        parts.append(f"{key.strip()}={value}")
    return " AND ".join(parts)


async def search_txs(request: Request) -> JSONResponse:
    q = request.query_params
    query = q.get("query", "")
    events = q.getlist("events")
    order = q.get("order_by", "ORDER_BY_UNSPECIFIED").upper()
    try:
        if not query and not events:
            raise InputError("query cannot be empty (e.g. query=message.sender='gonka1…')")
        if not query:
            query = _events_query(events)
        if order not in ("ORDER_BY_UNSPECIFIED", "ORDER_BY_ASC", "ORDER_BY_DESC", "0", "1", "2"):
            raise InputError(f"order_by must be ORDER_BY_ASC or ORDER_BY_DESC, got {order!r}")
        descending = order in ("ORDER_BY_DESC", "2")
        if q.get("pagination.reverse", "").lower() == "true" and order in ("ORDER_BY_UNSPECIFIED", "0"):
            descending = True
        limit = _int_param(request, "limit", "pagination.limit") or DEFAULT_LIMIT
        page = _int_param(request, "page")
        offset = _int_param(request, "pagination.offset")
        if not page:
            page = (offset // limit) + 1 if offset else 1
        total, records = _chain(request).search(query, page=page, per_page=limit, descending=descending)
    except InputError as exc:
        return bad_request(str(exc))
    txs = [tx_json(r.tx_bytes) for r in records]
    return JSONResponse({
        "txs": txs,
        "tx_responses": [tx_response_json(r, t) for r, t in zip(records, txs)],
        "pagination": _pagination(total),
        "total": str(total),
    })


def _rest_block(chain: Chain, valcons: bool) -> dict:
    info, txs = chain.block(None)
    header = header_json(chain.chain_id, info.height, info.time_ns, info.last_block_hash, info.data_hash,
                         info.app_hash, chain.proposer, encode=b64)
    last = header.pop("last_block_id")
    header["last_block_id"] = {"hash": last["hash"], "part_set_header": last["parts"]}
    if valcons:
        header["proposer_address"] = bech32_encode("gonkavalcons", chain.proposer)
    return {
        "header": header,
        "data": {"txs": [b64(t) for t in txs]},
        "evidence": {"evidence": []},
        "last_commit": {"height": str(max(info.height - 1, 0)), "round": 0,
                        "block_id": header["last_block_id"], "signatures": []},
    }


async def latest_block(request: Request) -> JSONResponse:
    chain = _chain(request)
    info = chain.latest
    return JSONResponse({
        "block_id": {"hash": b64(info.hash), "part_set_header": {"total": 1, "hash": b64(info.hash)}},
        "block": _rest_block(chain, False),
        "sdk_block": _rest_block(chain, True),
    })


async def node_info(request: Request) -> JSONResponse:
    chain = _chain(request)
    return JSONResponse({
        "default_node_info": {
            "protocol_version": {"p2p": "8", "block": "11", "app": "0"},
            "default_node_id": chain.proposer.hex(),
            "listen_addr": "tcp://127.0.0.1:26656",
            "network": chain.chain_id,
            "version": COMET_VERSION,
            "channels": "QCAhIiMwOGBhAA==",
            "moniker": NODE_NAME,
            "other": {"tx_index": "on", "rpc_address": "tcp://127.0.0.1:26657"},
        },
        "application_version": {
            "name": NODE_NAME, "app_name": "gonka devnet", "version": __version__, "git_commit": "",
            "build_tags": "", "go_version": "", "build_deps": [], "cosmos_sdk_version": "v0.50 (emulated)",
        },
        "latest_block_time": rfc3339_ns(chain.latest.time_ns),
    })


async def not_found(request: Request) -> JSONResponse:
    return error(404, codes.GRPC_NOT_FOUND, f"Not Found: {request.url.path} is not served by the devnet")


P = "/chain-api"
ROUTES = [
    Route(f"{P}/cosmos/auth/v1beta1/accounts/{{address}}", account),
    Route(f"{P}/cosmos/bank/v1beta1/balances/{{address}}", balances),
    Route(f"{P}/cosmos/bank/v1beta1/balances/{{address}}/by_denom", balance_by_denom),
    Route(f"{P}/cosmos/bank/v1beta1/spendable_balances/{{address}}", spendable_balances),
    Route(f"{P}/cosmos/bank/v1beta1/spendable_balances/{{address}}/by_denom", spendable_by_denom),
    Route(f"{P}/cosmos/tx/v1beta1/txs", broadcast, methods=["POST"]),
    Route(f"{P}/cosmos/tx/v1beta1/txs", search_txs, methods=["GET"]),
    Route(f"{P}/cosmos/tx/v1beta1/simulate", simulate, methods=["POST"]),
    Route(f"{P}/cosmos/tx/v1beta1/txs/{{hash}}", get_tx),
    Route(f"{P}/cosmos/base/tendermint/v1beta1/blocks/latest", latest_block),
    Route(f"{P}/cosmos/base/tendermint/v1beta1/node_info", node_info),
    *poc_api.CHAIN_ROUTES,  # params, participant, epoch_performance_summary, streamvesting
    Route(f"{P}/{{rest:path}}", not_found, methods=["GET", "POST"]),
]

__all__ = ["ROUTES"]
