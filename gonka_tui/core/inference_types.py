"""What buying inference yields and raises (contracts10 §C), apart from the clients that do it (inference.py):
the Inference screen and the CLI import these, and tests script fakes of the client Protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Protocol

from gonka_tui.core.errors import GonkaError

# ----- what the clients yield (contracts10 §C) -----

@dataclass(frozen=True)
class ModelPrice:
    id: str
    price_per_token: int | None  # ngonka; None when unknown (a broker's model the network does not price)
    context_window: int | None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True)
class Delta:
    """A piece of the answer."""

    text: str


@dataclass(frozen=True)
class Done:
    """The last event of a successful stream."""

    model: str
    content: str
    usage: Usage | None
    cost_ngonka: int | None  # None when usage (or any price) is unknown
    cost_is_estimate: bool  # a broker that reports no price: the network's price × tokens
    finish_reason: str | None
    inference_id: str | None


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


class InferenceError(GonkaError):
    """str(exc) is one clear line; `status` the HTTP status when there was one; `partial` the answer
    received before the failure ("" if none)."""

    def __init__(self, message: str, *, status: int | None = None, partial: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.partial = partial


class Unauthorized(InferenceError):
    """401: a refused signature or API key, or a requester the node does not know."""


class InsufficientFunds(InferenceError):
    """402: the balance is below what the request reserves."""


class RateLimited(InferenceError):
    """429, still after the retries; `retry_after` is the server's last hint in seconds (None: none)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ModelNotFound(InferenceError):
    """404 for the model; `models` lists those served (when they could be read)."""

    def __init__(self, message: str, *, models: list[str] | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.models = list(models or [])


class StreamCut(InferenceError):
    """The connection or the stream ended before [DONE]; `partial` keeps the answer so far."""


class InferenceTimeout(InferenceError):
    """No answer, or no next piece, in time."""


class EndpointUnreachable(InferenceError):
    """The node or broker refused the connection or could not be found: offline, not a refusal."""


class InferenceClient(Protocol):
    mode: str  # "signed" | "broker"
    label: str

    async def models(self) -> list[ModelPrice]: ...

    def chat(self, messages: list[ChatMessage], *, model: str | None = None, max_tokens: int | None = None,
             temperature: float | None = None) -> AsyncIterator[Delta | Done]: ...

    async def aclose(self) -> None: ...
