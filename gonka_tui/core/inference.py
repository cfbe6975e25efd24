"""Buying inference: signed requests to a Gonka node (network.md §4) or an OpenAI-compatible broker.

Both clients stream (`stream: true` with `stream_options.include_usage`) and yield the answer's pieces
(`Delta`) then one `Done` with the usage and its cost in ngonka. Signed mode finds a node serving
inference in `/v1/epochs/current/participants` (through the session's node pool), its transfer address
in `{inference_url}/v1/identity`, registers the account's public key when the node does not know it,
and prices with `/v1/pricing` (cost = price_per_token × total_tokens). Broker mode sends the API key as
a bearer token; its cost is the broker's `usage.cost_ngonka` when it reports one, else the network's
price × tokens, marked as an estimate. Refusals become one-line errors (401, 402, 404 with the models,
429 after backing off, 503); a stream that ends before `[DONE]` keeps the partial answer (StreamCut).
No key, signature or Authorization value reaches a message or a log.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, AsyncIterable, AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import httpx

from gonka_tui import __version__
from gonka_tui.core.address import is_valid_address, short_address
from gonka_tui.core.errors import GonkaError, InputError, KeystoreError
from gonka_tui.core.inference_prices import network_models, network_prices
from gonka_tui.core.inference_signing import RequestSigner
from gonka_tui.core.inference_types import (ChatMessage, Delta, Done, EndpointUnreachable, InferenceClient,
                                            InferenceError, InferenceTimeout, InsufficientFunds, ModelNotFound,
                                            ModelPrice, RateLimited, StreamCut, Unauthorized, Usage)
from gonka_tui.core.sse import ChatChunks, ChunkUsage, SSEError, SSEParser, clean_message, error_message, parse_usage
from gonka_tui.core.network_constants import DEFAULT_MAX_TOKENS
from gonka_tui.core.node_pool import retry_after

if TYPE_CHECKING:
    from gonka_tui.core.chain_client import ChainClient
    from gonka_tui.core.session import Session

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0  # between two pieces of a stream: a busy model queues the request before it starts
STREAM_LIMIT = 1800.0  # one answer in all
LOOKUP_TIMEOUT = 10.0  # identity, participant, pricing and model lists
PRICE_TIMEOUT = 5.0  # the network's price for a broker's estimate: an answer never waits long for it
MAX_RETRIES = 3  # of a 429
FIRST_BACKOFF = 0.5  # seconds before the first retry of a 429 without Retry-After, doubled each time
MAX_ERROR_BODY = 64 * 1024
MAINNET_CHAIN_ID = "gonka-mainnet"
OPENBROKER = ("openbroker", "https://api.openbroker.gonka.gg/v1")


# ----- reading a stream -----

Pricer = Callable[[str, ChunkUsage], Awaitable[tuple[int | None, bool]]]


async def _reported_cost(_model: str, usage: ChunkUsage) -> tuple[int | None, bool]:
    return usage.cost_ngonka, False


def _usage(usage: ChunkUsage | None) -> Usage | None:
    return Usage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) if usage else None


async def read_chat_stream(body: AsyncIterable[bytes], *, model: str, pricer: Pricer = _reported_cost,
                           state: ChatChunks | None = None) -> AsyncIterator[Delta | Done]:
    """The Delta pieces then the Done of an SSE chat stream. An error chunk raises InferenceError and a
    stream without [DONE] StreamCut, both with the partial answer; `state` lets the caller see it too."""
    chunks = state if state is not None else ChatChunks()
    parser = SSEParser()

    def check() -> None:
        if chunks.error is not None:
            raise InferenceError(f"the answer failed mid-way: {chunks.error}", partial=chunks.content)

    try:
        async for raw in body:  # closed in `finally`: a [DONE] ends the loop early
            for data in parser.feed(raw):
                for piece in chunks.feed(data):
                    yield Delta(piece)
                check()
                if chunks.done:
                    break
            if chunks.done:
                break
        else:
            for data in parser.close():
                for piece in chunks.feed(data):
                    yield Delta(piece)
                check()
    except SSEError as exc:
        raise InferenceError(str(exc), partial=chunks.content) from None
    finally:
        closer = getattr(body, "aclose", None)
        if closer is not None:
            await closer()
    if not chunks.done:
        raise StreamCut("the answer was cut: the stream ended before it finished", partial=chunks.content)
    cost, estimate = (None, False)
    if chunks.usage is not None:
        cost, estimate = await pricer(chunks.model or model, chunks.usage)
    yield Done(chunks.model or model, chunks.content, _usage(chunks.usage), cost, estimate, chunks.finish_reason,
               chunks.id)


def _parse_completion(data: Any, model: str) -> tuple[str, ChatChunks]:
    """A non-stream `chat.completion` (a server that ignored stream=true), as the state of a stream."""
    chunks = ChatChunks()
    try:
        choice = data["choices"][0]
        content = choice["message"]["content"] or ""
        if not isinstance(content, str):
            raise TypeError
        chunks.pieces.append(content)
        chunks.finish_reason = choice.get("finish_reason") if isinstance(choice.get("finish_reason"), str) else None
        chunks.model = data.get("model") if isinstance(data.get("model"), str) else model
        chunks.id = data.get("id") if isinstance(data.get("id"), str) else None
        if data.get("usage") is not None:
            chunks.usage = parse_usage(data["usage"])
    except (KeyError, IndexError, TypeError, AttributeError, SSEError):
        raise InferenceError("the server sent a malformed chat completion") from None
    chunks.done = True
    return content, chunks


def _retry_after(resp: httpx.Response) -> float | None:
    """The node pool's reading of Retry-After, within a day (beyond, the exponential back-off decides)."""
    value = retry_after(resp)
    return value if value is not None and value < 24 * 3600 else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _body(messages: list[ChatMessage], model: str, max_tokens: int | None, temperature: float | None) -> bytes:
    for m in messages:
        if m.role not in ("system", "user", "assistant") or not isinstance(m.content, str):
            raise InputError(f"a message's role must be system, user or assistant, not {m.role!r}")
    if not any(m.role == "user" for m in messages):
        raise InputError("there is no question: the conversation has no user message")
    body: dict[str, Any] = {"model": model, "messages": [{"role": m.role, "content": m.content} for m in messages],
                            "stream": True, "stream_options": {"include_usage": True}}
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InputError("max_tokens must be a whole number of at least 1")
        body["max_tokens"] = max_tokens
    if temperature is not None:
        if not 0 <= float(temperature) <= 2:
            raise InputError("temperature must be from 0 to 2")
        body["temperature"] = float(temperature)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# ----- the shared HTTP part -----

