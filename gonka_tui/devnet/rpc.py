"""`/chain-rpc/`: the CometBFT 0.38 JSON-RPC subset Cosmos clients use.

Both forms: JSON-RPC 2.0 POST to /chain-rpc or /chain-rpc/ (params by name or position), and
URI GET /chain-rpc/METHOD?arg=value. Byte params are base64 in JSON (`tx`, `hash`), except
abci_query's `data`, which CometBFT types as hex; in URIs they are 0x-hex. URI strings may be
double-quoted. Heights and other 64-bit numbers come back as strings, as CometBFT writes them.
"""

from __future__ import annotations

import base64
import binascii
import re

from gonka_tui import __version__
from gonka_tui.core.errors import InputError

from . import abci
from .blocks import EMPTY_HASH, header_json, rfc3339_ns
from .chain import Chain, StoredTx
from .limits import RequestError, parse_int, parse_json
from .shapes import b64

COMET_VERSION = "0.38.17"
NODE_NAME = "gonka-devnet"  # the node's moniker and application name (not the chain id)
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32601, -32602, -32603
_HEX = re.compile(r"^[0-9a-fA-F]*$")


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: str = "", http_status: int = 400) -> None:
        super().__init__(data or message)
        self.code, self.message, self.data, self.http_status = code, message, data, http_status

    def body(self, request_id) -> dict:
        return {"jsonrpc": "2.0", "id": request_id, "error": {"code": self.code, "message": self.message,
                                                                "data": self.data}}


def invalid_params(detail: str) -> RpcError:
    return RpcError(INVALID_PARAMS, "Invalid params", detail, 400)


class Params:
    """Named params from a JSON-RPC body (typed JSON) or a URI query (strings)."""

    def __init__(self, values: dict, uri: bool) -> None:
        self.values, self.uri = values, uri

    def _raw(self, name: str):
        return self.values.get(name)

    def string(self, name: str, default: str = "") -> str:
        v = self._raw(name)
        if v is None:
            return default
        if not isinstance(v, str):
            raise invalid_params(f"{name} must be a string")
        if self.uri and len(v) >= 2 and v[0] == v[-1] == '"':
            v = v[1:-1]
        return v

    def integer(self, name: str, default: int | None = None) -> int | None:
        """A whole number within int64 (what CometBFT parses): a JSON number or a (quoted) string of digits."""
        v = self._raw(name)
        if v is None or v == "" or v == '""':
            return default
        try:
            return parse_int(v.strip('"') if isinstance(v, str) else v, name)
        except InputError as exc:
            raise invalid_params(str(exc)) from None

    def boolean(self, name: str, default: bool = False) -> bool:
        v = self._raw(name)
        if v is None or v == "":
            return default
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip('"').lower() in ("true", "false"):
            return v.strip('"').lower() == "true"
        raise invalid_params(f"{name} must be true or false")

    def data(self, name: str, json_encoding: str) -> bytes:
        """Bytes: 0x-hex or a quoted string in a URI; base64 or hex (json_encoding) in JSON."""
        v = self._raw(name)
        if v is None or v == "":
            return b""
        if not isinstance(v, str):
            raise invalid_params(f"{name} must be a string")
        try:
            if self.uri:
                if v[:2].lower() == "0x":
                    return bytes.fromhex(v[2:])
                if len(v) >= 2 and v[0] == v[-1] == '"':
                    inner = v[1:-1]
                    return bytes.fromhex(inner) if len(inner) == 64 and _HEX.match(inner) else inner.encode()
                return bytes.fromhex(v) if _HEX.match(v) else base64.b64decode(v, validate=True)
            if json_encoding == "hex":
                s = v[2:] if v[:2].lower() == "0x" else v
                return bytes.fromhex(s) if _HEX.match(s) else base64.b64decode(v, validate=True)
            if len(v) == 64 and _HEX.match(v):  # a hex hash where base64 was expected
                return bytes.fromhex(v)
            return base64.b64decode(v, validate=True)
        except (ValueError, binascii.Error):
            raise invalid_params(f"{name} is not valid {'hex' if self.uri else json_encoding} bytes") from None


# ----- methods -----

