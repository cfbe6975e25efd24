"""abci_query: the gRPC query paths a Cosmos client sends through CometBFT, protobuf in and out.

Errors come back as an SDK node writes them: a non-zero code (codespace sdk) and a log such as
`rpc error: code = NotFound desc = account gonka1… not found: key not found` (code 22), which
is what cosmjs (/rpc error: code = NotFound/ → null) and gonka-wallet (code 22) look for.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from gonka_tui.core.errors import InputError
from gonka_tui.core.network_constants import BASE_DENOM
from gonka_tui.core.proto.cosmos.auth.v1beta1 import query_pb2 as auth_query
from gonka_tui.core.proto.cosmos.bank.v1beta1 import query_pb2 as bank_query
from gonka_tui.core.proto.cosmos.base.abci.v1beta1 import abci_pb2
from gonka_tui.core.proto.cosmos.base.query.v1beta1 import pagination_pb2
from gonka_tui.core.proto.cosmos.base.v1beta1 import coin_pb2
from gonka_tui.core.proto.cosmos.tx.v1beta1 import service_pb2
from gonka_tui.core.proto.tendermint.abci import types_pb2

from . import codes
from .accounts import LedgerAccount
from .chain import Chain
from .codes import QueryError
from .shapes import account_any

_GRPC_NAMES = {3: "InvalidArgument", 5: "NotFound"}


@dataclass(frozen=True)
class QueryResult:
    code: int = 0
    log: str = ""
    value: bytes = b""

    @property
    def codespace(self) -> str:
        return codes.CODESPACE if self.code else ""


# ----- queries shared with the REST API -----

def account_or_error(chain: Chain, address: str) -> LedgerAccount:
    if not address:
        raise codes.invalid_argument("empty address string is not allowed")
    try:
        account = chain.account(address)
    except InputError as exc:
        raise codes.invalid_argument(f"invalid address: {exc}") from None
    if account is None:
        raise codes.not_found(f"account {address} not found")
    return account


def maybe_account(chain: Chain, address: str) -> LedgerAccount | None:
    if not address:
        raise codes.invalid_argument("empty address string is not allowed")
    try:
        return chain.account(address)
    except InputError as exc:
        raise codes.invalid_argument(f"invalid address: {exc}") from None


def check_denom(denom: str) -> None:
    if not denom:
        raise codes.invalid_argument("invalid denom: empty")


def balance_of(account: LedgerAccount | None, denom: str) -> int:
    return account.balance if account is not None and denom == BASE_DENOM else 0


def spendable_of(chain: Chain, account: LedgerAccount | None, denom: str = BASE_DENOM) -> int:
    return chain.spendable(account) if denom == BASE_DENOM else 0


# ----- the ABCI paths -----

def _coins(amount: int) -> list[coin_pb2.Coin]:
    return [coin_pb2.Coin(denom=BASE_DENOM, amount=str(amount))] if amount else []


def _parse(message_type, data: bytes):
    try:
        return message_type.FromString(data)
    except (DecodeError, ValueError, RuntimeWarning):
        raise codes.invalid_argument("the request is not a valid protobuf message") from None


def _account(chain: Chain, data: bytes) -> bytes:
    req = _parse(auth_query.QueryAccountRequest, data)
    account = account_or_error(chain, req.address)
    return auth_query.QueryAccountResponse(account=account_any(account)).SerializeToString()


def _balance(chain: Chain, data: bytes) -> bytes:
    req = _parse(bank_query.QueryBalanceRequest, data)
    account = maybe_account(chain, req.address)
    check_denom(req.denom)
    return bank_query.QueryBalanceResponse(
        balance=coin_pb2.Coin(denom=req.denom, amount=str(balance_of(account, req.denom)))).SerializeToString()


def _all_balances(chain: Chain, data: bytes) -> bytes:
    req = _parse(bank_query.QueryAllBalancesRequest, data)
    coins = _coins(balance_of(maybe_account(chain, req.address), BASE_DENOM))
    return bank_query.QueryAllBalancesResponse(
        balances=coins, pagination=pagination_pb2.PageResponse(total=len(coins))).SerializeToString()


def _spendable_balances(chain: Chain, data: bytes) -> bytes:
    req = _parse(bank_query.QuerySpendableBalancesRequest, data)
    coins = _coins(spendable_of(chain, maybe_account(chain, req.address)))
    return bank_query.QuerySpendableBalancesResponse(
        balances=coins, pagination=pagination_pb2.PageResponse(total=len(coins))).SerializeToString()


def _spendable_by_denom(chain: Chain, data: bytes) -> bytes:
    req = _parse(bank_query.QuerySpendableBalanceByDenomRequest, data)
    account = maybe_account(chain, req.address)
    check_denom(req.denom)
    return bank_query.QuerySpendableBalanceByDenomResponse(
        balance=coin_pb2.Coin(denom=req.denom, amount=str(spendable_of(chain, account, req.denom)))
    ).SerializeToString()


def simulate_tx_bytes(data: bytes) -> bytes:
    req = _parse(service_pb2.SimulateRequest, data)
    if req.tx_bytes:
        return req.tx_bytes
    if req.HasField("tx"):
        return req.tx.SerializeToString()
    raise codes.invalid_argument("empty txBytes is not allowed")


def simulate_response(outcome) -> service_pb2.SimulateResponse:
    events = [types_pb2.Event(type=t, attributes=[types_pb2.EventAttribute(key=k, value=v, index=True)
                                                   for k, v in attrs]) for t, attrs in outcome.events]
    result = abci_pb2.Result(data=outcome.data, events=events)
    result.msg_responses.extend(
        abci_pb2.TxMsgData.FromString(outcome.data).msg_responses if outcome.data else [])
    return service_pb2.SimulateResponse(
        gas_info=abci_pb2.GasInfo(gas_wanted=outcome.gas_wanted, gas_used=outcome.gas_used), result=result)


def _simulate(chain: Chain, data: bytes) -> bytes | QueryResult:
    outcome = chain.simulate(simulate_tx_bytes(data))
    if not outcome.ok:
        return QueryResult(outcome.code, outcome.log)
    return simulate_response(outcome).SerializeToString()


PATHS = {
    "/cosmos.auth.v1beta1.Query/Account": _account,
    "/cosmos.bank.v1beta1.Query/Balance": _balance,
    "/cosmos.bank.v1beta1.Query/AllBalances": _all_balances,
    "/cosmos.bank.v1beta1.Query/SpendableBalances": _spendable_balances,
    "/cosmos.bank.v1beta1.Query/SpendableBalanceByDenom": _spendable_by_denom,
    "/cosmos.tx.v1beta1.Service/Simulate": _simulate,
}


def query(chain: Chain, path: str, data: bytes) -> QueryResult:
    handler = PATHS.get(path)
    if handler is None:
        return QueryResult(codes.UNKNOWN_REQUEST, codes.sdk_log(codes.UNKNOWN_REQUEST, f"unknown query path {path}"))
    try:
        out = handler(chain, data)
    except QueryError as exc:
        grpc = _GRPC_NAMES.get(exc.grpc_code, "Unknown")
        return QueryResult(exc.code, f"rpc error: code = {grpc} desc = {exc.message}: {codes.DESCRIPTION[exc.code]}")
    return out if isinstance(out, QueryResult) else QueryResult(0, "", out)
