"""Concurrent sends from one account all land, each exactly once (issue 6, item 4): gas is estimated
with the sequence the node expects (the mempool's pending transactions included), a taken sequence
is signed again with the one the node reports, a bounded number of times with a random pause, and a
lost reply is never answered by signing again."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from gonka_tui.config import DEADLINE_ENV
from gonka_tui.core.chain_client import ChainClient
from gonka_tui.core.errors import ChainError, TxRejected
from gonka_tui.core.transfer import JITTER_SECONDS, SEQUENCE_TRIES, execute_send, plan_send
from gonka_tui.devnet.genesis import Fund
from gonka_tui.devnet.server import start_in_thread
from gonka_tui.devnet.testkit import key
from tests.conftest import ABANDON, ABANDON_1200, PASSPHRASE, REPO
from tests.fake_node import FakeNode

GNK = 10**9
SENDER, BUSY, TO, LOST = key(911), key(912), key(913), key(914)


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    with start_in_thread(tmp_path_factory.mktemp("devnet"), block_time=0.3,
                         funds=[Fund(ABANDON_1200, 100 * GNK), Fund(LOST.address, 100 * GNK)]) as d:
        yield d


@pytest.fixture(scope="module")
def no_blocks(tmp_path_factory):
    """A devnet whose next block is a minute away: what is broadcast stays in the mempool."""
    with start_in_thread(tmp_path_factory.mktemp("still"), block_time=60,
                         funds=[Fund(BUSY.address, 100 * GNK)]) as d:
        yield d


def committed(url: str, address: str) -> tuple[int, int]:
    """(sequence, ngonka balance) of `address` in the committed state."""
    acc = httpx.get(f"{url}/chain-api/cosmos/auth/v1beta1/accounts/{address}")
    bal = httpx.get(f"{url}/chain-api/cosmos/bank/v1beta1/balances/{address}").json()["balances"]
    sequence = int(acc.json()["account"]["sequence"]) if acc.status_code == 200 else 0
    return sequence, sum(int(c["amount"]) for c in bal if c["denom"] == "ngonka")


async def test_gas_is_estimated_with_the_sequence_the_mempool_expects(no_blocks):
    async with ChainClient([no_blocks.url]) as client:
        account = await client.account(BUSY.address)
        for n in range(2):  # two transactions of the account wait in the mempool
            tx = BUSY.send(TO.address, 1, account_number=account.account_number, sequence=account.sequence + n)
            assert (await client.broadcast(tx)).code == 0
        plan = await plan_send(client, BUSY.signer, BUSY.address, TO.address, GNK)
        assert plan.gas_estimated and plan.gas > 0
        assert plan.sequence == account.sequence + 2  # not the committed one the account query shows
        result = await execute_send(client, BUSY.signer, plan, wait=False)
        assert result.code == 0
    assert len(no_blocks.chain.mempool) == 3


async def test_two_sends_of_the_very_same_transfer_both_land(no_blocks):
    """Signing is deterministic: two sends of one amount to one recipient at one sequence are the same
    bytes, and the node calls the second "already in the mempool" (code 19). It is a second transfer
    all the same: it signs again with the next sequence instead of failing."""
    waiting = len(no_blocks.chain.mempool)
    async with ChainClient([no_blocks.url]) as client:
        first = await plan_send(client, BUSY.signer, BUSY.address, TO.address, GNK)
        second = await plan_send(client, BUSY.signer, BUSY.address, TO.address, GNK)
        assert first == second
        sent = [await execute_send(client, BUSY.signer, plan, wait=False, sleep=lambda _s: asyncio.sleep(0))
                for plan in (first, second)]
    assert [r.code for r in sent] == [0, 0] and sent[0].txhash != sent[1].txhash
    assert len(no_blocks.chain.mempool) == waiting + 2


class TakenSequence:
    """A FakeNode behind a transport where, before each of the first `times` broadcasts, another
    transaction of the account lands first (its sequence moves on)."""

    def __init__(self, node: FakeNode, address: str, times: int) -> None:
        self.node, self.address, self.times = node, address, times
        self.broadcasts = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/cosmos/tx/v1beta1/txs"):
            self.broadcasts += 1
            if self.broadcasts <= self.times:
                self.node.accounts[self.address].sequence += 1
        return self.node.handle(request)


async def test_a_taken_sequence_is_signed_again_with_the_one_the_node_reports():
    node = FakeNode()
    account = node.fund(SENDER.address, 10 * GNK)
    pauses: list[float] = []

    async def pause(seconds):
        pauses.append(seconds)

    race = TakenSequence(node, SENDER.address, times=3)
    async with ChainClient(["http://node.test"], transport=httpx.MockTransport(race.handle)) as client:
        plan = await plan_send(client, SENDER.signer, SENDER.address, TO.address, GNK)
        result = await execute_send(client, SENDER.signer, plan, sleep=pause, poll=0)
    assert result.code == 0 and race.broadcasts == 4
    assert account.sequence == plan.sequence + 4  # three others, then this one, once
    assert node.accounts[TO.address].balance == GNK
    assert len(pauses) == 3 and all(0 <= p <= JITTER_SECONDS * (i + 1) for i, p in enumerate(pauses))


async def test_signing_again_is_bounded():
    node = FakeNode()
    node.fund(SENDER.address, 10 * GNK)
    pauses: list[float] = []

    async def pause(seconds):
        pauses.append(seconds)

    race = TakenSequence(node, SENDER.address, times=10**6)  # every try loses the race
    async with ChainClient(["http://node.test"], transport=httpx.MockTransport(race.handle)) as client:
        plan = await plan_send(client, SENDER.signer, SENDER.address, TO.address, GNK)
        with pytest.raises(TxRejected, match=r"code 32.*got in first"):
            await execute_send(client, SENDER.signer, plan, sleep=pause)
    assert race.broadcasts == SEQUENCE_TRIES and len(pauses) == SEQUENCE_TRIES - 1
    assert node.accounts.get(TO.address) is None  # nothing was sent


class LoseReplyThenCommit(httpx.AsyncBaseTransport):
    """The first broadcast arrives but its reply is lost; the client's look-up of the hash then finds
    nothing, and the block with the transaction is committed right after (before the retry)."""

    def __init__(self, url: str) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.url = url
        self.broadcasts = 0
        self.lost_hash: str | None = None
        self.looked_up = False

    async def handle_async_request(self, request):
        response = await self.inner.handle_async_request(request)
        path = request.url.path
        if request.method == "POST" and path.endswith("/cosmos/tx/v1beta1/txs"):
            self.broadcasts += 1
            if self.broadcasts == 1:
                await response.aread()
                self.lost_hash = json.loads(response.content)["tx_response"]["txhash"]
                raise httpx.ReadTimeout("the reply was lost", request=request)
        elif self.lost_hash and path.endswith(f"/txs/{self.lost_hash}") and not self.looked_up:
            # The look-up's answer left the node before the block: "not found", then the block commits.
            self.looked_up = True
            await response.aread()
            await self._wait_committed()
            return httpx.Response(404, json={"code": 5, "message": f"tx not found: {self.lost_hash}",
                                             "details": []})
        return response

    async def _wait_committed(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as http:
            while (await http.get(f"{self.url}/chain-api/cosmos/tx/v1beta1/txs/{self.lost_hash}")).status_code != 200:
                assert time.monotonic() < deadline, "the lost transaction was never committed"
                await asyncio.sleep(0.05)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_lost_reply_then_a_used_sequence_is_not_signed_again(devnet):
    before = committed(devnet.url, TO.address)[1]
    sender_seq = committed(devnet.url, LOST.address)[0]
    transport = LoseReplyThenCommit(devnet.url)
    async with ChainClient([devnet.url], transport=transport) as client:
        plan = await plan_send(client, LOST.signer, LOST.address, TO.address, 2 * GNK, gas=200_000)
        result = await execute_send(client, LOST.signer, plan, poll=0.1)
    assert result.code == 0 and result.txhash == transport.lost_hash
    assert transport.broadcasts == 2  # the same bytes once more (refused: their sequence is used), no new ones
    assert committed(devnet.url, LOST.address)[0] == sender_seq + 1
    assert committed(devnet.url, TO.address)[1] == before + 2 * GNK


async def test_a_lost_broadcast_whose_sequence_another_took_stops_with_the_hash():
    """The reply is lost and the sequence is then used, but not by a transaction the node can find:
    it may still be ours (on its way to a block), so nothing is signed again."""
    node = FakeNode()
    account = node.fund(SENDER.address, 10 * GNK)
    broadcasts = []

    def handle(request):
        if request.method == "POST" and request.url.path.endswith("/cosmos/tx/v1beta1/txs"):
            broadcasts.append(request)
            if len(broadcasts) == 1:
                account.sequence += 1  # another transaction of the account took the sequence meanwhile
                raise httpx.ReadTimeout("the reply was lost", request=request)
        return node.handle(request)

    async with ChainClient(["http://node.test"], transport=httpx.MockTransport(handle)) as client:
        plan = await plan_send(client, SENDER.signer, SENDER.address, TO.address, GNK)
        with pytest.raises(ChainError, match=r"may have gone through; check `gonka tx show [0-9A-F]{64}`"):
            await execute_send(client, SENDER.signer, plan)
    assert len(broadcasts) == 2 and broadcasts[0].content == broadcasts[1].content  # the same bytes, once more
    assert node.accounts.get(TO.address) is None


def test_ten_concurrent_sends_from_one_account_all_land(tmp_path, devnet):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GONKA_")}
    env.update({"GONKA_HOME": str(home), "GONKA_PASSPHRASE": PASSPHRASE, "GONKA_NODE": devnet.url,
                DEADLINE_ENV: "10"})
    cmd = [sys.executable, "-m", "gonka_tui"]
    added = subprocess.run([*cmd, "keys", "add", "alice", "--recover"], input=ABANDON, capture_output=True,
                           text=True, env=env, cwd=REPO, timeout=60)
    assert added.returncode == 0, added.stderr
    recipient = key(915).address
    sender_seq, _ = committed(devnet.url, ABANDON_1200)
    amounts = [1000 * (i // 2 + 1) for i in range(10)]  # in pairs: a pair signs the very same bytes
    procs = [subprocess.Popen([*cmd, "send", "alice", recipient, f"{a}ngonka", "--yes", "--json"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=REPO) for a in amounts]
    outcomes = [p.communicate(timeout=120) for p in procs]
    failures = [(p.returncode, err) for p, (_out, err) in zip(procs, outcomes) if p.returncode != 0]
    assert failures == []
    hashes = {json.loads(out)["txhash"] for out, _err in outcomes}
    assert len(hashes) == 10
    assert committed(devnet.url, recipient) == (0, sum(amounts))
    assert committed(devnet.url, ABANDON_1200)[0] == sender_seq + 10  # each landed exactly once
