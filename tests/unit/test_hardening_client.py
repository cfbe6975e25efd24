"""The client always gives up in time (issue 6, item 3): a total deadline per request, a floor under
429 back-off, a node that trickles its reply cut off and left for the next one, health probes that
never hold up a healthy node, one clear line when no node answers; and the chain id checked on
every node of a profile that names one, even a single node."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx
import pytest

from gonka_tui.commands.context import Context
from gonka_tui.config import DEADLINE_ENV, load_config, request_deadline, resolve_home
from gonka_tui.core.chain_client import ChainClient
from gonka_tui.core.errors import ConfigError, NodeUnreachable
from gonka_tui.core.node_pool import MAX_ATTEMPTS
from gonka_tui.devnet.genesis import Fund
from gonka_tui.devnet.server import start_in_thread
from gonka_tui.devnet.testkit import key
from tests.conftest import ABANDON, ABANDON_1200, CLOSED_NODE, PASSPHRASE, REPO
from tests.misbehaving_node import MisbehavingNode

GNK = 10**9
DEADLINE = 2.0  # the tests' request deadline; one test keeps the default of 30 s
FUNDED = key(901).address
NEW = key(902).address
PATH = "/chain-api/cosmos/bank/v1beta1/balances/" + FUNDED


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    with start_in_thread(tmp_path_factory.mktemp("devnet"), block_time=0.2,
                         funds=[Fund(FUNDED, 5 * GNK), Fund(ABANDON_1200, 10 * GNK)]) as d:
        yield d


@pytest.fixture(scope="module")
def other_chain(tmp_path_factory):
    """A devnet started as `gonka devnet --chain-id my-chain`."""
    with start_in_thread(tmp_path_factory.mktemp("other"), block_time=0.2, chain_id="my-chain",
                         funds=[Fund(ABANDON_1200, 10 * GNK)]) as d:
        yield d


@pytest.fixture
def rate_limited():
    with MisbehavingNode("rate-limited") as node:
        yield node


@pytest.fixture
def trickle():
    with MisbehavingNode("trickle") as node:
        yield node


async def bounded(coro, seconds: float = 10.0):
    """Run `coro`; a hang (the old behaviour) fails the test instead of stalling the suite."""
    return await asyncio.wait_for(coro, seconds)


# ----- the transport -----

async def test_429_with_retry_after_zero_ends_within_the_deadline(rate_limited):
    started = time.monotonic()
    async with ChainClient([rate_limited.url], deadline=DEADLINE) as client:
        with pytest.raises(NodeUnreachable) as exc:
            await bounded(client.request("GET", PATH))
    assert time.monotonic() - started < DEADLINE + 1
    assert f"within {DEADLINE:g} s" in str(exc.value) and "rate limited (429)" in str(exc.value)
    # Retry-After: 0 still waits a second: one try at 0 s and one at 1 s, not hundreds.
    assert 2 <= len(rate_limited.requests) <= 3


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    async def sleep(self, seconds):
        self.now += seconds


async def test_the_default_budget_is_30_seconds_and_attempts_are_bounded():
    calls = []

    def handler(retry_after):
        def handle(request):
            calls.append(t.now)
            return httpx.Response(429, headers={"Retry-After": retry_after}, json={})
        return handle

    t = FakeTime()
    async with ChainClient(["http://node.test"], transport=httpx.MockTransport(handler("7")), clock=t.clock,
                           sleep=t.sleep) as client:
        assert client.deadline == 30
        with pytest.raises(NodeUnreachable, match=r"within 30 s .*rate limited.*try again in \d+ s"):
            await client.request("GET", PATH)
    assert calls == [0, 7, 14, 21, 28]  # the next try would be at 35 s, past the budget

    t, calls[:] = FakeTime(), []
    async with ChainClient(["http://node.test"], transport=httpx.MockTransport(handler("0")), clock=t.clock,
                           sleep=t.sleep) as client:
        with pytest.raises(NodeUnreachable, match=f"in {MAX_ATTEMPTS} tries"):
            await client.request("GET", PATH)
    assert len(calls) == MAX_ATTEMPTS and calls == sorted(set(calls)) and t.now < 30  # a second apart


async def test_a_trickling_node_is_cut_off(trickle):
    started = time.monotonic()
    async with ChainClient([trickle.url], deadline=DEADLINE) as client:
        with pytest.raises(NodeUnreachable, match="timed out: no complete answer within 2.0 s"):
            await bounded(client.request("GET", PATH))
    assert time.monotonic() - started < DEADLINE + 1
    assert trickle.bytes_trickled >= 1  # it was answering, just too slowly


async def test_a_profile_with_a_trickling_node_answers_from_the_healthy_one(trickle, devnet):
    started = time.monotonic()
    async with ChainClient([trickle.url, devnet.url], "gonka-devnet", deadline=DEADLINE) as client:
        balances = await bounded(client.balances(FUNDED))
        assert balances.total == 5 * GNK
        assert time.monotonic() - started < 1.5  # the trickling node's probe (10 s limit) did not hold it up
        assert [n.url for n in client.nodes if n.verified] == [devnet.url]


async def test_a_node_slow_to_answer_is_left_for_the_next_one(devnet):
    with MisbehavingNode("slow-rest") as slow:
        async with ChainClient([slow.url, devnet.url], "gonka-devnet", timeout=0.5, deadline=DEADLINE) as client:
            report = dict(await bounded(client.check_health()))
            assert report == {slow.url: "ok", devnet.url: "ok"}  # both answer /status at once
            client.nodes.sort(key=lambda n: n.url != slow.url)  # as if the slow one had answered first
            started = time.monotonic()
            status, data = await bounded(client.request("GET", PATH))
            assert status == 200 and data["balances"] == [{"denom": "ngonka", "amount": str(5 * GNK)}]
            assert 0.5 <= time.monotonic() - started < 1.5
            assert f"GET {PATH}" in slow.requests  # it was asked, and abandoned after 0.5 s
            assert client.nodes[0].url == devnet.url  # and the next request starts with the one that answered


async def test_a_node_sending_json_nested_too_deep_is_left_for_the_next_one():
    def handler(request):
        if request.url.host == "deep.test":
            return httpx.Response(200, content=b"[" * 100_000)  # json.loads raises RecursionError here
        return httpx.Response(200, json={"ok": True})

    async with ChainClient(["http://deep.test", "http://good.test"], transport=httpx.MockTransport(handler)) as client:
        for node in client.nodes:
            node.verified = True  # REST only: no /status probe
        assert await client.request("GET", PATH) == (200, {"ok": True})


async def test_probes_say_what_went_wrong(rate_limited):
    async with ChainClient([rate_limited.url, CLOSED_NODE], "gonka-devnet", deadline=DEADLINE) as client:
        with pytest.raises(NodeUnreachable) as exc:
            await bounded(client.request("GET", PATH))
    assert f"{rate_limited.url}: rate limited (429)" in str(exc.value)
    assert f"{CLOSED_NODE}: cannot connect (ConnectError)" in str(exc.value)


# ----- the chain id -----

async def test_a_single_node_of_another_chain_is_refused(devnet):
    async with ChainClient([devnet.url], "gonka-mainnet", deadline=DEADLINE) as client:
        with pytest.raises(NodeUnreachable) as exc:
            await bounded(client.balances(FUNDED))
    message = str(exc.value)
    assert "no node is on chain 'gonka-mainnet'" in message
    assert f"{devnet.url}: on chain 'gonka-devnet', not the profile's 'gonka-mainnet'" in message


async def test_nodes_of_a_profile_without_chain_id_must_agree(devnet, other_chain):
    async with ChainClient([devnet.url, other_chain.url], deadline=DEADLINE) as client:
        report = dict(await bounded(client.check_health()))
        refused = [url for url, state in report.items() if state != "ok"]
        assert len(refused) == 1 and "the other nodes'" in report[refused[0]]
        kept = (await client.status()).chain_id
        assert {kept, report[refused[0]].split("'")[1]} == {"gonka-devnet", "my-chain"}


async def test_a_lone_node_without_chain_id_is_believed_without_a_probe(other_chain):
    async with ChainClient([other_chain.url], deadline=DEADLINE) as client:
        assert await client.chain_id() == "my-chain"


# ----- the setting -----

def test_the_deadline_setting_and_its_errors(home, monkeypatch):
    h = resolve_home(home)
    monkeypatch.delenv(DEADLINE_ENV, raising=False)
    assert request_deadline(load_config(h)) == 30
    h.config_file.write_text("request_deadline_seconds = 5\n")
    assert request_deadline(load_config(h)) == 5
    monkeypatch.setenv(DEADLINE_ENV, "1.5")
    assert request_deadline(load_config(h)) == 1.5
    client = Context(home_arg=str(home)).chain_client()
    assert client.deadline == 1.5
    asyncio.run(client.aclose())
    for bad in ("0", "-1", "abc", "1e9", "nan", "601"):
        monkeypatch.setenv(DEADLINE_ENV, bad)
        with pytest.raises(ConfigError, match=f"\\${DEADLINE_ENV}=.* must be a number of seconds"):
            request_deadline(load_config(h))
    monkeypatch.delenv(DEADLINE_ENV)
    for bad in ('"30"', "0", "true", "inf", "1000"):
        h.config_file.write_text(f"theme = 'nord'\nrequest_deadline_seconds = {bad}\n")
        with pytest.raises(ConfigError, match="config.toml, line 2: request_deadline_seconds must be"):
            load_config(h)


# ----- the command line -----

def run_cli(home, *args, env=None, input=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GONKA_")}
    full_env.update({"GONKA_HOME": str(home), "GONKA_PASSPHRASE": PASSPHRASE, "GONKA_NODE": CLOSED_NODE,
                     DEADLINE_ENV: str(DEADLINE), **(env or {})})
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "gonka_tui", *args], input=input or "", capture_output=True,
                          text=True, env=full_env, cwd=REPO, timeout=60)
    return proc, time.monotonic() - started


@pytest.mark.parametrize("mode,words", [("rate-limited", "rate limited (429)"), ("trickle", "timed out")])
def test_balance_against_a_misbehaving_node_is_one_line_within_the_deadline(home, mode, words):
    _proc, baseline = run_cli(home, "balance", FUNDED)  # a refused connection: start-up time only
    with MisbehavingNode(mode) as node:
        proc, elapsed = run_cli(home, "balance", FUNDED, env={"GONKA_NODE": node.url})
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no node answered") and words in lines[0]
    assert node.url in lines[0] and "Traceback" not in proc.stderr
    assert elapsed - baseline < DEADLINE + 1.5


def test_balance_of_a_profile_on_another_chain_is_refused(home, devnet):
    (home / "config.toml").write_text(f'[networks.other]\nchain_id = "gonka-mainnet"\nnodes = ["{devnet.url}"]\n')
    proc, _ = run_cli(home, "--network", "other", "balance", FUNDED, env={"GONKA_NODE": ""})
    assert proc.returncode == 1 and proc.stdout == ""
    line, = proc.stderr.strip().splitlines()
    assert devnet.url in line and "'gonka-devnet'" in line and "'gonka-mainnet'" in line


def test_a_devnet_started_with_another_chain_id_works(home, other_chain):
    assert run_cli(home, "keys", "add", "alice", "--recover", input=ABANDON)[0].returncode == 0
    proc, _ = run_cli(home, "balance", ABANDON_1200, "--json", env={"GONKA_NODE": other_chain.url})
    assert proc.returncode == 0, proc.stderr
    # The built-in devnet profile, moved to this port, takes the chain id from the node too.
    (home / "config.toml").write_text(f'[networks.devnet]\nnodes = ["{other_chain.url}"]\n')
    proc, _ = run_cli(home, "send", "alice", NEW, "1gnk", "--yes", "--json", env={"GONKA_NODE": ""})
    assert proc.returncode == 0, proc.stderr
    shown = httpx.get(f"{other_chain.url}/chain-api/cosmos/bank/v1beta1/balances/{NEW}").json()
    assert shown["balances"] == [{"denom": "ngonka", "amount": str(GNK)}]
