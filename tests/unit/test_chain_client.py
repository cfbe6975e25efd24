"""The node client's transport: fail-over, 429 back-off, caching, health, clean errors."""

import httpx
import pytest

from gonka_tui.core.chain_client import ChainClient
from gonka_tui.core.errors import ChainError, NodeUnreachable
from tests.conftest import ABANDON_1200

A, B = "http://node-a.test", "http://node-b.test"
STATUS = {"jsonrpc": "2.0", "id": 1, "result": {"node_info": {"network": "gonka-devnet", "version": "0.38.17"},
                                                 "sync_info": {"latest_block_height": "42",
                                                               "latest_block_time": "2026-11-25T00:00:00Z"}}}
BALANCES = {"balances": [{"denom": "ngonka", "amount": "1500000000"}], "pagination": {"total": "1"}}


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def clock(self):
        return self.now

    async def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def client(handler, nodes=(A, B), chain_id=None, **kw):
    t = FakeTime()
    c = ChainClient(list(nodes), chain_id, transport=httpx.MockTransport(handler), clock=t.clock, sleep=t.sleep, **kw)
    for node in c.nodes:  # these handlers answer REST only: no /status probe first
        node.verified = True
    return c, t


async def test_fails_over_to_the_next_node_and_stays_there():
    seen = []

    def handler(request):
        seen.append(request.url.host)
        if request.url.host == "node-a.test":
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json=BALANCES)

    c, _ = client(handler)
    status, data = await c.request("GET", "/chain-api/x")
    assert status == 200 and data == BALANCES and seen == ["node-a.test", "node-b.test"]
    await c.request("GET", "/chain-api/y")
    assert seen[-1] == "node-b.test" and len(seen) == 3  # the answering node is asked first now


async def test_5xx_and_non_json_fail_over_but_4xx_do_not():
    def handler(request):
        if request.url.host == "node-a.test":
            return httpx.Response(502, text="<html>bad gateway</html>")
        return httpx.Response(200, text="not json")

    c, _ = client(handler)
    with pytest.raises(NodeUnreachable, match="server error 502.*without JSON"):
        await c.request("GET", "/chain-api/x")

    c, _ = client(lambda r: httpx.Response(404, json={"code": 5, "message": "not found"}))
    status, data = await c.request("GET", "/chain-api/x")
    assert status == 404 and data["code"] == 5


async def test_429_backs_off_honouring_retry_after():
    calls = []

    def handler(request):
        calls.append(request.url.host)
        if len(calls) <= 2:
            return httpx.Response(429, headers={"Retry-After": "3"}, json={})
        return httpx.Response(200, json=BALANCES)

    c, t = client(handler)
    status, _ = await c.request("GET", "/chain-api/x")
    assert status == 200
    assert calls == ["node-a.test", "node-b.test", "node-a.test"]
    assert t.slept == [3.0]  # waited for the first cooldown, no busy loop


async def test_429_everywhere_beyond_the_wait_is_a_clear_error():
    c, t = client(lambda r: httpx.Response(429, headers={"Retry-After": "120"}, json={}), deadline=10)
    with pytest.raises(NodeUnreachable, match="rate limited.*try again in 120 s"):
        await c.request("GET", "/chain-api/x")
    assert t.slept == []


async def test_all_down_names_every_node():
    def handler(request):
        raise httpx.ConnectTimeout("slow")

    c, _ = client(handler, unreachable_hint="; start it")
    with pytest.raises(NodeUnreachable) as exc:
        await c.request("GET", "/chain-api/x")
    assert A in str(exc.value) and B in str(exc.value) and "timed out" in str(exc.value)
    assert str(exc.value).endswith("; start it")


async def test_reads_are_cached_briefly_and_broadcast_clears_the_cache():
    calls = []

    def handler(request):
        calls.append(request.url.path)
        if request.url.path.endswith("/txs"):
            return httpx.Response(200, json={"tx_response": {"txhash": "AB", "code": 0}})
        return httpx.Response(200, json=BALANCES)

    c, t = client(handler, nodes=(A,))
    await c.request("GET", "/chain-api/b", cache=True)
    await c.request("GET", "/chain-api/b", cache=True)
    assert len(calls) == 1
    t.now += 5
    await c.request("GET", "/chain-api/b", cache=True)
    assert len(calls) == 2
    await c.broadcast(b"\x01")
    await c.request("GET", "/chain-api/b", cache=True)
    assert len(calls) == 4


async def test_health_check_drops_nodes_of_another_chain():
    def handler(request):
        if request.url.host == "node-a.test":
            return httpx.Response(200, json={**STATUS, "result": {**STATUS["result"],
                                                                   "node_info": {"network": "other-chain"}}})
        if request.url.path.startswith("/chain-rpc"):
            return httpx.Response(200, json=STATUS)
        return httpx.Response(200, json=BALANCES)

    c = ChainClient([A, B], "gonka-devnet", transport=httpx.MockTransport(handler))
    report = dict(await c.check_health())
    assert report[B] == "ok" and "other-chain" in report[A]
    bal = await c.balances(ABANDON_1200)
    assert bal.total == 1_500_000_000
    assert await c.chain_id() == "gonka-devnet"


async def test_status_and_chain_id_mismatch():
    def handler(request):
        return httpx.Response(200, json=STATUS)

    c, _ = client(handler, nodes=(A,), chain_id="gonka-mainnet")
    assert (await c.status()).height == 42
    with pytest.raises(ChainError, match="on chain 'gonka-devnet', not 'gonka-mainnet'"):
        await c.chain_id()


async def test_malformed_replies_are_clean_errors():
    def handler(request):
        if "accounts" in request.url.path:
            return httpx.Response(200, json={"account": {"@type": "/cosmos.auth.v1beta1.BaseAccount",
                                                         "account_number": "x"}})
        return httpx.Response(200, json={"balances": "nope"})

    c, _ = client(handler, nodes=(A,))
    with pytest.raises(Exception) as exc:
        await c.account(ABANDON_1200)
    assert "malformed account number" in str(exc.value)
    with pytest.raises(Exception, match="without 'balances'"):
        await c.balances(ABANDON_1200)


async def test_vesting_account_shape():
    account = {"account": {"@type": "/cosmos.vesting.v1beta1.ContinuousVestingAccount",
                           "base_vesting_account": {"base_account": {"address": ABANDON_1200, "pub_key": None,
                                                                     "account_number": "7", "sequence": "3"},
                                                    "original_vesting": [{"denom": "ngonka", "amount": "100"}],
                                                    "end_time": "1900000000"},
                           "start_time": "1800000000"}}
    c, _ = client(lambda r: httpx.Response(200, json=account), nodes=(A,))
    acc = await c.account(ABANDON_1200)
    assert (acc.account_number, acc.sequence, acc.is_vesting, acc.original_vesting) == (7, 3, True, 100)


async def test_min_gas_price_defaults_to_zero_without_params():
    c, _ = client(lambda r: httpx.Response(404, json={"code": 5, "message": "not found"}), nodes=(A,))
    assert await c.min_gas_price() == 0
    c, _ = client(lambda r: httpx.Response(200, json={"params": {"fee_params": {"min_gas_price_ngonka": "1"}}}),
                  nodes=(A,))
    assert await c.min_gas_price() == 1
