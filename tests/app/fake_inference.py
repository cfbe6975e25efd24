"""A scripted InferenceClient (contracts10 §C) for the Inference screen's tests: each chat() plays the next
Script — its pieces as Deltas, then a Done, an error, or a hang until the caller closes the stream."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from gonka_tui.core.inference_types import ChatMessage, Delta, Done, ModelPrice, Usage

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
PRICE = 10_000  # ngonka per token: the devnet's default


@dataclass
class Script:
    pieces: list[str]
    usage: tuple[int, int] | None = (12, 7)  # prompt, completion
    cost: int | None = None  # None: price × tokens
    estimate: bool = False
    error: BaseException | None = None  # raised after the pieces
    hang: bool = False  # after the pieces, wait until the stream is closed (Esc)
    yield_between: bool = True  # give the loop a turn between pieces, as a network would
    pause_after: int | None = None  # wait for `resume` after this many pieces
    resume: asyncio.Event | None = None


@dataclass
class FakeInference:
    mode: str = "signed"
    label: str = "signed as main (gonka1k4sw…9f8ny)"
    model_list: list[ModelPrice] = field(default_factory=lambda: [ModelPrice(MODEL, PRICE, 8192),
                                                                  ModelPrice("other/model-7B", 25_000, 4096)])
    models_error: BaseException | None = None
    scripts: list[Script] = field(default_factory=list)
    requests: list[tuple[list[ChatMessage], str | None]] = field(default_factory=list)
    streams_closed: int = 0
    hanging: bool = False  # a stream is waiting (hang) now
    closed: bool = False

    async def models(self) -> list[ModelPrice]:
        if self.models_error is not None:
            raise self.models_error
        return list(self.model_list)

    async def chat(self, messages: list[ChatMessage], *, model: str | None = None, max_tokens: int | None = None,
                   temperature: float | None = None):
        self.requests.append((list(messages), model))
        script = self.scripts.pop(0) if self.scripts else Script(["echo: ", messages[-1].content])
        try:
            for i, piece in enumerate(script.pieces):
                if i == script.pause_after and script.resume is not None:
                    await script.resume.wait()
                if script.yield_between:
                    await asyncio.sleep(0)
                yield Delta(piece)
            if script.error is not None:
                raise script.error
            if script.hang:
                self.hanging = True
                await asyncio.Event().wait()
            content = "".join(script.pieces)
            usage = Usage(script.usage[0], script.usage[1], sum(script.usage)) if script.usage else None
            cost = script.cost if script.cost is not None else (PRICE * usage.total_tokens if usage else None)
            yield Done(model or MODEL, content, usage, cost, script.estimate, "stop", "inf-1")
        finally:
            self.hanging = False
            self.streams_closed += 1

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class FakeOpener:
    """open_inference's shape: records who was asked for and returns the client (or raises `error`)."""

    client: FakeInference = field(default_factory=FakeInference)
    error: BaseException | None = None
    calls: list[dict] = field(default_factory=list)

    def __call__(self, session, *, key: str | None = None, broker: str | None = None, **_kw) -> FakeInference:
        self.calls.append({"key": key, "broker": broker})
        if self.error is not None:
            raise self.error
        if broker:
            self.client.mode, self.client.label = "broker", f"broker {broker} (http://127.0.0.1:26600/broker/v1)"
        return self.client
