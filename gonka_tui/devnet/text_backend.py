"""What the devnet's inference routes ask of a text generator, whatever produces the text: the bundled model
(llm.py, llama.cpp) or another OpenAI-compatible server (`--inference-backend URL`). Tests script a fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Protocol

MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the bundled model's id, as Gonka names models (its HF repo)


@dataclass(frozen=True)
class ChatJob:
    messages: tuple[tuple[str, str], ...]  # (role, content): roles system / user / assistant, plain text
    max_tokens: int  # ≥ 1, already capped by the caller
    temperature: float = 0.0  # the devnet's default when a request gives none: deterministic answers
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    repetition_penalty: float | None = None  # vLLM's extension; None: the backend's default (llm.py: 1.1)


@dataclass(frozen=True)
class Finished:
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length"


class BackendUnavailable(Exception):
    """No text can be made; the message is one line: why, and how to fix it."""


class BackendError(Exception):
    """A generation failed part-way; the message is safe to show."""


class TextBackend(Protocol):
    model_id: str
    context_window: int

    def unavailable_reason(self) -> str | None:
        """None when usable; else one line saying why and what to install or start."""

    async def start(self) -> None:
        """Load (off the event loop): block production never waits for it."""

    def stream(self, job: ChatJob) -> AsyncIterator[str | Finished]:
        """Text pieces, then exactly one Finished. Jobs run one at a time, first come first served (a busy model
        queues requests, never drops them); closing the iterator early cancels the job. Raises BackendUnavailable
        before the first piece when not usable, BackendError on a failure."""

    def queued(self) -> int:
        """Jobs waiting or running."""

    async def aclose(self) -> None: ...
