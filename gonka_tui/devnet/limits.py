"""Limits on what a request may bring (a node behind nginx has the same kind), and the one parser of
request bodies and request integers every route uses, so that bad input is a 4xx and never a 500."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from gonka_tui.core import strict_json
from gonka_tui.core.errors import InputError, shown
from gonka_tui.core.integers import parse_uint

# A tx is at most 1 MiB (CometBFT's max_tx_bytes); in base64 inside JSON that is about 1.4 MB.
MAX_BODY_BYTES = 2 * 1024 * 1024
# CometBFT's mempool holds 5000 txs by default; the devnet's blocks take the whole mempool, so a
# larger cap only matters under a flood.
MAX_MEMPOOL_TXS = 20_000
# No request the devnet serves nests deeper than a handful of levels.
MAX_JSON_DEPTH = 64
# Heights, pages and amounts are int64 on a node (and SQLite's INTEGER is int64 too).
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
MAX_JSON_INT_DIGITS = 100  # int() of a long digit string is slow; no request needs one


class RequestError(InputError):
    """A request value the devnet refuses (400), with a message naming what is wrong."""


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 (as JSON, by the app's handler) beyond MAX_BODY_BYTES."""
    declared = request.headers.get("content-length", "")
    # Headers are Latin-1 text: "²" passes str.isdigit() but not int(); a longer number is not converted.
    digits = declared.lstrip("0") if declared.isascii() and declared.isdigit() else ""
    if len(digits) > len(str(MAX_BODY_BYTES)) or (digits and int(digits) > MAX_BODY_BYTES):
        raise HTTPException(413, f"request body too large (at most {MAX_BODY_BYTES} bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"request body too large (at most {MAX_BODY_BYTES} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> object:
    """A request body as JSON: UTF-8, standard JSON only (no NaN or Infinity), nesting bounded."""
    try:
        return strict_json.loads(body, max_depth=MAX_JSON_DEPTH, max_int_digits=MAX_JSON_INT_DIGITS)
    except strict_json.JsonRefused as exc:
        raise RequestError(f"the body {exc}") from None


async def read_json_object(request: Request) -> dict:
    """The body of a POST route that takes a JSON object."""
    body = parse_json(await read_body(request))
    if not isinstance(body, dict):
        raise RequestError("the body must be a JSON object")
    return body


def parse_int(value: object, name: str, *, low: int = 0, high: int = INT64_MAX) -> int:
    """A whole number from a request, from `low` to `high`: a JSON integer, or a string of ASCII digits
    (checked by the core's parse_uint before any int() runs). Else an InputError naming `name`."""
    if isinstance(value, str):
        return parse_uint(value, what=name, minimum=low, maximum=high)
    if type(value) is int and low <= value <= high:  # not bool, not float
        return value
    raise RequestError(f"{name} must be a whole number from {low} to {high}, not {shown(value)}")
