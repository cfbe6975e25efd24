"""Paid inference over HTTP, as a Gonka node serves it (network.md §2 and §4; contract §B of issue 10):

    GET  /v1/models, /v1/governance/models       {"models": [Model]}        (models.py)
    GET  /v1/pricing, /v1/governance/pricing     {"unit_of_compute_price", "models", "dynamic_pricing_enabled"}
    POST /v1/chat/completions                    signed (inference_auth.py); OpenAI chat body; JSON or SSE

A request runs: signature check (401) → body (400) → model (404) → backend usable (503) → queue room (429) →
escrow: the node signs and broadcasts MsgStartInference, whose CheckTx is the escrow rule (402 when the balance
is short, before any generation) → generation on the text backend, in a task of its own → the node broadcasts
MsgFinishInference with the real usage: the charge goes to the node, the rest back to the requester. A client
that leaves mid-stream is charged for what was generated (the prompt estimated at PROMPT_CHARS_PER_TOKEN, since
the model reports its count only at the end); a backend failure is refunded in full. Every refusal is an
OpenAI-style error body and costs nothing. The broker (broker.py) uses the same path with its own account.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import time
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gonka_tui.core.errors import InputError, shown
from gonka_tui.core.network_constants import DEFAULT_MAX_TOKENS
from gonka_tui.core.proto.inference.inference import tx_pb2 as inference_tx
from gonka_tui.core.tx import MSG_FINISH_INFERENCE, MSG_START_INFERENCE, pack_any

from . import codes
from .inference_auth import AuthError, ReplayBusy, RequestVerifier
from .inference_rules import MAX_TOKENS, charge_amount, escrow_amount
from .limits import parse_json, read_body
from .models import Catalogue
from .text_backend import BackendError, BackendUnavailable, ChatJob, Finished

MAX_QUEUED = 16  # jobs waiting or running before new requests get 429
RETRY_AFTER_S = 2
PROMPT_CHARS_PER_TOKEN = 4  # the prompt's token estimate when a stream is cut before the model's usage
MAX_MESSAGES = 1024
MAX_STOPS = 4
MAX_STOP_CHARS = 256
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def openai_error(status: int, message: str, kind: str, code: str | None = None,
                 headers: dict | None = None) -> JSONResponse:
    """An error as OpenAI-compatible servers write it."""
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}}, status_code=status,
                        headers=headers)


class RequestRefused(Exception):
    """A request answered with an error body and no charge."""

    def __init__(self, status: int, message: str, kind: str, code: str | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.headers = status, message, kind, code, headers

    def response(self) -> JSONResponse:
        return openai_error(self.status, self.message, self.kind, self.code, self.headers)


def _bad(message: str) -> RequestRefused:
    return RequestRefused(400, message, "invalid_request_error")


# ----- the request body -----

@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[tuple[str, str], ...]
    max_tokens: int | None
    temperature: float
    top_p: float
    seed: int | None
    stop: tuple[str, ...]
    repetition_penalty: float | None
    stream: bool
    include_usage: bool

    @property
    def prompt_chars(self) -> int:
        """Code points of all messages' content: the chain's prompt "token" count for the escrow."""
        return sum(len(content) for _, content in self.messages)


def _number(body: dict, name: str, default: float, low: float, high: float, *, open_low: bool = False) -> float:
    value = body.get(name)
    if value is None:
        return default
    if type(value) not in (int, float) or not (low < value if open_low else low <= value) or not value <= high:
        raise _bad(f"{name} must be a number from {low} {'(exclusive) ' if open_low else ''}to {high}, "
                   f"not {shown(value)}")
    return float(value)


def _content(value, i: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise _bad(f"messages[{i}].content: only text parts ({{\"type\": \"text\", \"text\": …}}) are served")
            parts.append(part["text"])
        return "".join(parts)
    raise _bad(f"messages[{i}].content must be a string or a list of text parts")


def parse_chat_body(raw: bytes) -> ChatRequest:
    try:
        body = parse_json(raw)
    except InputError as exc:
        raise _bad(str(exc)) from None
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object (an OpenAI chat completion request)")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("model is required (GET /v1/models lists them)")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages must be a non-empty list of {role, content}")
    if len(messages) > MAX_MESSAGES:
        raise _bad(f"at most {MAX_MESSAGES} messages per request")
    parsed = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise _bad(f"messages[{i}] must be an object {{role, content}}")
        role = ROLES.get(m.get("role"))
        if role is None:
            raise _bad(f"messages[{i}].role must be system, user or assistant, not {shown(m.get('role'))}")
        parsed.append((role, _content(m.get("content"), i)))
    max_tokens = None
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is not None:
            if type(value) is not int or not 1 <= value <= MAX_TOKENS:
                raise _bad(f"{name} must be a whole number from 1 to {MAX_TOKENS}, not {shown(value)}")
            max_tokens = value
            break
    n = body.get("n")
    if n is not None and n != 1:
        raise _bad("n must be 1: the devnet makes one answer per request")
    if body.get("tools") or body.get("functions"):
        raise _bad("tool calling is not served by the devnet's model")
    seed = body.get("seed")
    if seed is not None and (type(seed) is not int or not -2**63 <= seed < 2**63):
        raise _bad(f"seed must be a whole number (int64), not {shown(seed)}")
    stop = body.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(stop) if isinstance(stop, list) else () if stop is None \
        else None
    if stops is None or len(stops) > MAX_STOPS or any(not isinstance(s, str) or not s or len(s) > MAX_STOP_CHARS
                                                      for s in stops):
        raise _bad(f"stop must be a string or a list of at most {MAX_STOPS} non-empty strings")
    penalty = body.get("repetition_penalty")  # vLLM's extension (OpenAI has none); unset: the backend's default
    if penalty is not None and (type(penalty) not in (int, float) or not 0 < penalty <= 2):
        raise _bad(f"repetition_penalty must be a number above 0 and at most 2, not {shown(penalty)}")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _bad("stream must be true or false")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _bad("stream_options must be an object")
    include_usage = bool((options or {}).get("include_usage")) if stream else False
    return ChatRequest(model, tuple(parsed), max_tokens, _number(body, "temperature", 0.0, 0, 2),
                       _number(body, "top_p", 1.0, 0, 1, open_low=True), seed, stops,
                       None if penalty is None else float(penalty), stream, include_usage)


# ----- one generation -----

@dataclass(frozen=True)
class Settlement:
    prompt_tokens: int
    completion_tokens: int
    charge: int  # ngonka
    finish_reason: str | None


class Generation:
    """One paid inference after its escrow: the backend's stream runs in a task of its own (a client that leaves
    cancels it, and the settlement still runs there, outside the request's cancellation), the pieces reach the
    response through a queue, and the settlement is broadcast once, whatever happens."""

    def __init__(self, service: InferenceService, request: ChatRequest, *, inference_id: str, requester: str,
                 escrow: int, generation_max: int) -> None:
        self.service = service
        self.request = request
        self.inference_id = inference_id
        self.requester = requester
        self.escrow = escrow
        self.job = ChatJob(messages=request.messages, max_tokens=generation_max, temperature=request.temperature,
                           top_p=request.top_p, seed=request.seed, stop=request.stop,
                           repetition_penalty=request.repetition_penalty)
        self.pieces = 0
        self.settlement: Settlement | None = None
        self._queue: asyncio.Queue = asyncio.Queue()
        self._first = None
        self._task = asyncio.create_task(self._run(), name=f"inference {inference_id[:12]}")

    async def _run(self) -> None:
        agen = self.service.backend.stream(self.job)
        finished: Finished | None = None
        try:
            try:
                async for item in agen:
                    if isinstance(item, Finished):
                        finished = item
                        break
                    if item:
                        self.pieces += 1
                        self._queue.put_nowait(item)
            finally:
                await agen.aclose()
        except asyncio.CancelledError:  # the client left: charge what was generated (nothing, if still queued)
            if finished is not None:
                self._settle(finished.prompt_tokens, finished.completion_tokens, finished.finish_reason)
            else:
                estimate = math.ceil(self.request.prompt_chars / PROMPT_CHARS_PER_TOKEN) if self.pieces else 0
                self._settle(estimate, self.pieces, None)
            raise
        except (BackendUnavailable, BackendError) as exc:
            self._fail(exc)
            return
        except Exception as exc:  # noqa: BLE001 - a backend bug: refund, say so, keep serving
            self.service.log(f"inference {self.inference_id[:12]}…: backend error {type(exc).__name__}: {exc}")
            self._fail(BackendError("the model failed while generating"))
            return
        if finished is None:
            self._fail(BackendError("the model stopped without reporting its usage"))
            return
        self._settle(finished.prompt_tokens, finished.completion_tokens, finished.finish_reason)
        self._queue.put_nowait(finished)

    def _fail(self, exc: Exception) -> None:
        self._settle(0, 0, None)  # a failure is refunded in full
        self._queue.put_nowait(exc)

    def _settle(self, prompt_tokens: int, completion_tokens: int, reason: str | None) -> None:
        if self.settlement is not None:
            return
        charge = charge_amount(prompt_tokens, completion_tokens, self.service.price_per_token, self.escrow)
        self.settlement = Settlement(prompt_tokens, completion_tokens, charge, reason)
        self.service.finish(self, prompt_tokens, completion_tokens)

    def cancel(self) -> None:
        if self.settlement is None and not self._task.done():
            self._task.cancel()

    async def first(self):
        """Wait for the first piece (or the end, or the error) before answering: a model that cannot start
        gives an HTTP error rather than a broken stream."""
        self._first = await self._queue.get()
        return self._first

    async def items(self) -> AsyncIterator[str | Finished | Exception]:
        item = self._first if self._first is not None else await self._queue.get()
        self._first = None
        while True:
            yield item
            if not isinstance(item, str):
                return
            item = await self._queue.get()


# ----- the service -----

class InferenceService:
    """The node's paid inference: the catalogue, the request check, the escrow and settlement txs."""

    def __init__(self, chain, backend, catalogue: Catalogue, log: Callable[[str], None] = lambda _m: None) -> None:
        self.chain = chain
        self.backend = backend
        self.catalogue = catalogue
        self.log = log
        self.verifier = RequestVerifier(chain)
        chain.rules.price_per_token = catalogue.pricing.price_per_token

    @property
    def price_per_token(self) -> int:
        return self.catalogue.pricing.price_per_token

    def _check_servable(self, request: ChatRequest) -> None:
        known = [self.catalogue.model_id]
        if request.model not in known:
            raise RequestRefused(404, f"model {shown(request.model, 100)} is not served here; models: "
                                 f"{', '.join(known)}", "invalid_request_error", "model_not_found")
        reason = self.catalogue.unavailable_reason
        if reason is not None:
            raise RequestRefused(503, reason, "service_unavailable", "service_unavailable")
        if self.backend.queued() >= MAX_QUEUED:
            raise RequestRefused(429, f"the model is busy ({MAX_QUEUED} requests queued); retry in "
                                 f"{RETRY_AFTER_S} s", "rate_limit_exceeded", "rate_limit_exceeded",
                                 {"Retry-After": str(RETRY_AFTER_S)})

    def _escrow(self, request: ChatRequest, *, requester: str, inference_id: str, request_ts: int,
                prompt_hash: str) -> int:
        chain = self.chain
        escrow_tokens = request.max_tokens or DEFAULT_MAX_TOKENS
        escrow = escrow_amount(request.prompt_chars, escrow_tokens, self.price_per_token)
        node = chain.node_address
        ta_signature = base64.b64encode(chain.node_signer.sign(
            f"{prompt_hash}{request_ts}{requester}{node}".encode())).decode()
        msg = inference_tx.MsgStartInference(
            creator=node, inference_id=inference_id, prompt_hash=prompt_hash, model=request.model,
            requested_by=requester, assigned_to=node, node_version="gonka-devnet", max_tokens=escrow_tokens,
            prompt_token_count=request.prompt_chars, request_timestamp=request_ts, transfer_signature=ta_signature)
        reply = chain.broadcast_from_node([pack_any(MSG_START_INFERENCE, msg)])
        if reply.code == 0:
            return escrow
        if reply.code in (codes.INSUFFICIENT_FUNDS, codes.UNKNOWN_ADDRESS):
            account = chain.check.get(requester)
            balance = account.spendable(chain.check.block_time_s) if account else 0
            raise RequestRefused(402, f"insufficient balance: {requester} has {balance} ngonka spendable, the "
                                 f"escrow for this request is {escrow} ngonka ((prompt characters "
                                 f"{request.prompt_chars} + max_tokens {escrow_tokens}) × {self.price_per_token} "
                                 "ngonka/token); lower max_tokens or add funds", "insufficient_quota",
                                 "insufficient_quota")
        if reply.code == codes.MEMPOOL_FULL:
            raise RequestRefused(429, "the devnet's mempool is full; retry after the next block",
                                 "rate_limit_exceeded", "rate_limit_exceeded", {"Retry-After": str(RETRY_AFTER_S)})
        self.log(f"the escrow of inference {inference_id[:12]}… was refused: {reply.log}")
        raise RequestRefused(500, f"the devnet refused the escrow: {reply.log}", "server_error")

    def finish(self, gen: Generation, prompt_tokens: int, completion_tokens: int) -> None:
        node = self.chain.node_address
        msg = inference_tx.MsgFinishInference(
            creator=node, inference_id=gen.inference_id, prompt_token_count=prompt_tokens,
            completion_token_count=completion_tokens, executed_by=node, transferred_by=node,
            requested_by=gen.requester, model=gen.request.model)
        reply = self.chain.broadcast_from_node([pack_any(MSG_FINISH_INFERENCE, msg)])
        if reply.code:  # the escrow stays locked until the expiry refunds it in full
            self.log(f"the settlement of inference {gen.inference_id[:12]}… was refused: {reply.log}")

    async def complete(self, raw: bytes, *, requester: str, inference_id: str, request_ts: int, prompt_hash: str,
                       broker: bool = False) -> Response:
        """Answer a checked request (its requester pays), as JSON or an SSE stream."""
        try:
            request = parse_chat_body(raw)
            self._check_servable(request)
            escrow = self._escrow(request, requester=requester, inference_id=inference_id, request_ts=request_ts,
                                  prompt_hash=prompt_hash)
        except RequestRefused as exc:
            return exc.response()
        generation_max = min(request.max_tokens or DEFAULT_MAX_TOKENS, self.catalogue.context_window)
        gen = Generation(self, request, inference_id=inference_id, requester=requester, escrow=escrow,
                         generation_max=generation_max)
        try:
            first = await gen.first()
        except asyncio.CancelledError:
            gen.cancel()
            raise
        if isinstance(first, BackendUnavailable):
            return openai_error(503, str(first), "service_unavailable", "service_unavailable")
        if isinstance(first, Exception):
            return openai_error(500, f"the model failed: {first}", "server_error")
        created = int(time.time())
        if request.stream:
            return StreamingResponse(self._sse(gen, created, broker), media_type="text/event-stream",
                                     headers=SSE_HEADERS)
        parts: list[str] = []
        async for item in gen.items():
            if isinstance(item, str):
                parts.append(item)
            elif isinstance(item, Exception):
                return openai_error(500, f"the model failed: {item}", "server_error")
        s = gen.settlement
        return JSONResponse({
            "id": inference_id, "object": "chat.completion", "created": created, "model": request.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(parts)},
                         "finish_reason": s.finish_reason}],
            "usage": _usage(s, broker),
        })

    async def _sse(self, gen: Generation, created: int, broker: bool) -> AsyncIterator[bytes]:
        base = {"id": gen.inference_id, "object": "chat.completion.chunk", "created": created,
                "model": gen.request.model}

        def chunk(delta: dict, finish_reason=None) -> bytes:
            return _event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})

        try:
            yield chunk({"role": "assistant", "content": ""})
            async for item in gen.items():
                if isinstance(item, str):
                    yield chunk({"content": item})
                elif isinstance(item, Exception):
                    yield _event({"error": {"message": f"the model failed: {item}", "type": "server_error"}})
                else:
                    s = gen.settlement
                    yield chunk({}, s.finish_reason)
                    if gen.request.include_usage:
                        yield _event({**base, "choices": [], "usage": _usage(s, broker)})
            yield b"data: [DONE]\n\n"
        finally:
            gen.cancel()  # a client that left stops the model; its settlement runs in the generation's task