class _Client:
    mode = ""
    label = ""
    who = ""  # "the node http://…" / "the broker 'x'" in messages

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep, clock: Callable[[], float] = time.monotonic,
                 read_timeout: float = READ_TIMEOUT, deadline: float = 30.0, stream_limit: float = STREAM_LIMIT) -> None:
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT, write=CONNECT_TIMEOUT, pool=CONNECT_TIMEOUT),
            transport=transport, follow_redirects=False, headers={"User-Agent": f"gonka/{__version__}"})
        self._sleep, self._clock = sleep, clock
        self._deadline = deadline  # for the retries of a 429
        self._stream_limit = stream_limit

    async def aclose(self) -> None:
        await self._http.aclose()

    async def models(self) -> list[ModelPrice]:
        raise NotImplementedError

    async def _cost(self, model: str, usage: ChunkUsage) -> tuple[int | None, bool]:
        raise NotImplementedError

    async def _get_json(self, url: str, headers: dict | None = None) -> tuple[int, Any]:
        """A small JSON lookup within LOOKUP_TIMEOUT; connection problems become one InferenceError."""
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                resp = await self._http.get(url, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            raise InferenceTimeout(f"{_origin(url)} did not answer {urlsplit(url).path} within {LOOKUP_TIMEOUT:g} s")
        except httpx.RequestError as exc:
            raise EndpointUnreachable(f"cannot reach {_origin(url)} ({type(exc).__name__}): is it running?") from None
        try:
            return resp.status_code, resp.json()
        except (ValueError, RecursionError):
            return resp.status_code, None

    async def _read_error(self, resp: httpx.Response) -> Any:
        raw = b""
        async for piece in resp.aiter_bytes():
            raw += piece
            if len(raw) > MAX_ERROR_BODY:
                break
        try:
            return json.loads(raw[:MAX_ERROR_BODY])
        except (ValueError, RecursionError):
            return clean_message(raw[:300].decode("utf-8", "replace"))

    async def _refused(self, status: int, data: Any, model: str, *, lookup: bool = True) -> InferenceError:
        err = data.get("error") if isinstance(data, dict) else None
        if err is None and isinstance(data, dict):
            err = data.get("message") or data
        message = error_message(err if err is not None else (data or f"HTTP {status}"))
        code = err.get("code") or err.get("type") if isinstance(err, dict) else None
        if status == 401:
            return Unauthorized(f"{self.who} refused the request (401): {message}", status=401)
        if status == 402:
            text = message.removeprefix("insufficient balance: ")
            return InsufficientFunds(f"insufficient balance (402): {text}", status=402)
        if status == 404 and lookup and (code == "model_not_found" or "model" in message.lower()):
            try:
                async with asyncio.timeout(PRICE_TIMEOUT):
                    served = [m.id for m in await self.models()]
            except (GonkaError, TimeoutError, httpx.HTTPError):
                served = []
            listed = f" (served: {', '.join(served)})" if served and not all(s in message for s in served) else ""
            return ModelNotFound(f"model not found (404): {message}{listed}", status=404, models=served)
        if status == 404:
            return InferenceError(f"{self.who} has no chat endpoint there (404): {message}", status=404)
        if status == 503:
            return InferenceError(f"inference is unavailable (503): {message}", status=503)
        if status == 429:
            return RateLimited(f"{self.who} is busy (429): {message}", status=429)
        return InferenceError(f"{self.who} refused the request ({status}): {message}", status=status)

    async def _stream(self, url: str, body: bytes, model: str, headers: Callable[[], dict[str, str]],
                      pricer: "Pricer | None" = None) -> AsyncIterator[Delta | Done]:
        """POST the chat body (fresh headers per attempt) and read the stream; 429s are retried."""
        pricer = pricer or self._cost
        started = self._clock()
        retries = 0
        while True:
            state = ChatChunks()
            done: Done | None = None  # yielded once the connection is released
            retry: float | None = None
            began = False  # the server answered 200: a connection lost from here on cut the answer
            try:
                async with self._http.stream("POST", url, content=body,
                                             headers={**headers(), "Content-Type": "application/json",
                                                      "Accept": "text/event-stream"}) as resp:
                    if resp.status_code == 429:
                        hint = _retry_after(resp)
                        data = await self._read_error(resp)
                        delay = hint if hint is not None else FIRST_BACKOFF * 2 ** retries
                        if retries >= MAX_RETRIES or self._clock() + delay - started > self._deadline:
                            exc = await self._refused(429, data, model)
                            raise RateLimited(f"{exc} — still after {retries} retr{'y' if retries == 1 else 'ies'}",
                                              status=429, retry_after=hint)
                        retry = delay
                    elif resp.status_code >= 400:
                        raise await self._refused(resp.status_code, await self._read_error(resp), model)
                    elif "application/json" in resp.headers.get("content-type", ""):
                        raw = await resp.aread()
                        try:
                            content, state = _parse_completion(json.loads(raw), model)
                        except (ValueError, RecursionError):
                            raise InferenceError("the server sent a malformed chat completion") from None
                        if content:
                            yield Delta(content)
                        cost, estimate = await pricer(state.model or model, state.usage) if state.usage else (
                            None, False)
                        done = Done(state.model or model, content, _usage(state.usage), cost, estimate,
                                    state.finish_reason, state.id)
                    else:
                        began = True
                        events = read_chat_stream(self._limited(resp.aiter_bytes(), started, state), model=model,
                                                  pricer=pricer, state=state)
                        async with aclosing(events):
                            async for event in events:
                                if isinstance(event, Done):
                                    done = event
                                    break
                                yield event
            except httpx.TimeoutException as exc:
                what = "no answer" if not state.pieces else "the answer stopped"
                phase = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting"
                raise InferenceTimeout(f"{what} from {self.who}: timed out {phase}", partial=state.content) from None
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if began:
                    raise StreamCut(f"the answer was cut: {self.who} closed the connection "
                                    f"({type(exc).__name__})", partial=state.content) from None
                raise InferenceError(f"{self.who} closed the connection without an answer ({type(exc).__name__})")
            except httpx.RequestError as exc:
                raise EndpointUnreachable(f"cannot reach {self.who} ({type(exc).__name__}): is it running?",
                                     partial=state.content) from None
            if done is not None:
                yield done
                return
            retries += 1
            await self._sleep(retry)

    async def _limited(self, body: AsyncIterator[bytes], started: float, state: ChatChunks) -> AsyncIterator[bytes]:
        async with aclosing(body):
            async for piece in body:
                yield piece
                if self._clock() - started > self._stream_limit:
                    raise InferenceTimeout(f"the answer took more than {self._stream_limit:g} s: stopped",
                                           partial=state.content)


# ----- signed mode -----

class SignedClient(_Client):
    mode = "signed"

    def __init__(self, network: "ChainClient", signer: RequestSigner, key_name: str, **kw) -> None:
        super().__init__(**kw)
        self._network = network
        self._signer = signer
        self.label = f"signed as {key_name} ({short_address(signer.address)})"
        self.who = "the node"
        self._endpoint: tuple[str, str] | None = None  # (inference_url, transfer address)
        self._registered = False
        self._prices: dict[str, int] | None = None

    async def models(self) -> list[ModelPrice]:
        return await network_models(self._network)

    async def _default_model(self) -> str:
        for governance in (False, True):  # none served now: ask for a known one, the node says why not
            models = await network_models(self._network, governance=governance)
            if models:
                return models[0].id
        raise InferenceError("the network lists no model to ask (/v1/models and /v1/governance/models are empty)")

    async def _find_endpoint(self, model: str) -> tuple[str, str]:
        if self._endpoint is not None:
            return self._endpoint
        participants = await self._network.current_participants()
        urls: list[tuple[bool, str]] = []
        for p in participants:
            url = p.get("inference_url")
            if isinstance(url, str) and urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc:
                models = p.get("models") if isinstance(p.get("models"), list) else []
                urls.append((model not in models, url.rstrip("/")))
        if not urls:
            raise InferenceError("no participant of the current epoch serves inference (none has an inference_url)")
        problems = []
        for _, url in sorted(urls, key=lambda u: u[0]):
            try:
                status, data = await self._get_json(url + "/v1/identity")
            except InferenceError as exc:
                problems.append(str(exc))
                continue
            address = data.get("data", {}).get("address") if isinstance(data, dict) and isinstance(
                data.get("data"), dict) else None
            if status == 200 and isinstance(address, str) and is_valid_address(address):
                self._endpoint = (url, address)
                self.who = f"the node {url}"
                return self._endpoint
            problems.append(f"{url}/v1/identity gave no transfer address (HTTP {status})")
        raise InferenceError("no inference node answered: " + "; ".join(problems[:3]))

    async def _ensure_registered(self, url: str) -> None:
        """The node checks signatures against the account's public key on chain: register it once."""
        if self._registered:
            return
        address = self._signer.address
        status, data = await self._get_json(f"{url}/v1/participants/{address}")
        if status == 404:
            try:
                async with asyncio.timeout(LOOKUP_TIMEOUT):
                    resp = await self._http.post(f"{url}/v1/participants", json={
                        "pub_key": base64.b64encode(self._signer.pubkey).decode(), "address": address})
            except (TimeoutError, httpx.HTTPError) as exc:
                raise InferenceError(f"could not register the account's public key with {url} "
                                     f"({type(exc).__name__})") from None
            if resp.status_code >= 400:
                try:
                    detail = error_message(resp.json())
                except ValueError:
                    detail = f"HTTP {resp.status_code}"
                raise InferenceError(f"{url} refused to register the account's public key: {detail}")
            # A real node submits a transaction: wait (briefly) until the key is known.
            for _ in range(20):
                status, data = await self._get_json(f"{url}/v1/participants/{address}")
                if status != 404:
                    break
                await self._sleep(0.5)
        if status >= 400:
            raise InferenceError(f"{url} does not know the account {address}: {error_message(data)}")
        self._registered = True

    async def _price(self, model: str) -> int | None:
        if self._prices is None or model not in self._prices:
            self._prices = await network_prices(self._network)
        return self._prices.get(model)

    async def _cost(self, model: str, usage: ChunkUsage) -> tuple[int | None, bool]:
        price = await self._price(model)
        return (price * usage.total_tokens if price is not None else None), False

    async def chat(self, messages: list[ChatMessage], *, model: str | None = None, max_tokens: int | None = None,
                   temperature: float | None = None) -> AsyncIterator[Delta | Done]:
        model = model or await self._default_model()
        body = _body(messages, model, max_tokens, temperature)
        url, transfer = await self._find_endpoint(model)
        await self._ensure_registered(url)
        await self._price(model)  # before the answer: the price it is charged at
        # The chain charges at most the escrow it reserved, (prompt characters + max_tokens) × price, though the
        # chat template can make the model's token count larger: the cost shown is what the account pays.
        escrow_tokens = sum(len(m.content) for m in messages) + (max_tokens or DEFAULT_MAX_TOKENS)

        async def charged(model_id: str, usage: ChunkUsage) -> tuple[int | None, bool]:
            price = await self._price(model_id)
            return (min(usage.total_tokens, escrow_tokens) * price if price is not None else None), False

        async with aclosing(self._stream(url + "/v1/chat/completions", body, model,
                                         lambda: self._signer.headers(body, transfer), charged)) as events:
            async for event in events:
                yield event


# ----- broker mode -----

class BrokerClient(_Client):
    mode = "broker"

    def __init__(self, name: str, base_url: str, api_key: str, network: "ChainClient | None" = None, **kw) -> None:
        super().__init__(**kw)
        self._base = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._network = network
        self.label = f"broker {name} ({self._base})"
        self.who = f"the broker '{name}'"

    def __repr__(self) -> str:
        return f"BrokerClient({self.label!r})"

    async def _soon(self, ask: Callable[["ChainClient"], Awaitable[Any]]) -> Any | None:
        """What the network answers within PRICE_TIMEOUT, else None: its prices only inform a broker's cost."""
        if self._network is None:
            return None
        try:
            async with asyncio.timeout(PRICE_TIMEOUT):
                return await ask(self._network)
        except (GonkaError, TimeoutError, httpx.HTTPError):
            return None

    async def _network_models(self) -> dict[str, ModelPrice]:
        return {m.id: m for m in await self._soon(network_models) or []}

    async def _broker_models(self) -> list[str]:
        status, data = await self._get_json(self._base + "/models", self._auth)
        if status >= 400:
            raise await self._refused(status, data, "", lookup=False)
        listed = data.get("data") if isinstance(data, dict) else None
        if not isinstance(listed, list):
            raise InferenceError(f"{self.who} sent a malformed model list ({self._base}/models)")
        return [m["id"] for m in listed if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]]

    async def models(self) -> list[ModelPrice]:
        ids, known = await asyncio.gather(self._broker_models(), self._network_models())
        none = ModelPrice("", None, None)
        return [ModelPrice(i, known.get(i, none).price_per_token, known.get(i, none).context_window) for i in ids]

    async def _cost(self, model: str, usage: ChunkUsage) -> tuple[int | None, bool]:
        if usage.cost_ngonka is not None:
            return usage.cost_ngonka, False
        price = (await self._soon(network_prices) or {}).get(model)
        return (price * usage.total_tokens if price is not None else None), True

    async def chat(self, messages: list[ChatMessage], *, model: str | None = None, max_tokens: int | None = None,
                   temperature: float | None = None) -> AsyncIterator[Delta | Done]:
        if model is None:
            ids = await self._broker_models()
            if not ids:
                raise InferenceError(f"{self.who} lists no model ({self._base}/models is empty)")
            model = ids[0]
        body = _body(messages, model, max_tokens, temperature)
        async with aclosing(self._stream(self._base + "/chat/completions", body, model,
                                         lambda: dict(self._auth))) as events:
            async for event in events:
                yield event


