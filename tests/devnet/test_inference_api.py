"""Paid, signed inference over HTTP (inference_api.py, inference_auth.py) against a devnet with a scripted text
backend: the Gonka shapes of models and pricing, the signed-request checks, the escrow before generation, the
settlement after it, the SSE format, and the faults (bad signatures, no funds, unknown model, busy model, a client
that leaves, a backend that fails)."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import threading
import time

import httpx
import pytest

from gonka_tui.core.chain_client import ChainClient
from gonka_tui.core.txrecords import label
from gonka_tui.devnet import inference_api
from gonka_tui.devnet.epochs import EpochParams, PocConfig
from gonka_tui.devnet.genesis import Fund
from gonka_tui.core.inference_signing import signed_bytes
from gonka_tui.devnet.inference_rules import INFERENCE_MODULE_ADDRESS
from gonka_tui.devnet.server import start_in_thread
from gonka_tui.devnet.testkit import key, wait_until
from gonka_tui.devnet.text_backend import MODEL_ID

from .fake_backend import FakeBackend

PRICE = 10_000
FUNDS = 10**13
POOR_FUNDS = 10**5
NAMES = ["plain", "stream", "auth", "poor", "busy", "cut", "fail", "history", "slow", "queue", "model"]
KEYS = {name: key(400 + i) for i, name in enumerate(NAMES)}
UNREGISTERED = key(499)
PIECES = ("Hello", ",", " world", "!")


@pytest.fixture(scope="module")
def fake():
    return FakeBackend(PIECES)


@pytest.fixture(scope="module")
def devnet(tmp_path_factory, fake):
    funds = [Fund(k.address, POOR_FUNDS if n == "poor" else FUNDS) for n, k in KEYS.items()]
    funds.append(Fund(UNREGISTERED.address, FUNDS))
    with start_in_thread(tmp_path_factory.mktemp("devnet"), block_time=0.05, funds=funds, inference_backend=fake,
                         poc=PocConfig(epochs=EpochParams(first_poc_start=10**8))) as d:
        with httpx.Client(base_url=d.url, timeout=10) as c:
            for k in KEYS.values():
                r = c.post("/v1/participants", json={"pub_key": base64.b64encode(k.pubkey).decode(),
                                                     "address": k.address})
                assert r.status_code == 200
        yield d


@pytest.fixture
def http(devnet):
    with httpx.Client(base_url=devnet.url, timeout=10) as client:
        yield client


@pytest.fixture(autouse=True)
def _reset(fake):
    yield
    fake.reset(PIECES)


def body_of(content="hi there", **extra) -> dict:
    return {"model": MODEL_ID, "messages": [{"role": "user", "content": content}], "max_tokens": 10, **extra}


def signed(devnet, k, body, *, ts: int | None = None, transfer: str | None = None, signer=None):
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    ts = time.time_ns() if ts is None else ts
    signature = (signer or k).signer.sign(signed_bytes(raw, ts, transfer or devnet.node_address))
    headers = {"Authorization": base64.b64encode(signature).decode(),
               "X-Requester-Address": k.address, "X-Timestamp": str(ts), "Content-Type": "application/json"}
    return raw, headers


def post(http, devnet, k, body, **kw) -> httpx.Response:
    raw, headers = signed(devnet, k, body, **kw)
    return http.post("/v1/chat/completions", content=raw, headers=headers)


def balance(devnet, address) -> int:
    account = devnet.chain.ledger.get(address)
    return account.balance if account else 0


def settled(devnet, address, before) -> int:
    """Wait until the inference module holds nothing and `address`'s balance moved; its loss."""
    wait_until(lambda: balance(devnet, INFERENCE_MODULE_ADDRESS) == 0 and not devnet.chain.mempool
               and balance(devnet, address) != before, "the settlement to be committed")
    return before - balance(devnet, address)


def sse(text: str) -> list:
    events = []
    for block in text.split("\n\n"):
        if block:
            assert block.startswith("data: "), block
            payload = block[len("data: "):]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


# ----- shapes -----

