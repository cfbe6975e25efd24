"""A batch whose tx the chain does not have yet: its very bytes go out again, never a second signing."""

from __future__ import annotations

from types import SimpleNamespace

from gonka_tui.core.chain_client import BroadcastResult
from gonka_tui.miner.agent import Agent
from gonka_tui.miner.records import Recorder


class FakeClient:
    def __init__(self, code: int, committed=None) -> None:
        self.code, self.committed = code, committed
        self.broadcasts: list[bytes] = []

    async def get_tx(self, txhash):
        return self.committed if self.broadcasts else None

    async def broadcast(self, tx_bytes: bytes) -> BroadcastResult:
        self.broadcasts.append(tx_bytes)
        return BroadcastResult(self.code, "HASH", "account sequence mismatch" if self.code == 32 else "", "")


class FakeSender:
    def __init__(self) -> None:
        self.forgotten = 0

    def forget(self) -> None:
        self.forgotten += 1

    async def send(self, *a, **kw):  # a second signing would come here
        raise AssertionError("the batch was signed again")


def agent_with(tmp_path, client) -> tuple[Agent, Recorder]:
    records = Recorder(tmp_path)
    records.batch_queue("b1", epoch=1, poc_start_height=10, nonce_count=2, payload={"nonces": [1, 2],
                                                                                   "dist": [1.2, 1.3]})
    records.batch_submitting("b1", "AB" * 32, tx_bytes=b"signed-tx-bytes")
    supervisor = SimpleNamespace(devices=lambda: [], paused=False)
    agent = Agent(home=tmp_path / "miner", address="gonka1x", public_key_hex="02" + "00" * 32, client=client,
                  sender=FakeSender(), signer=None, supervisor=supervisor, records=records)
    return agent, records


async def test_a_tx_still_in_the_mempool_is_left_pending_not_signed_again(tmp_path):
    client = FakeClient(code=19)  # already in the mempool
    agent, records = agent_with(tmp_path, client)
    assert await agent.settle_unconfirmed()
    assert client.broadcasts == [b"signed-tx-bytes"]  # the recorded bytes, as they were
    assert records.batch("b1").state == "submitting" and records.batch("b1").tx_hash == "AB" * 32
    assert not records.queued_batches()


async def test_a_tx_whose_sequence_another_took_goes_back_to_the_queue(tmp_path):
    client = FakeClient(code=32)  # its sequence is used, and the chain does not have it: it can never land
    agent, records = agent_with(tmp_path, client)
    assert await agent.settle_unconfirmed()
    assert [b.batch_id for b in records.queued_batches()] == ["b1"]


async def test_a_tx_committed_meanwhile_is_accepted(tmp_path):
    client = FakeClient(code=32, committed=SimpleNamespace(code=0, raw_log=""))
    agent, records = agent_with(tmp_path, client)
    assert await agent.settle_unconfirmed()
    assert records.batch("b1").state == "accepted" and not records.queued_batches()
