"""Protobuf and JSON shapes the APIs share: accounts, txs, tx responses, coins.

JSON follows the gRPC-gateway of a Cosmos SDK node: proto field names, Any as "@type",
64-bit integers as strings, default values written out.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction

from google.protobuf import any_pb2
from starlette.responses import JSONResponse
from google.protobuf.json_format import MessageToDict

from gonka_tui.core.network_constants import BASE_DENOM
from gonka_tui.core.proto.cosmos.auth.v1beta1 import auth_pb2
from gonka_tui.core.proto.cosmos.bank.v1beta1 import tx_pb2 as bank_tx_pb2  # noqa: F401 - registers MsgSend
from gonka_tui.core.proto.cosmos.base.v1beta1 import coin_pb2
from gonka_tui.core.proto.cosmos.crypto.secp256k1 import keys_pb2
from gonka_tui.core.proto.cosmos.tx.v1beta1 import tx_pb2
from gonka_tui.core.proto.cosmos.vesting.v1beta1 import vesting_pb2
from gonka_tui.core.tx import SECP256K1_PUBKEY

from .accounts import LedgerAccount
from .chain import StoredTx

BASE_ACCOUNT = "/cosmos.auth.v1beta1.BaseAccount"
MODULE_ACCOUNT = "/cosmos.auth.v1beta1.ModuleAccount"
CONTINUOUS_VESTING = "/cosmos.vesting.v1beta1.ContinuousVestingAccount"
TX_TYPE = "/cosmos.tx.v1beta1.Tx"


def coin_json(amount: int, denom: str = BASE_DENOM) -> dict:
    return {"denom": denom, "amount": str(amount)}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def format_price(price: Fraction) -> str:
    if price.denominator == 1:
        return str(price.numerator)
    return format(Decimal(price.numerator) / Decimal(price.denominator), "f")


# ----- accounts -----

def _base_account_pb(a: LedgerAccount) -> auth_pb2.BaseAccount:
    msg = auth_pb2.BaseAccount(address=a.address, account_number=a.number, sequence=a.sequence)
    if a.pubkey:
        msg.pub_key.CopyFrom(any_pb2.Any(type_url=SECP256K1_PUBKEY,
                                         value=keys_pb2.PubKey(key=a.pubkey).SerializeToString()))
    return msg


def account_any(a: LedgerAccount) -> any_pb2.Any:
    """The account as the auth module's Query/Account returns it (BaseAccount, vesting or module)."""
    base = _base_account_pb(a)
    if a.vesting is not None:
        v = a.vesting
        msg = vesting_pb2.ContinuousVestingAccount(
            base_vesting_account=vesting_pb2.BaseVestingAccount(
                base_account=base, original_vesting=[coin_pb2.Coin(denom=BASE_DENOM, amount=str(v.original))],
                end_time=v.end_time),
            start_time=v.start_time)
        return any_pb2.Any(type_url=CONTINUOUS_VESTING, value=msg.SerializeToString())
    if a.module:
        msg = auth_pb2.ModuleAccount(base_account=base, name=a.module)
        return any_pb2.Any(type_url=MODULE_ACCOUNT, value=msg.SerializeToString())
    return any_pb2.Any(type_url=BASE_ACCOUNT, value=base.SerializeToString())


def _base_account_json(a: LedgerAccount) -> dict:
    return {
        "address": a.address,
        "pub_key": {"@type": SECP256K1_PUBKEY, "key": b64(a.pubkey)} if a.pubkey else None,
        "account_number": str(a.number),
        "sequence": str(a.sequence),
    }


def account_json(a: LedgerAccount) -> dict:
    if a.vesting is not None:
        v = a.vesting
        return {
            "@type": CONTINUOUS_VESTING,
            "base_vesting_account": {
                "base_account": _base_account_json(a),
                "original_vesting": [coin_json(v.original)],
                "delegated_free": [],
                "delegated_vesting": [],
                "end_time": str(v.end_time),
            },
            "start_time": str(v.start_time),
        }
    if a.module:
        return {"@type": MODULE_ACCOUNT, "base_account": _base_account_json(a), "name": a.module, "permissions": []}
    return {"@type": BASE_ACCOUNT, **_base_account_json(a)}


# ----- txs -----

def tx_json(tx_bytes: bytes) -> dict | None:
    """The decoded Tx as the gateway writes it (body with "@type" messages, auth_info, signatures)."""
    try:
        tx = tx_pb2.Tx.FromString(tx_bytes)
        return MessageToDict(tx, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    except Exception:  # noqa: BLE001 - only accepted (well-formed) txs are stored; be safe anyway
        return None


def rfc3339_seconds(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns // 1_000_000_000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def tx_response_json(rec: StoredTx, tx: dict | None = None) -> dict:
    """The SDK's TxResponse for a committed tx."""
    r = rec.result
    tx = tx if tx is not None else tx_json(rec.tx_bytes)
    return {
        "height": str(rec.height),
        "txhash": rec.hash,
        "codespace": r["codespace"],
        "code": r["code"],
        "data": base64.b64decode(r["data"]).hex().upper(),
        "raw_log": r["log"],
        "logs": [],
        "info": r["info"],
        "gas_wanted": r["gas_wanted"],
        "gas_used": r["gas_used"],
        "tx": {"@type": TX_TYPE, **tx} if tx is not None else None,
        "timestamp": rfc3339_seconds(rec.time_ns),
        "events": r["events"],
    }


def broadcast_response_json(txhash: str, code: int, log: str, codespace: str) -> dict:
    return {
        "height": "0", "txhash": txhash, "codespace": codespace, "code": code, "data": "", "raw_log": log,
        "logs": [], "info": "", "gas_wanted": "0", "gas_used": "0", "tx": None, "timestamp": "", "events": [],
    }


def gateway_error(status: int, grpc_code: int, message: str) -> JSONResponse:
    """An error as the chain's REST gateway writes it: {"code": <gRPC code>, "message", "details": []}."""
    return JSONResponse({"code": grpc_code, "message": message, "details": []}, status_code=status)
