"""`gonka infer`, `gonka models`, `gonka broker …` as a user types them: against the scripted fake node + broker
(tests/unit/inference_fake_server.py) for the faults, and end to end against the devnet serving a FakeBackend."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from gonka_tui.devnet.genesis import Fund
from gonka_tui.devnet.server import start_in_thread
from tests.conftest import ABANDON, ABANDON_118, ABANDON_1200, CLOSED_NODE
from tests.devnet.fake_backend import FakeBackend
from tests.unit.inference_fake_server import BROKER_KEY, MODEL, PRICE, serve

GNK = 10**9
DEVNET_BROKER_KEY = "devnet-broker-key-0123456789"


@pytest.fixture(scope="module")
def server():
    with serve() as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.script.clear()
    server.seen.clear()
    server.broker_cost = None
    return server


@pytest.fixture
def cli(gonka, fake):
    """`gonka` with the fake as its node and the 'abandon' key recovered as 'alice'."""

    def run(*args, node=fake.url, **kw):
        return gonka(*args, env={"GONKA_NODE": node, **kw.pop("env", {})}, **kw)

    assert run("keys", "add", "alice", "--recover", input=ABANDON).code == 0
    return run


def one_error_line(r) -> str:
    assert r.code != 0 and "Traceback" not in r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.err
    return lines[0]


def test_infer_json_prints_one_object_with_usage_and_cost(cli):
    r = cli("infer", "Say hello", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["model"] == MODEL and out["content"] == "Hello, world!"
    assert out["usage"] == {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}
    assert out["cost_ngonka"] == str(PRICE * 11) and out["cost_is_estimate"] is False
    assert (out["mode"], out["finish_reason"]) == ("signed", "stop")


def test_infer_streams_a_prompt_from_stdin_then_tokens_and_cost_on_stderr(cli, fake):
    r = cli("infer", "-", "--system", "Be brief.", input="What is Gonka?\n")
    assert r.code == 0, r.err
    assert r.out == "Hello, world!\n"
    assert r.err.strip().splitlines()[-1].startswith("11 tokens (7 prompt + 4 completion) · cost 0.00011 GNK")
    body = json.loads(fake.chats()[-1].body)
    assert body["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "What is Gonka?\n"}]


def test_models_json_lists_ids_prices_and_context(cli):
    r = cli("models", "--json")
    assert r.code == 0, r.err
    assert r.json() == [{"id": MODEL, "price_per_token": str(PRICE), "context_window": 2048}]
    text = cli("models").out
    assert MODEL in text and "10000" in text and " 10 " in text  # 10,000 ngonka/token = 10 GNK per 1M tokens


def test_broker_add_with_the_env_key_then_infer_through_it(cli, fake, home):
    url = fake.url + "/broker/v1"
    r = cli("broker", "add", "dev", url, env={"GONKA_BROKER_API_KEY": BROKER_KEY})
    assert r.code == 0, r.err
    assert BROKER_KEY not in r.out + r.err
    file = home / "brokers.json"
    assert BROKER_KEY.encode() not in file.read_bytes() and stat.S_IMODE(os.stat(file).st_mode) == 0o600
    assert cli("broker", "list", "--json").json() == [{"name": "dev", "url": url}]
    r = cli("infer", "hi", "--broker", "dev", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["mode"] == "broker" and out["content"] == "Hello, world!"
    assert (out["cost_ngonka"], out["cost_is_estimate"]) == (str(PRICE * 11), True)  # the broker reported none
    fake.broker_cost = 5
    assert cli("infer", "hi", "--broker", "dev", "--json").json()["cost_ngonka"] == "5"
    assert cli("broker", "remove", "dev").code == 0
    assert cli("broker", "list", "--json").json() == []


def test_a_profiles_broker_is_the_default_and_key_signs_instead(cli, fake, home):
    (home / "config.toml").write_text('[networks.devnet]\nbroker = "dev"\n')
    line = one_error_line(cli("infer", "hi"))
    assert "names the broker 'dev', which is not added" in line and "gonka broker add dev URL" in line
    assert cli("broker", "add", "dev", fake.url + "/broker/v1", env={"GONKA_BROKER_API_KEY": BROKER_KEY}).code == 0
    assert "(the profile default)" in cli("broker", "list").out
    assert cli("infer", "hi", "--json").json()["mode"] == "broker"
    assert cli("infer", "hi", "--key", "alice", "--json").json()["mode"] == "signed"


def test_broker_add_never_takes_the_key_as_an_argument_and_needs_one(cli, fake, home):
    r = cli("broker", "add", "dev", fake.url + "/broker/v1", "--key", BROKER_KEY)
    assert r.code == 2 and "unrecognized arguments" in r.err and not (home / "brokers.json").exists()
    line = one_error_line(cli("broker", "add", "dev", fake.url + "/broker/v1"))
    assert "GONKA_BROKER_API_KEY" in line
    line = one_error_line(cli("broker", "add", "dev", fake.url, env={"GONKA_BROKER_API_KEY": BROKER_KEY}))
    assert "/v1" in line


def test_a_402_is_one_line_with_both_amounts(cli, fake):
    fake.script = ["402"]
    line = one_error_line(cli("infer", "hi"))
    assert "402" in line and "5 ngonka spendable" in line and "50070000 ngonka" in line


def test_a_401_and_an_unknown_model_are_one_line_each(cli, fake):
    fake.script = ["401"]
    assert "401" in one_error_line(cli("infer", "hi"))
    line = one_error_line(cli("infer", "hi", "--model", "no/such"))
    assert "404" in line and MODEL in line


def test_a_cut_stream_prints_the_partial_answer_says_so_and_fails(cli, fake):
    fake.script = ["cut:2"]
    r = cli("infer", "hi")
    assert r.out == "Hello\n"
    assert "cut" in one_error_line(r)
    fake.script = ["cut:2"]
    r = cli("infer", "hi", "--json")
    assert r.code != 0 and r.json()["content"] == "Hello" and "cut" in r.json()["error"]


def test_an_offline_node_is_one_line(cli):
    line = one_error_line(cli("infer", "hi", node=CLOSED_NODE))
    assert "no node answered" in line


def test_an_empty_prompt_and_both_modes_at_once_are_refused(cli):
    assert "empty" in one_error_line(cli("infer", "-", input=""))
    r = cli("infer", "hi", "--key", "alice", "--broker", "dev")
    assert r.code == 2 and "not allowed with" in r.err


def test_mainnet_says_how_to_add_openbroker(gonka):
    line = one_error_line(gonka("infer", "hi", "--network", "mainnet"))
    assert "gonka broker add openbroker https://api.openbroker.gonka.gg/v1" in line
    assert "signed mode is disabled on mainnet" in line


# ----- end to end: the devnet with a scripted text backend -----

@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    funds = [Fund(ABANDON_1200, 1000 * GNK), Fund(ABANDON_118, 1000)]  # 118: 1,000 ngonka, below any escrow
    backend = FakeBackend()
    with start_in_thread(tmp_path_factory.mktemp("devnet"), block_time=0.1, funds=funds,
                         inference_backend=backend, broker_keys=[DEVNET_BROKER_KEY]) as d:
        d.backend = backend  # tests script it (and reset it after)
        yield d


@pytest.fixture
def dev_cli(gonka, devnet):
    def run(*args, **kw):
        return gonka(*args, env={"GONKA_NODE": devnet.url, **kw.pop("env", {})}, **kw)

    assert run("keys", "add", "alice", "--recover", input=ABANDON).code == 0
    return run


def test_devnet_signed_inference_is_charged_and_shows_in_history(dev_cli):
    r = dev_cli("infer", "Say hello", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["content"] == "Hello, world!" and out["mode"] == "signed"
    assert out["cost_ngonka"] == str(10_000 * out["usage"]["total_tokens"])
    txs = dev_cli("history", "alice", "--json", "--limit", "100").json()["txs"]
    assert sum(int(t["net"]) for t in txs) == -int(out["cost_ngonka"])  # escrow out, refund in: the cost
    assert dev_cli("models", "--json").json()[0]["price_per_token"] == "10000"


def test_devnet_broker_inference_with_its_own_price(dev_cli, devnet):
    url = devnet.url + "/broker/v1"
    assert dev_cli("broker", "add", "devnet", url, env={"GONKA_BROKER_API_KEY": DEVNET_BROKER_KEY}).code == 0
    r = dev_cli("infer", "hi", "--broker", "devnet", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["mode"] == "broker" and out["cost_is_estimate"] is False and int(out["cost_ngonka"]) > 0
    assert dev_cli("models", "--broker", "devnet", "--json").json()[0]["id"] == MODEL


def test_devnet_402_when_the_escrow_exceeds_the_balance(dev_cli):
    assert dev_cli("keys", "add", "poor", "--recover", "--coin-type", "118", input=ABANDON).code == 0
    line = one_error_line(dev_cli("infer", "hi", "--key", "poor"))
    assert "402" in line and "has 1000 ngonka spendable" in line and "escrow" in line


def test_devnet_cost_is_what_was_charged_when_the_tokens_exceed_the_escrow(dev_cli, devnet):
    # The escrow counts characters ("hi" = 2) + max_tokens (2); the chat template makes more tokens than that,
    # and the chain charges at most the escrow: the cost shown must be the charge, not price × tokens.
    node = devnet.chain.node_address
    before = devnet.chain.account(node).balance
    r = dev_cli("infer", "hi", "--max-tokens", "2", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["usage"]["total_tokens"] > 4
    assert out["cost_ngonka"] == str(4 * 10_000)
    deadline = time.monotonic() + 10  # the settlement tx lands in the next block
    while devnet.chain.account(node).balance == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert devnet.chain.account(node).balance - before == 4 * 10_000  # what the node (executor) was paid


def test_ctrl_c_mid_answer_says_the_request_may_be_charged(dev_cli, devnet, home):
    import signal
    import subprocess
    import sys
    import threading

    from tests.conftest import PASSPHRASE, REPO

    env = {k: v for k, v in os.environ.items() if not k.startswith("GONKA_")}
    env.update(GONKA_HOME=str(home), GONKA_NODE=devnet.url, GONKA_PASSPHRASE=PASSPHRASE)
    fake = devnet.backend
    fake.hold_after = 2  # two pieces, then the model waits: the answer is under way when Ctrl-C comes
    try:
        proc = subprocess.Popen([sys.executable, "-m", "gonka_tui", "infer", "Tell me a story"], env=env, cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watchdog = threading.Timer(30, proc.kill)  # a read below that never ends would fail the test, not hang it
        watchdog.start()
        first = proc.stdout.read(6)  # the answer's first pieces, streamed before the model holds
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        watchdog.cancel()
    finally:
        fake.reset()
    assert first == "Hello," and proc.returncode == 130, err
    assert "charged for the tokens generated" in err and "nothing was changed" not in err