def _node_info(chain: Chain) -> dict:
    return {
        "protocol_version": {"p2p": "8", "block": "11", "app": "0"},
        "id": chain.proposer.hex(),
        "listen_addr": "tcp://127.0.0.1:26656",
        "network": chain.chain_id,
        "version": COMET_VERSION,
        "channels": "40202122233038606100",
        "moniker": NODE_NAME,
        "other": {"tx_index": "on", "rpc_address": "tcp://127.0.0.1:26657"},
    }


def status(chain: Chain, p: Params) -> dict:
    latest, earliest = chain.latest, chain.earliest
    return {
        "node_info": _node_info(chain),
        "sync_info": {
            "latest_block_hash": latest.hash.hex().upper(),
            "latest_app_hash": latest.app_hash.hex().upper(),
            "latest_block_height": str(latest.height),
            "latest_block_time": rfc3339_ns(latest.time_ns),
            "earliest_block_hash": earliest.hash.hex().upper(),
            "earliest_app_hash": earliest.app_hash.hex().upper(),
            "earliest_block_height": str(earliest.height),
            "earliest_block_time": rfc3339_ns(earliest.time_ns),
            "catching_up": False,
        },
        "validator_info": {
            "address": chain.proposer.hex().upper(),
            "pub_key": {"type": "tendermint/PubKeySecp256k1", "value": b64(chain.node_signer.pubkey)},
            "voting_power": "10",
        },
    }


def abci_info(chain: Chain, p: Params) -> dict:
    return {"response": {"data": NODE_NAME, "version": __version__, "app_version": "0",
                         "last_block_height": str(chain.height), "last_block_app_hash": b64(chain.latest.app_hash)}}


def health(chain: Chain, p: Params) -> dict:
    return {}


def abci_query(chain: Chain, p: Params) -> dict:
    path = p.string("path")
    if not path:
        raise invalid_params("path is required, e.g. /cosmos.bank.v1beta1.Query/AllBalances")
    data = p.data("data", "hex")
    height = p.integer("height", 0)
    if height and height != chain.height:
        return {"response": {"code": 18, "log": f"this devnet answers queries at the latest height ({chain.height}) "
                             f"only, not at {height}: invalid request", "info": "", "index": "0", "key": None,
                             "value": None, "proofOps": None, "height": str(chain.height), "codespace": "sdk"}}
    r = abci.query(chain, path, data)
    return {"response": {"code": r.code, "log": r.log, "info": "", "index": "0", "key": None,
                         "value": b64(r.value) if r.value or not r.code else None, "proofOps": None,
                         "height": str(chain.height), "codespace": r.codespace}}


def _broadcast(chain: Chain, p: Params) -> dict:
    tx = p.data("tx", "base64")
    if not tx:
        raise invalid_params("tx is required (base64 in JSON, 0x-hex in a URI)")
    r = chain.broadcast(tx)
    return {"code": r.code, "data": "", "log": r.log, "codespace": r.codespace, "hash": r.hash}


def tx_result_json(rec: StoredTx) -> dict:
    r = rec.result
    return {"code": r["code"], "data": r["data"], "log": r["log"], "info": r["info"], "gas_wanted": r["gas_wanted"],
            "gas_used": r["gas_used"], "events": r["events"], "codespace": r["codespace"]}


def _tx_json(rec: StoredTx) -> dict:
    return {"hash": rec.hash, "height": str(rec.height), "index": rec.index, "tx_result": tx_result_json(rec),
            "tx": b64(rec.tx_bytes)}


def tx(chain: Chain, p: Params) -> dict:
    h = p.data("hash", "base64")
    if len(h) != 32:
        raise invalid_params("hash must be the 32-byte tx hash (base64 in JSON, 0x-hex in a URI)")
    rec = chain.tx(h.hex())
    if rec is None:
        raise RpcError(INTERNAL_ERROR, "Internal error", f"tx ({h.hex().upper()}) not found", 404)
    return _tx_json(rec)


def tx_search(chain: Chain, p: Params) -> dict:
    query = p.string("query")
    page = p.integer("page", 1) or 1
    per_page = p.integer("per_page", 30) or 30
    order = p.string("order_by", "asc").lower() or "asc"
    if order not in ("asc", "desc"):
        raise invalid_params("order_by must be asc or desc")
    try:
        total, records = chain.search(query, page=page, per_page=per_page, descending=order == "desc")
    except InputError as exc:
        raise RpcError(INTERNAL_ERROR, "Internal error", str(exc), 400) from None
    return {"txs": [_tx_json(r) for r in records], "total_count": str(total)}