def test_models_and_pricing_in_gonka_shapes(http, devnet):
    for path in ("/v1/models", "/v1/governance/models"):
        (model,) = http.get(path).json()["models"]
        assert model["id"] == MODEL_ID and model["proposed_by"] == devnet.node_address
        assert model["units_of_compute_per_token"] == 100 and model["coins_per_output_token"] == PRICE
        assert set(model) == {"proposed_by", "id", "units_of_compute_per_token", "context_window", "quantization",
                              "coins_per_input_token", "coins_per_output_token", "hf_repo", "hf_commit", "model_args",
                              "v_ram", "throughput_per_nonce", "validation_threshold"}
        assert set(model["validation_threshold"]) == {"value", "exponent"}
    for path in ("/v1/pricing", "/v1/governance/pricing"):
        assert http.get(path).json() == {
            "unit_of_compute_price": 100, "dynamic_pricing_enabled": False,
            "models": [{"id": MODEL_ID, "units_of_compute_per_token": 100, "price_per_token": PRICE}]}
    (node,) = http.get("/v1/epochs/current/participants").json()["active_participants"]["participants"]
    assert node["index"] == devnet.node_address and node["inference_url"] == devnet.url
    assert node["models"] == [MODEL_ID]
    assert http.get("/v1/identity").json()["data"]["address"] == devnet.node_address


def test_an_unavailable_backend_is_listed_by_governance_only_and_refused_with_503(http, devnet, fake):
    fake.unavailable = "inference unavailable: llama-cpp-python is not installed (pip install …)"
    assert http.get("/v1/models").json() == {"models": []}
    assert [m["id"] for m in http.get("/v1/governance/models").json()["models"]] == [MODEL_ID]
    k = KEYS["model"]
    before, jobs = balance(devnet, k.address), len(fake.jobs)
    r = post(http, devnet, k, body_of())
    assert r.status_code == 503 and r.json()["error"]["type"] == "service_unavailable"
    assert "pip install" in r.json()["error"]["message"]
    assert len(fake.jobs) == jobs and balance(devnet, k.address) == before and not devnet.chain.mempool


# ----- a paid request -----

def test_a_signed_request_is_answered_and_the_books_balance(http, devnet, fake):
    k = KEYS["plain"]
    before, node_before = balance(devnet, k.address), balance(devnet, devnet.node_address)
    r = post(http, devnet, k, body_of())
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["object"] == "chat.completion" and data["model"] == MODEL_ID and data["id"]
    assert data["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Hello, world!"},
                                "finish_reason": "stop"}]
    assert data["usage"] == {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}
    loss = settled(devnet, k.address, before)
    assert loss == 11 * PRICE  # requester's loss = charge
    assert balance(devnet, devnet.node_address) - node_before == loss  # = the node's gain
    assert balance(devnet, INFERENCE_MODULE_ADDRESS) == 0
    assert fake.jobs[-1].messages == (("user", "hi there"),) and fake.jobs[-1].max_tokens == 10
    assert fake.jobs[-1].temperature == 0.0


