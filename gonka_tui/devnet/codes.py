"""Cosmos SDK error codes (codespace "sdk") and logs shaped like an SDK node's: "detail: description"."""

from __future__ import annotations

CODESPACE = "sdk"

TX_DECODE = 2
UNAUTHORIZED = 4
INSUFFICIENT_FUNDS = 5
UNKNOWN_REQUEST = 6
INVALID_ADDRESS = 7
INVALID_PUBKEY = 8
UNKNOWN_ADDRESS = 9
INVALID_COINS = 10
OUT_OF_GAS = 11
MEMO_TOO_LARGE = 12
INSUFFICIENT_FEE = 13
NO_SIGNATURES = 15
INVALID_REQUEST = 18
TX_IN_MEMPOOL = 19
MEMPOOL_FULL = 20
TX_TOO_LARGE = 21
KEY_NOT_FOUND = 22
TX_TIMEOUT_HEIGHT = 30
UNKNOWN_EXTENSION_OPTIONS = 31
WRONG_SEQUENCE = 32
NOT_SUPPORTED = 37

DESCRIPTION = {
    TX_DECODE: "tx parse error",
    UNAUTHORIZED: "unauthorized",
    INSUFFICIENT_FUNDS: "insufficient funds",
    UNKNOWN_REQUEST: "unknown request",
    INVALID_ADDRESS: "invalid address",
    INVALID_PUBKEY: "invalid pubkey",
    UNKNOWN_ADDRESS: "unknown address",
    INVALID_COINS: "invalid coins",
    OUT_OF_GAS: "out of gas",
    MEMO_TOO_LARGE: "memo too large",
    INSUFFICIENT_FEE: "insufficient fee",
    NO_SIGNATURES: "no signatures supplied",
    INVALID_REQUEST: "invalid request",
    TX_IN_MEMPOOL: "tx already in mempool",
    MEMPOOL_FULL: "mempool is full",
    TX_TOO_LARGE: "tx too large",
    KEY_NOT_FOUND: "key not found",
    TX_TIMEOUT_HEIGHT: "tx timeout height",
    UNKNOWN_EXTENSION_OPTIONS: "unknown extension options",
    WRONG_SEQUENCE: "incorrect account sequence",
    NOT_SUPPORTED: "feature not supported",
}


# x/inference's own errors (codespace "inference"), with the chain's codes (types/errors.go).
INFERENCE_CODESPACE = "inference"
PARTICIPANT_NOT_FOUND = 1103
POC_WRONG_START = 1107
POC_TOO_LATE = 1108
POC_NONCE_NOT_ACCEPTED = 1109
CLAIM_SIGNATURE_INVALID = 1116
EPOCH_NOT_FOUND = 1136
ILLEGAL_STATE = 1137

INFERENCE_DESCRIPTION = {
    PARTICIPANT_NOT_FOUND: "participant not found",
    POC_WRONG_START: "PoC start block height does not match the current round",
    POC_TOO_LATE: "POC submission is too late",
    POC_NONCE_NOT_ACCEPTED: "POC nonce not accepted",
    CLAIM_SIGNATURE_INVALID: "claim signature invalid",
    EPOCH_NOT_FOUND: "epoch not found",
    ILLEGAL_STATE: "illegal state for the operation requested",
}


def sdk_log(code: int, detail: str = "", codespace: str = CODESPACE) -> str:
    """The log an SDK node writes for a wrapped error: 'detail: description' (or the description)."""
    desc = (INFERENCE_DESCRIPTION if codespace == INFERENCE_CODESPACE else DESCRIPTION)[code]
    return f"{detail}: {desc}" if detail else desc


class TxError(Exception):
    """A transaction refused by the chain rules; nothing was changed."""

    def __init__(self, code: int, detail: str = "", *, gas_used: int = 0, codespace: str = CODESPACE) -> None:
        self.code = code
        self.codespace = codespace
        self.log = sdk_log(code, detail, codespace)
        self.gas_used = gas_used
        super().__init__(self.log)


def inference_error(code: int, detail: str = "") -> TxError:
    return TxError(code, detail, codespace=INFERENCE_CODESPACE)


class QueryError(Exception):
    """A query that failed: an ABCI code (codespace sdk), a gRPC status code and an HTTP status."""

    def __init__(self, code: int, message: str, *, grpc_code: int = 3, http_status: int = 400) -> None:
        self.code = code
        self.message = message
        self.grpc_code = grpc_code
        self.http_status = http_status
        super().__init__(message)


# gRPC status codes used in REST error bodies ({"code": grpc, "message": ..., "details": []}).
GRPC_INVALID_ARGUMENT = 3
GRPC_NOT_FOUND = 5


def not_found(message: str) -> QueryError:
    return QueryError(KEY_NOT_FOUND, message, grpc_code=GRPC_NOT_FOUND, http_status=404)


def invalid_argument(message: str, code: int = INVALID_REQUEST) -> QueryError:
    return QueryError(code, message, grpc_code=GRPC_INVALID_ARGUMENT, http_status=400)