def block(chain: Chain, p: Params) -> dict:
    height = p.integer("height")
    if height is not None and height <= 0:
        raise RpcError(INTERNAL_ERROR, "Internal error", f"height must be greater than 0, but got {height}", 400)
    found = chain.block(height)
    if found is None:
        raise RpcError(INTERNAL_ERROR, "Internal error",
                       f"height {height} must be less than or equal to the current blockchain height {chain.height}",
                       400)
    info, txs = found
    block_id = {"hash": info.hash.hex().upper(), "parts": {"total": 1, "hash": info.hash.hex().upper()}}
    prev = info.last_block_hash
    return {
        "block_id": block_id,
        "block": {
            "header": header_json(chain.chain_id, info.height, info.time_ns, prev, info.data_hash, info.app_hash,
                                  chain.proposer),
            "data": {"txs": [b64(t) for t in txs]},
            "evidence": {"evidence": []},
            "last_commit": {
                "height": str(info.height - 1), "round": 0,
                "block_id": ({"hash": prev.hex().upper(), "parts": {"total": 1, "hash": prev.hex().upper()}} if prev
                             else {"hash": "", "parts": {"total": 0, "hash": ""}}),
                "signatures": ([{"block_id_flag": 2, "validator_address": chain.proposer.hex().upper(),
                                 "timestamp": rfc3339_ns(info.time_ns), "signature": b64(EMPTY_HASH * 2)}]
                               if prev else []),
            },
        },
    }


METHODS = {
    "status": (status, ()),
    "abci_info": (abci_info, ()),
    "health": (health, ()),
    "abci_query": (abci_query, ("path", "data", "height", "prove")),
    "broadcast_tx_sync": (_broadcast, ("tx",)),
    "broadcast_tx_async": (_broadcast, ("tx",)),
    "tx": (tx, ("hash", "prove")),
    "tx_search": (tx_search, ("query", "prove", "page", "per_page", "order_by")),
    "block": (block, ("height",)),
}


def call(chain: Chain, method: str, params, *, uri: bool) -> dict:
    entry = METHODS.get(method)
    if entry is None:
        raise RpcError(METHOD_NOT_FOUND, "Method not found", f"unknown method {method[:64]!r}; this devnet serves "
                       f"{', '.join(sorted(METHODS))}", 404)
    func, names = entry
    if params is None:
        params = {}
    if isinstance(params, list):
        if len(params) > len(names):
            raise invalid_params(f"{method} takes at most {len(names)} params")
        params = dict(zip(names, params))
    if not isinstance(params, dict):
        raise invalid_params("params must be an object or an array")
    return func(chain, Params(params, uri))


def handle_json(chain: Chain, body: bytes) -> tuple[object, int]:
    """A JSON-RPC POST body (one request or a batch) → (response JSON, HTTP status)."""
    try:
        req = parse_json(body)
    except RequestError as exc:
        return RpcError(PARSE_ERROR, "Parse error", str(exc)).body(None), 400
    if isinstance(req, list):
        if not req:
            return RpcError(INVALID_REQUEST, "Invalid Request", "empty batch").body(None), 400
        return [_one(chain, r) for r in req], 200
    return _one(chain, req), 200


def _one(chain: Chain, req) -> dict:
    if not isinstance(req, dict) or not isinstance(req.get("method"), str):
        rid = req.get("id") if isinstance(req, dict) else None
        return RpcError(INVALID_REQUEST, "Invalid Request", "expected {jsonrpc, id, method, params}").body(rid)
    rid = req.get("id", -1)
    if isinstance(rid, bool) or not isinstance(rid, (str, int, float, type(None))):
        # CometBFT takes a string or a number as the id (a number is an int: 1.5 is 1).
        return RpcError(INVALID_REQUEST, "Invalid Request", "the id must be a string, a number or null").body(None)
    if isinstance(rid, float):
        rid = int(rid)
    try:
        return {"jsonrpc": "2.0", "id": rid, "result": call(chain, req["method"], req.get("params"), uri=False)}
    except RpcError as exc:
        return exc.body(rid)


def handle_uri(chain: Chain, method: str, query: dict) -> tuple[dict, int]:
    try:
        return {"jsonrpc": "2.0", "id": -1, "result": call(chain, method, dict(query), uri=True)}, 200
    except RpcError as exc:
        return exc.body(-1), exc.http_status
