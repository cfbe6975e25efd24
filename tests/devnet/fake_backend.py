"""A scripted TextBackend (gonka_tui.devnet.text_backend) for the devnet's inference tests: fixed pieces, one job
at a time in FIFO order, and knobs for the faults (slow, held mid-way, failing, unavailable).

The server runs on another thread; the test reads the counters and calls release(), both thread-safe enough for
ints and a threading.Event.
"""

from __future__ import annotations

import asyncio
import threading
from typing import AsyncIterator

from gonka_tui.devnet.text_backend import MODEL_ID, BackendError, BackendUnavailable, ChatJob, Finished


class FakeBackend:
    def __init__(self, pieces=("Hello", ",", " world", "!"), *, prompt_tokens: int = 7, delay: float = 0.0,
                 hold_after: int | None = None, fail_after: int | None = None, unavailable: str | None = None,
                 model_id: str = MODEL_ID, context_window: int = 2048) -> None:
        self.pieces = list(pieces)
        self.prompt_tokens = prompt_tokens
        self.delay = delay  # seconds before each piece (a slow model; asyncio.sleep, so the loop keeps running)
        self.hold_after = hold_after  # after this many pieces, wait until release()
        self.fail_after = fail_after  # after this many pieces, raise BackendError
        self.unavailable = unavailable
        self.model_id = model_id
        self.context_window = context_window
        self.jobs: list[ChatJob] = []
        self.started = False
        self.closed = False
        self.cancelled = 0
        self.finished = 0
        self.running = 0
        self.max_running = 0
        self._waiting = 0
        self._lock: asyncio.Lock | None = None
        self._released = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self.holding = threading.Event()  # set while a job waits in hold_after

    def release(self) -> None:
        """Let a job held in hold_after go on (from any thread)."""
        self._released = True
        loop, event = self._loop, self._event
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)

    def reset(self, pieces=("Hello", ",", " world", "!")) -> None:
        """Back to a plain model; a job still held is let go."""
        self.pieces, self.delay, self.hold_after, self.fail_after, self.unavailable = list(pieces), 0.0, None, None, None
        self.release()
        self._released = False

    def unavailable_reason(self) -> str | None:
        return self.unavailable

    async def start(self) -> None:
        self.started = True

    def queued(self) -> int:
        return self._waiting

    async def aclose(self) -> None:
        self.closed = True

    async def stream(self, job: ChatJob) -> AsyncIterator[str | Finished]:
        self.jobs.append(job)
        if self.unavailable:
            raise BackendUnavailable(self.unavailable)
        if self._lock is None:
            self._lock = asyncio.Lock()  # FIFO: waiters are woken in arrival order
        self._waiting += 1
        try:
            async with self._lock:
                self.running += 1
                self.max_running = max(self.max_running, self.running)
                try:
                    sent = 0
                    for piece in self.pieces[:job.max_tokens]:
                        if self.fail_after is not None and sent >= self.fail_after:
                            raise BackendError("the fake model failed mid-way")
                        if self.hold_after is not None and sent >= self.hold_after:
                            self._loop, self._event = asyncio.get_running_loop(), asyncio.Event()
                            self.holding.set()
                            if not self._released:  # release() may have come first
                                await self._event.wait()  # cancelled by aclose()
                            self.holding.clear()
                        if self.delay:
                            await asyncio.sleep(self.delay)
                        yield piece
                        sent += 1
                    reason = "length" if job.max_tokens < len(self.pieces) else "stop"
                    self.finished += 1
                    yield Finished(self.prompt_tokens, sent, reason)
                except (GeneratorExit, asyncio.CancelledError):
                    self.cancelled += 1
                    raise
                finally:
                    self.running -= 1
        finally:
            self._waiting -= 1
