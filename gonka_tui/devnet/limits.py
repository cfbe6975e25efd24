"""Limits on what a request may bring (a node behind nginx has the same kind)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

# A tx is at most 1 MiB (CometBFT's max_tx_bytes); in base64 inside JSON that is about 1.4 MB.
MAX_BODY_BYTES = 2 * 1024 * 1024
# CometBFT's mempool holds 5000 txs by default; the devnet's blocks take the whole mempool, so a
# larger cap only matters under a flood.
MAX_MEMPOOL_TXS = 20_000


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 (as JSON, by the app's handler) beyond MAX_BODY_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(413, f"request body too large (at most {MAX_BODY_BYTES} bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"request body too large (at most {MAX_BODY_BYTES} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)