def _usage(s: Settlement, broker: bool) -> dict:
    usage = {"prompt_tokens": s.prompt_tokens, "completion_tokens": s.completion_tokens,
             "total_tokens": s.prompt_tokens + s.completion_tokens}
    if broker:
        usage["cost_ngonka"] = str(s.charge)
    return usage


def _event(obj: dict) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


# ----- routes -----

def _service(request: Request) -> InferenceService:
    return request.app.state.inference


async def models(request: Request) -> JSONResponse:
    return JSONResponse(_service(request).catalogue.models_json(governance=False))


async def governance_models(request: Request) -> JSONResponse:
    return JSONResponse(_service(request).catalogue.models_json(governance=True))


async def pricing(request: Request) -> JSONResponse:
    return JSONResponse(_service(request).catalogue.pricing_json(governance=False))


async def governance_pricing(request: Request) -> JSONResponse:
    return JSONResponse(_service(request).catalogue.pricing_json(governance=True))


async def read_request_body(request: Request) -> bytes:
    """The body, or RequestRefused (413) when it is too large."""
    try:
        return await read_body(request)
    except HTTPException as exc:
        raise RequestRefused(exc.status_code, str(exc.detail), "invalid_request_error") from None


async def chat_completions(request: Request) -> Response:
    service = _service(request)
    try:
        raw = await read_request_body(request)
        signed = service.verifier.check(request.headers, raw)
    except RequestRefused as exc:
        return exc.response()
    except AuthError as exc:
        return openai_error(401, str(exc), "authentication_error", "invalid_signature")
    except ReplayBusy as exc:
        return openai_error(429, str(exc), "rate_limit_exceeded", "rate_limit_exceeded",
                            {"Retry-After": str(RETRY_AFTER_S)})
    return await service.complete(raw, requester=signed.requester, inference_id=signed.signature_b64,
                                  request_ts=signed.timestamp_ns, prompt_hash=signed.body_hash)


def body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


ROUTES = [
    Route("/v1/models", models),
    Route("/v1/governance/models", governance_models),
    Route("/v1/pricing", pricing),
    Route("/v1/governance/pricing", governance_pricing),
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
]
