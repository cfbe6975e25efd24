"""The send flow's promises against a real devnet: a lost reply never sends twice, a taken
sequence is re-signed once, and an over-spend is refused before anything is signed."""

from __future__ import annotations

import httpx
import pytest

from gonka_tui.core.chain_client import ChainClient
from gonka_tui.core.errors import InputError
from gonka_tui.core.transfer import execute_send, expected_sequence, plan_send
from gonka_tui.devnet.genesis import Fund
from gonka_tui.devnet.server import start_in_thread
from gonka_tui.devnet.testkit import key

GNK = 10**9
SENDER, OTHER, TO = key(801), key(802), key(803)


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    # Slow blocks, so a lost reply is retried while the first copy still waits in the mempool.
    with start_in_thread(tmp_path_factory.mktemp("devnet"), block_time=1.0,
                         funds=[Fund(SENDER.address, 100 * GNK), Fund(OTHER.address, 100 * GNK)]) as d:
        yield d


class LoseFirstBroadcastReply(httpx.AsyncBaseTransport):
    """Delivers every request, but the first broadcast's reply never reaches the client."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.broadcasts = 0

    async def handle_async_request(self, request):
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/cosmos/tx/v1beta1/txs"):
            self.broadcasts += 1
            if self.broadcasts == 1:
                await response.aread()
                raise httpx.ReadTimeout("the reply was lost", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def balance(client, address) -> int:
    client.invalidate()
    return (await client.balances(address)).total


async def test_a_lost_reply_is_not_sent_twice(devnet):
    transport = LoseFirstBroadcastReply()
    async with ChainClient([devnet.url], transport=transport) as client:
        before = await balance(client, TO.address)
        plan = await plan_send(client, SENDER.signer, SENDER.address, TO.address, 2 * GNK, gas=200_000)
        result = await execute_send(client, SENDER.signer, plan, poll=0.1)
        assert result.code == 0 and result.height
        assert transport.broadcasts == 2  # looked up, then the same bytes again (answered "already in mempool")
        assert await balance(client, TO.address) == before + 2 * GNK
        account = await client.account(SENDER.address)
        assert account.sequence == plan.sequence + 1


async def test_a_taken_sequence_is_signed_again_once(devnet):
    async with ChainClient([devnet.url]) as client:
        plan = await plan_send(client, OTHER.signer, OTHER.address, TO.address, GNK, gas=200_000)
        # Another transaction from the same account takes the sequence first (still in the mempool).
        first = OTHER.send(TO.address, 3, account_number=plan.account_number, sequence=plan.sequence)
        assert (await client.broadcast(first)).code == 0
        before = await balance(client, TO.address)
        result = await execute_send(client, OTHER.signer, plan, poll=0.1)
        assert result.code == 0
        assert await balance(client, TO.address) == before + GNK + 3
        assert (await client.account(OTHER.address)).sequence == plan.sequence + 2


async def test_over_spend_refused_before_signing(devnet):
    class Refuse:
        pubkey = SENDER.signer.pubkey

        def sign(self, message):
            raise AssertionError("nothing may be signed")

    async with ChainClient([devnet.url]) as client:
        with pytest.raises(InputError, match="not enough spendable funds"):
            await plan_send(client, Refuse(), SENDER.address, TO.address, 10**6 * GNK)


def test_expected_sequence_from_the_node_log():
    assert expected_sequence("account sequence mismatch, expected 6, got 5: incorrect account sequence") == 6
    assert expected_sequence("something else") is None
