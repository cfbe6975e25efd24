"""The official clients, unmodified, against the devnet: `gonka-openai` (signed requests, the devnet as its endpoint
and transfer agent) and `openai` (the devnet's broker with a key), streaming and not; and one short request to the
real model when llama.cpp and the model package are installed."""

from __future__ import annotations

import base64

import httpx
import pytest

from gonka_tui.devnet.epochs import EpochParams, PocConfig
from gonka_tui.devnet.genesis import Fund
from gonka_tui.devnet.inference_rules import INFERENCE_MODULE_ADDRESS
from gonka_tui.devnet.server import start_in_thread
from gonka_tui.devnet.testkit import key, wait_until
from gonka_tui.devnet.text_backend import MODEL_ID

from .fake_backend import FakeBackend

openai = pytest.importorskip("openai")
gonka_openai = pytest.importorskip("gonka_openai")

BROKER_KEY = "sdk-test-broker-key-0123456789"
DEV_N, POOR_N = 601, 602
DEV = key(DEV_N)  # testkit.key(n): the private key is n, big-endian
FUNDS = 10**13
PRICE = 10_000
NO_POC = PocConfig(epochs=EpochParams(first_poc_start=10**8))
MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    with start_in_thread(tmp_path_factory.mktemp("devnet"), block_time=0.05, funds=[Fund(DEV.address, FUNDS)],
                         inference_backend=FakeBackend(), broker_keys=[BROKER_KEY], poc=NO_POC) as d:
        r = httpx.post(d.url + "/v1/participants", json={"pub_key": base64.b64encode(DEV.pubkey).decode(),
                                                          "address": DEV.address}, timeout=10)
        assert r.status_code == 200
        yield d


def settled(devnet) -> None:
    wait_until(lambda: not devnet.chain.mempool and devnet.chain.ledger.get(INFERENCE_MODULE_ADDRESS).balance == 0,
               "the settlements")


def gonka_client(devnet):
    return gonka_openai.GonkaOpenAI(gonka_private_key=DEV_N.to_bytes(32, "big").hex(),
                                    endpoints=[gonka_openai.Endpoint(url=devnet.url + "/v1",
                                                                     address=devnet.node_address)],
                                    max_retries=0)


def test_gonka_openai_sdk_pays_from_the_signing_account(devnet):
    client = gonka_client(devnet)
    assert client.gonka_address == DEV.address
    before = devnet.chain.ledger.get(DEV.address).balance
    reply = client.chat.completions.create(model=MODEL_ID, messages=MESSAGES, max_tokens=10)
    assert reply.choices[0].message.content == "Hello, world!"
    assert reply.usage.total_tokens == 11
    stream = client.chat.completions.create(model=MODEL_ID, messages=MESSAGES, max_tokens=10, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello, world!"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4
    wait_until(lambda: devnet.chain.ledger.get(DEV.address).balance == before - 2 * 11 * PRICE,
               "both requests to be charged")
    settled(devnet)


def test_gonka_openai_sdk_sees_402_as_an_error(devnet):
    poor = key(POOR_N)
    httpx.post(devnet.url + "/v1/participants", json={"pub_key": base64.b64encode(poor.pubkey).decode(),
                                                       "address": poor.address}, timeout=10)
    client = gonka_openai.GonkaOpenAI(gonka_private_key=POOR_N.to_bytes(32, "big").hex(),
                                      endpoints=[gonka_openai.Endpoint(url=devnet.url + "/v1",
                                                                       address=devnet.node_address)], max_retries=0)
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model=MODEL_ID, messages=MESSAGES, max_tokens=10)
    assert exc.value.status_code == 402 and "insufficient" in str(exc.value)


def test_openai_sdk_with_a_broker_key(devnet):
    client = openai.OpenAI(base_url=devnet.url + "/broker/v1", api_key=BROKER_KEY, max_retries=0)
    assert [m.id for m in client.models.list()] == [MODEL_ID]
    reply = client.chat.completions.create(model=MODEL_ID, messages=MESSAGES, max_tokens=10)
    assert reply.choices[0].message.content == "Hello, world!"
    assert reply.usage.model_extra.get("cost_ngonka") == str(11 * PRICE)
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model=MODEL_ID, messages=MESSAGES, max_tokens=10, stream=True) if c.choices)
    assert text == "Hello, world!"
    wrong = openai.OpenAI(base_url=devnet.url + "/broker/v1", api_key="not-the-key-at-all", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model=MODEL_ID, messages=MESSAGES, max_tokens=10)
    settled(devnet)


def _real_model_reason() -> str | None:
    try:
        from gonka_tui.devnet import llm
    except ImportError as exc:
        return f"gonka_tui.devnet.llm is missing ({exc})"
    return llm.missing_reason()


def test_the_real_model_answers_through_the_broker(tmp_path):
    reason = _real_model_reason()
    if reason:
        pytest.skip(reason)
    from gonka_tui.devnet.llm import open_backend

    with start_in_thread(tmp_path / "devnet", block_time=0.1, inference_backend=open_backend(None, threads=1),
                         broker_keys=[BROKER_KEY], poc=NO_POC) as d:
        client = openai.OpenAI(base_url=d.url + "/broker/v1", api_key=BROKER_KEY, max_retries=0, timeout=60)
        reply = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "What is 2+2?"}],
                                               max_tokens=8)
        assert reply.choices[0].message.content.strip()
        assert 1 <= reply.usage.completion_tokens <= 8 and reply.usage.prompt_tokens > 0
        assert int(reply.usage.model_extra["cost_ngonka"]) > 0