# ----- choosing the client -----

def _signing_key_name(session: "Session", key: str | None) -> str:
    if key:
        return key
    with_secret = [r for r in session.keystore.list() if r.has_secret]
    default = session.config.default_key
    if default:
        return default
    if len(with_secret) == 1:
        return with_secret[0].name
    if not with_secret:
        raise InputError("no key to sign inference with: create one with `gonka keys add NAME`, or use a broker "
                         "(--broker NAME)")
    raise InputError(f"several keys could sign ({', '.join(r.name for r in with_secret)}): pass --key NAME or set "
                     "default_key in config.toml")


def _unlock(session: "Session", passphrase_prompt) -> None:
    """`passphrase_prompt` returns the passphrase, or unlocks the session itself (the CLI's) and returns None."""
    if session.keystore.unlocked or session.try_remembered_unlock():
        return
    if passphrase_prompt is None:
        raise KeystoreError("the keystore is locked: unlock it to buy inference")
    passphrase = passphrase_prompt()
    if not session.keystore.unlocked:
        session.unlock(passphrase)


def open_inference(session: "Session", *, key: str | None = None, broker: str | None = None,
                   passphrase_prompt: Callable[[], str] | None = None, **client_kw) -> InferenceClient:
    """The client for this session: `broker` or `key` when given, else the profile's broker when it names
    one, else signed with the default key (config default_key, else the only key). `client_kw` (transport,
    sleep, read_timeout) are for tests."""
    if key and broker:
        raise InputError("use either --key (signed by your account) or --broker, not both")
    profile = session.network
    network = session.client
    client_kw.setdefault("deadline", session.deadline)
    name = broker or (None if key else profile.broker)
    if name:
        book = session.brokers
        if not book.has(name):
            if not broker and (name, profile.broker) == (OPENBROKER[0], OPENBROKER[0]):
                raise InputError(f"the {profile.name} profile buys inference through the broker '{name}' (signed "
                                 f"mode is disabled on mainnet): add it first with `gonka broker add {OPENBROKER[0]} "
                                 f"{OPENBROKER[1]}`")
            if not broker:
                raise InputError(f"the {profile.name} profile names the broker '{name}', which is not added: add it "
                                 f"with `gonka broker add {name} URL`, or pass --key NAME to sign yourself")
            book.get(name)  # one clear error that lists the brokers there are
        _unlock(session, passphrase_prompt)
        found = book.get(name)
        return BrokerClient(found.name, found.url, book.api_key(name), network, **client_kw)
    if profile.chain_id == MAINNET_CHAIN_ID:
        raise InputError("signed inference is disabled on mainnet (since May 2026): buy it through a broker, "
                         f"e.g. `gonka broker add {OPENBROKER[0]} {OPENBROKER[1]}` then --broker {OPENBROKER[0]}")
    name = _signing_key_name(session, key)
    record = session.keystore.get(name)
    if not record.has_secret:
        raise InputError(f"'{name}' is watch-only: its key is not on this machine, it cannot sign requests")
    _unlock(session, passphrase_prompt)
    derived = session.keystore.signing_key(name)
    return SignedClient(network, RequestSigner(derived.private_key, derived.address), name, **client_kw)


__all__ = ["ChatMessage", "Delta", "Done", "EndpointUnreachable", "InferenceClient", "InferenceError", "InferenceTimeout",
           "InsufficientFunds", "ModelNotFound", "ModelPrice", "RateLimited", "StreamCut", "Unauthorized", "Usage",
           "open_inference", "read_chat_stream", "network_models", "network_prices", "SignedClient", "BrokerClient"]