def test_the_stream_format(http, devnet):
    k = KEYS["stream"]
    r = post(http, devnet, k, body_of(stream=True, stream_options={"include_usage": True}))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse(r.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == MODEL_ID for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"] == [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                     "finish_reason": None}]
    assert [c["choices"][0]["delta"] for c in chunks[1:5]] == [{"content": p} for p in PIECES]
    assert chunks[5]["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert chunks[6]["choices"] == [] and chunks[6]["usage"] == {"prompt_tokens": 7, "completion_tokens": 4,
                                                                 "total_tokens": 11}
    assert len(chunks) == 7
    # without include_usage: no usage chunk
    events = sse(post(http, devnet, k, body_of(stream=True, max_tokens=2)).text)
    assert events[-1] == "[DONE]" and events[-2]["choices"][0]["finish_reason"] == "length"
    assert all(e == "[DONE]" or e["choices"] for e in events)


def test_history_shows_the_escrow_and_the_refund(http, devnet):
    k = KEYS["history"]
    before = balance(devnet, k.address)
    assert post(http, devnet, k, body_of(content="count to three")).status_code == 200
    settled(devnet, k.address, before)
    escrow = (len("count to three") + 10) * PRICE

    async def history():
        async with ChainClient([devnet.url]) as client:
            return (await client.history(k.address))[0]

    records = asyncio.run(history())
    rows = {label(r.other_messages[0]): r.net_amount(k.address) for r in records if r.other_messages}
    assert rows == {"inference": -escrow, "inference settled": escrow - 11 * PRICE}


# ----- refusals: no charge, and the model is never asked -----

def test_bad_signatures_are_refused_with_401_and_cost_nothing(http, devnet, fake):
    k = KEYS["auth"]
    before, jobs = balance(devnet, k.address), len(fake.jobs)
    now = devnet.chain.latest.time_ns

    def refused(r: httpx.Response, fragment: str) -> None:
        assert r.status_code == 401, r.text
        err = r.json()["error"]
        assert err["type"] == "authentication_error" and fragment in err["message"]

    raw, headers = signed(devnet, k, body_of())
    refused(http.post("/v1/chat/completions", content=raw.replace(b"hi there", b"hi thera"), headers=headers),
            "does not match")  # tampered body
    refused(post(http, devnet, k, body_of(), signer=KEYS["plain"]), "does not match")  # another key
    refused(post(http, devnet, k, body_of(), transfer=KEYS["plain"].address), "does not match")  # another TA
    refused(post(http, devnet, k, body_of(), ts=now - 65 * 10**9), "older")  # stale
    refused(post(http, devnet, k, body_of(), ts=now + 35 * 10**9), "ahead")  # from the future
    refused(post(http, devnet, UNREGISTERED, body_of()), "POST /v1/participants")  # no pubkey on chain
    refused(http.post("/v1/chat/completions", content=raw, headers={**headers, "Authorization": "Bearer sk-123"}),
            "broker")
    for missing in ("Authorization", "X-Requester-Address", "X-Timestamp"):
        refused(http.post("/v1/chat/completions", content=raw,
                          headers={h: v for h, v in headers.items() if h != missing}), missing)
    ok = http.post("/v1/chat/completions", content=raw, headers=headers)
    assert ok.status_code == 200
    refused(http.post("/v1/chat/completions", content=raw, headers=headers), "already used")  # replayed
    loss = settled(devnet, k.address, before)
    assert loss == 11 * PRICE  # only the one good request was paid
    assert len(fake.jobs) == jobs + 1


def test_insufficient_balance_is_402_before_generation(http, devnet, fake):
    k = KEYS["poor"]
    jobs = len(fake.jobs)
    r = post(http, devnet, k, body_of())
    assert r.status_code == 402
    err = r.json()["error"]
    assert err["type"] == "insufficient_quota" and err["code"] == "insufficient_quota"
    escrow = (len("hi there") + 10) * PRICE
    assert f"{POOR_FUNDS} ngonka" in err["message"] and f"{escrow} ngonka" in err["message"]
    # without max_tokens the escrow is for 5000 tokens
    r = post(http, devnet, KEYS["poor"], {"model": MODEL_ID, "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 402 and f"{(1 + 5000) * PRICE} ngonka" in r.json()["error"]["message"]
    assert len(fake.jobs) == jobs and balance(devnet, k.address) == POOR_FUNDS


def test_unknown_model_is_404_listing_the_models(http, devnet, fake):
    k = KEYS["model"]
    before, jobs = balance(devnet, k.address), len(fake.jobs)
    r = post(http, devnet, k, body_of(model="gpt-4o"))
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "model_not_found" and MODEL_ID in err["message"]
    assert len(fake.jobs) == jobs and balance(devnet, k.address) == before


@pytest.mark.parametrize("body, fragment", [
    (b"not json", "JSON"),
    (b"[" * 200_000, "nests deeper than 64 levels"),  # signed, so the body is read: hostile JSON is a 400
    (b'{"a":' * 65 + b"0" + b"}" * 65, "nests deeper than 64 levels"),
    ({"messages": [{"role": "user", "content": "x"}]}, "model"),
    ({"model": MODEL_ID, "messages": []}, "messages"),
    ({"model": MODEL_ID, "messages": [{"role": "tool", "content": "x"}]}, "role"),
    ({"model": MODEL_ID, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "text"),
    ({"model": MODEL_ID, "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
    ({"model": MODEL_ID, "messages": [{"role": "user", "content": "x"}], "temperature": 3}, "temperature"),
    ({"model": MODEL_ID, "messages": [{"role": "user", "content": "x"}], "n": 2}, "n must be 1"),
    ({"model": MODEL_ID, "messages": [{"role": "user", "content": "x"}], "repetition_penalty": 0},
     "repetition_penalty"),
])
def test_bad_bodies_are_400(http, devnet, body, fragment):
    k = KEYS["model"]
    before = balance(devnet, k.address)
    r = post(http, devnet, k, body)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert fragment in r.json()["error"]["message"]
    assert balance(devnet, k.address) == before


def test_text_parts_and_max_completion_tokens_are_taken(http, devnet, fake):
    k = KEYS["model"]
    body = {"model": MODEL_ID, "max_completion_tokens": 3, "stop": ["\n"], "seed": 5,
            "messages": [{"role": "system", "content": "be brief"},
                         {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}
    r = post(http, devnet, k, body)
    assert r.status_code == 200 and r.json()["choices"][0]["finish_reason"] == "length"
    job = fake.jobs[-1]
    assert job.messages == (("system", "be brief"), ("user", "ab")) and job.max_tokens == 3
    assert job.stop == ("\n",) and job.seed == 5
    assert job.repetition_penalty is None  # unset: the backend's default
    body["repetition_penalty"] = 1.0  # vLLM's extension: the request's own value reaches the model
    assert post(http, devnet, k, body).status_code == 200 and fake.jobs[-1].repetition_penalty == 1.0


# ----- a busy model, a slow one, a client that leaves, a backend that fails -----

def test_two_requests_while_the_model_is_busy_are_both_answered(http, devnet, fake):
    fake.delay = 0.02
    k = KEYS["busy"]
    results: list = []

    def ask():
        with httpx.Client(base_url=devnet.url, timeout=20) as c:
            results.append(post(c, devnet, k, body_of()))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.status_code for r in results] == [200, 200]
    assert all(r.json()["choices"][0]["message"]["content"] == "Hello, world!" for r in results)
    assert fake.max_running == 1  # one at a time: the second waited in the queue


def test_a_full_queue_is_429_with_retry_after(http, devnet, fake, monkeypatch):
    monkeypatch.setattr(inference_api, "MAX_QUEUED", 1)
    fake.hold_after = 0
    k = KEYS["queue"]
    before = balance(devnet, k.address)
    first: list = []

    def ask():
        with httpx.Client(base_url=devnet.url, timeout=20) as c:
            first.append(post(c, devnet, k, body_of()))

    t = threading.Thread(target=ask)
    t.start()
    wait_until(fake.holding.is_set, "the first request to hold the model")
    r = post(http, devnet, k, body_of())
    assert r.status_code == 429 and r.headers["retry-after"].isdigit()
    assert r.json()["error"]["type"] == "rate_limit_exceeded"
    fake.release()
    t.join(20)
    assert first[0].status_code == 200
    assert settled(devnet, k.address, before) == 11 * PRICE  # the refused one cost nothing


def test_blocks_keep_coming_while_the_model_generates(http, devnet, fake):
    fake.pieces, fake.delay = ["x"] * 10, 0.1  # a second of generation; blocks every 0.05 s
    k = KEYS["slow"]
    start = devnet.chain.height
    heights = []
    raw, headers = signed(devnet, k, body_of(stream=True, max_tokens=10))
    with http.stream("POST", "/v1/chat/completions", content=raw, headers=headers) as r:
        for line in r.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"]:
                heights.append(devnet.chain.height)
    assert len(heights) >= 10
    assert devnet.chain.height - start >= 8 and len(set(heights)) >= 5  # blocks were produced between the pieces


def test_a_client_that_leaves_mid_stream_pays_for_what_was_generated(http, devnet, fake):
    fake.pieces, fake.hold_after = ["a", "b", "c", "d", "e", "f"], 2
    k = KEYS["cut"]
    before, cancelled = balance(devnet, k.address), fake.cancelled
    content = "tell me a long story"
    raw, headers = signed(devnet, k, body_of(content=content, stream=True, max_tokens=6))
    got = []
    with http.stream("POST", "/v1/chat/completions", content=raw, headers=headers) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                delta = json.loads(line[6:])["choices"][0]["delta"]
                if delta.get("content"):
                    got.append(delta["content"])
                    if len(got) == 2:
                        break  # leave: the response is closed here
    assert got == ["a", "b"]
    wait_until(lambda: fake.cancelled > cancelled, "the model's job to be cancelled")
    loss = settled(devnet, k.address, before)
    prompt_estimate = math.ceil(len(content) / inference_api.PROMPT_CHARS_PER_TOKEN)
    assert loss == (prompt_estimate + 2) * PRICE  # two pieces generated, the prompt estimated
    assert loss < (len(content) + 6) * PRICE  # well below the escrow


def test_a_backend_failure_is_refunded_in_full(http, devnet, fake):
    fake.fail_after = 2
    k = KEYS["fail"]
    before, node_before = balance(devnet, k.address), balance(devnet, devnet.node_address)
    events = sse(post(http, devnet, k, body_of(stream=True)).text)
    assert events[-1] == "[DONE]"
    assert events[-2] == {"error": {"message": "the model failed: the fake model failed mid-way",
                                    "type": "server_error"}}
    assert [e["choices"][0]["delta"].get("content") for e in events[1:3]] == ["Hello", ","]
    r = post(http, devnet, k, body_of())
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    fake.fail_after = None
    # both escrows went back: once the module is empty again, the balance is what it was
    wait_until(lambda: balance(devnet, INFERENCE_MODULE_ADDRESS) == 0 and not devnet.chain.mempool
               and devnet.chain.search(f"transfer.recipient='{k.address}'")[0] >= 2, "both refunds")
    assert balance(devnet, k.address) == before and balance(devnet, devnet.node_address) == node_before


# ----- the signature check's own parts -----

def test_a_high_s_signature_is_refused(http, devnet):
    from gonka_tui.core.secp256k1 import N

    k = KEYS["auth"]
    before = balance(devnet, k.address)
    raw, headers = signed(devnet, k, body_of())
    sig = base64.b64decode(headers["Authorization"])
    high = sig[:32] + (N - int.from_bytes(sig[32:], "big")).to_bytes(32, "big")  # the same signature, malleated
    r = http.post("/v1/chat/completions", content=raw, headers={**headers, "Authorization":
                                                                base64.b64encode(high).decode()})
    assert r.status_code == 401 and "low-S" in r.json()["error"]["message"]
    assert balance(devnet, k.address) == before


def test_the_replay_cache_forgets_what_the_window_refuses_anyway_and_is_bounded():
    from gonka_tui.devnet.inference_auth import ReplayBusy, ReplayCache

    cache = ReplayCache(window_ns=100, max_entries=3)
    cache.add(b"a", 1000, 1000)
    cache.add(b"b", 1050, 1050)
    assert cache.seen(b"a") and cache.seen(b"b")
    cache.add(b"c", 1150, 1150)  # "a" is now older than the window: dropped (it would be stale)
    assert not cache.seen(b"a") and cache.seen(b"b") and len(cache) == 2
    cache.add(b"d", 1150, 1150)
    with pytest.raises(ReplayBusy):  # full of signatures still inside the window: refuse, never forget one
        cache.add(b"e", 1150, 1150)
    assert cache.seen(b"b") and not cache.seen(b"e")


def test_the_backend_is_started_with_the_devnet_and_closed_with_it(tmp_path):
    backend = FakeBackend()
    with start_in_thread(tmp_path / "d", block_time=0.05, inference_backend=backend,
                         poc=PocConfig(epochs=EpochParams(first_poc_start=10**8))):
        assert backend.started and not backend.closed
    assert backend.closed


def test_an_oversized_body_is_413_and_costs_nothing(http, devnet, fake):
    k = KEYS["model"]
    before, jobs = balance(devnet, k.address), len(fake.jobs)
    body = json.dumps({"model": MODEL_ID, "messages": [{"role": "user", "content": "x" * (3 * 1024 * 1024)}]})
    r = post(http, devnet, k, body.encode())
    assert r.status_code == 413 and "too large" in r.json()["error"]["message"]
    assert balance(devnet, k.address) == before and len(fake.jobs) == jobs
