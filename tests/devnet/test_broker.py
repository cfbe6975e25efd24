"""The devnet's broker (broker.py): Bearer keys, its own account that pays, the key file, the funding at start,
and `gonka devnet --broker-key` (validated, never printed)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading

import httpx
import pytest

from gonka_tui.core.errors import InputError
from gonka_tui.devnet.broker import BROKER_KEY_FILE, FUNDING_FLOOR, FUNDING_TOP_UP, Broker, parse_broker_key
from gonka_tui.devnet.epochs import EpochParams, PocConfig
from gonka_tui.devnet.inference_rules import INFERENCE_MODULE_ADDRESS
from gonka_tui.devnet.server import start_in_thread
from gonka_tui.devnet.testkit import wait_until
from gonka_tui.devnet.text_backend import MODEL_ID

from .fake_backend import FakeBackend

KEY = "devnet-broker-key-0123456789"
OTHER_KEY = "another-broker-key-abcdefgh"
PRICE = 10_000
NO_POC = PocConfig(epochs=EpochParams(first_poc_start=10**8))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def logs():
    return []


@pytest.fixture(scope="module")
def devnet(tmp_path_factory, logs):
    with start_in_thread(tmp_path_factory.mktemp("devnet"), block_time=0.05, inference_backend=FakeBackend(),
                         broker_keys=[KEY, OTHER_KEY], log=logs.append, poc=NO_POC) as d:
        yield d


@pytest.fixture
def http(devnet):
    with httpx.Client(base_url=devnet.url + "/broker/v1", timeout=10) as client:
        yield client


def bearer(key: str = KEY) -> dict:
    return {"Authorization": f"Bearer {key}"}


def chat(**extra) -> dict:
    return {"model": MODEL_ID, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 10, **extra}


@pytest.fixture(scope="module")
def broker_address(devnet):
    with httpx.Client(base_url=devnet.url, timeout=10) as c:
        address = c.get("/broker/v1/account", headers=bearer()).json()["address"]
    wait_until(lambda: devnet.chain.ledger.get(address) is not None, "the broker's funding to be committed")
    return address


def test_wrong_or_missing_key_is_401(http, devnet):
    for headers in ({}, bearer("x" * 30), {"Authorization": KEY}, bearer(KEY + "x"), bearer(KEY[:-1])):
        r = http.post("/chat/completions", json=chat(), headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_api_key"
        assert KEY not in r.text
    assert http.get("/account", headers=bearer("y" * 20)).status_code == 401
    assert devnet.chain.ledger.get(INFERENCE_MODULE_ADDRESS) is None  # nothing was escrowed


def test_a_good_key_is_answered_and_the_broker_pays(http, devnet, broker_address):
    wait_until(lambda: not devnet.chain.mempool, "an empty mempool")
    before = devnet.chain.ledger.get(broker_address).balance
    r = http.post("/chat/completions", json=chat(), headers=bearer(OTHER_KEY))
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["choices"][0]["message"]["content"] == "Hello, world!"
    assert data["usage"] == {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11,
                             "cost_ngonka": str(11 * PRICE)}
    wait_until(lambda: devnet.chain.ledger.get(broker_address).balance != before and not devnet.chain.mempool
               and devnet.chain.ledger.get(INFERENCE_MODULE_ADDRESS).balance == 0, "the settlement")
    assert before - devnet.chain.ledger.get(broker_address).balance == 11 * PRICE
    account = http.get("/account", headers=bearer()).json()
    assert account == {"address": broker_address, "balance": str(before - 11 * PRICE)}


def test_a_broker_stream_reports_its_cost(http):
    r = http.post("/chat/completions", json=chat(stream=True, stream_options={"include_usage": True}),
                  headers=bearer())
    assert r.status_code == 200
    events = [b[len("data: "):] for b in r.text.split("\n\n") if b]
    assert events[-1] == "[DONE]"
    usage = json.loads(events[-2])
    assert usage["choices"] == [] and usage["usage"]["cost_ngonka"] == str(11 * PRICE)


def test_models_in_openai_shape(http):
    data = http.get("/models").json()
    assert data["object"] == "list"
    assert [(m["id"], m["object"], m["owned_by"]) for m in data["data"]] == [(MODEL_ID, "model", "gonka-devnet")]
    assert isinstance(data["data"][0]["created"], int)


def test_keys_are_never_logged(devnet, logs, http):
    assert http.post("/chat/completions", json=chat(), headers=bearer()).status_code == 200
    assert logs and not any(KEY in m or OTHER_KEY in m for m in logs)
    assert KEY not in repr(devnet)


def test_a_devnet_without_keys_says_how_to_enable_the_broker(tmp_path):
    with start_in_thread(tmp_path / "d", block_time=0.05, inference_backend=FakeBackend(), poc=NO_POC) as d:
        r = httpx.post(d.url + "/broker/v1/chat/completions", json=chat(), headers=bearer())
        assert r.status_code == 401 and "--broker-key" in r.json()["error"]["message"]
        assert not (tmp_path / "d" / BROKER_KEY_FILE).exists()  # no keys: no broker account either


def test_the_account_key_is_private_kept_and_funded_only_when_low(tmp_path):
    home = tmp_path / "d"
    with start_in_thread(home, block_time=0.05, broker_keys=[KEY], poc=NO_POC) as d:
        path = home / BROKER_KEY_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        address = Broker.open(home, [KEY]).address
        wait_until(lambda: d.chain.ledger.get(address) is not None, "the funding transfer")
        assert d.chain.ledger.get(address).balance == FUNDING_TOP_UP
    with start_in_thread(home, block_time=0.05, broker_keys=[KEY], poc=NO_POC) as d:
        assert Broker.open(home, [KEY]).address == address  # the same account after a restart
        assert not d.chain.mempool and d.chain.ledger.get(address).balance == FUNDING_TOP_UP > FUNDING_FLOOR


@pytest.mark.parametrize("bad", ["short", "has a space in the middle!", "x" * 257, "tab\there-is-long-enough",
                                 "non-ascii-é-long-enough-key"])
def test_bad_broker_keys_are_refused_without_repeating_them(bad):
    with pytest.raises(InputError) as exc:
        parse_broker_key(bad)
    assert bad not in str(exc.value)


def test_good_broker_keys_pass():
    assert parse_broker_key(KEY) == KEY


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gonka_devnet_prints_the_broker_url_and_never_the_key(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GONKA_")}
    env["GONKA_HOME"] = str(tmp_path / "home")
    env["GONKA_DEVNET_BROKER_KEYS"] = OTHER_KEY + "\n"  # a key kept out of the command line (ps shows those)
    proc = subprocess.Popen([sys.executable, "-m", "gonka_tui", "devnet", "--home", str(tmp_path / "devnet"),
                             "--port", str(port), "--broker-key", KEY, "--inference-price", "20000",
                             "--inference-backend", "http://127.0.0.1:9/v1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    lines: list[str] = []
    errors: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True).start()
    try:
        wait_until(lambda: any("Ctrl-C" in line for line in lines) or proc.poll() is not None, "the start-up lines",
                   timeout=30)
        out = "".join(lines)
        assert f"http://127.0.0.1:{port}/broker/v1 (OpenAI-compatible; 2 API keys)" in out, out + "".join(errors)
        for key, status in ((OTHER_KEY, 503), ("not-a-key-of-this-devnet", 401)):  # 503: its backend is down
            r = httpx.post(f"http://127.0.0.1:{port}/broker/v1/chat/completions", timeout=10,
                           headers={"Authorization": f"Bearer {key}"},
                           json={"model": "HuggingFaceTB/SmolLM2-135M-Instruct",
                                 "messages": [{"role": "user", "content": "hi"}]})
            assert r.status_code == status, (key, r.text)
        assert "inference:" in out
        pricing = httpx.get(f"http://127.0.0.1:{port}/v1/governance/pricing", timeout=5).json()
        assert pricing["unit_of_compute_price"] == 200 and pricing["models"][0]["price_per_token"] == 20000
    finally:
        proc.terminate()
        proc.wait(30)
    assert KEY not in "".join(lines) + "".join(errors) and OTHER_KEY not in "".join(lines) + "".join(errors)
