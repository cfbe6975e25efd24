"""Sending helpers of the app: gas estimated with the public key alone, the largest amount, and a
retry that looks the hash up before sending anything; reconnecting now after a back-off."""

import pytest

from gonka_tui.config import NetworkProfile
from gonka_tui.core.errors import InputError, TxRejected
from gonka_tui.core.keys import derive_key
from gonka_tui.core.secp256k1 import Signer
from gonka_tui.core.transfer import PublicKeySigner, execute_send, plan_max, plan_send, resume_send
from tests.conftest import ABANDON, ABANDON_1200
from tests.fake_node import FakeNode

TO = "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak"
PROFILE = NetworkProfile("test", "gonka-devnet", ("http://node.test",))
GNK = 10**9


@pytest.fixture
def signer():
    return Signer(derive_key(ABANDON).private_key)


async def test_estimate_with_the_public_key_matches_the_real_signer(signer):
    node = FakeNode(min_gas_price="0.25")
    node.fund(ABANDON_1200, 10 * GNK)
    client = node.client(PROFILE)
    estimate = await plan_send(client, PublicKeySigner(signer.pubkey), ABANDON_1200, TO, GNK)
    real = await plan_send(client, signer, ABANDON_1200, TO, GNK)
    assert (estimate.gas, estimate.fee) == (real.gas, real.fee) == (93_450, 23_363)
    assert PublicKeySigner(signer.pubkey).sign(b"x") == bytes(64)
    with pytest.raises(InputError):
        PublicKeySigner(b"\x04" + bytes(32))
    await client.aclose()


async def test_a_public_key_signature_never_passes(signer):
    node = FakeNode()
    node.fund(ABANDON_1200, 10 * GNK)
    client = node.client(PROFILE)
    plan = await plan_send(client, PublicKeySigner(signer.pubkey), ABANDON_1200, TO, GNK)
    with pytest.raises(TxRejected, match="code 4"):
        await execute_send(client, PublicKeySigner(signer.pubkey), plan)
    await client.aclose()


async def test_max_leaves_exactly_the_fee(signer):
    node = FakeNode(min_gas_price="0.5")
    node.fund(ABANDON_1200, 10 * GNK, locked=GNK)
    client = node.client(PROFILE)
    plan = await plan_max(client, signer, ABANDON_1200, TO)
    assert plan.amount + plan.fee == 9 * GNK and plan.fee == 46_725
    result = await execute_send(client, signer, plan)
    assert result.code == 0 and node.accounts[ABANDON_1200].balance == GNK  # only the locked part is left
    node2 = FakeNode()
    node2.fund(ABANDON_1200, 3 * GNK)
    client2 = node2.client(PROFILE)
    assert (await plan_max(client2, signer, ABANDON_1200, TO)).amount == 3 * GNK  # fee 0: everything
    node3 = FakeNode(min_gas_price="1000000")
    node3.fund(ABANDON_1200, GNK)
    client3 = node3.client(PROFILE)
    with pytest.raises(InputError, match="not enough spendable"):
        await plan_max(client3, signer, ABANDON_1200, TO)
    for c in (client, client2, client3):
        await c.aclose()


async def test_resume_finds_the_earlier_attempt_and_sends_nothing(signer):
    node = FakeNode()
    node.fund(ABANDON_1200, 10 * GNK)
    client = node.client(PROFILE)
    plan = await plan_send(client, signer, ABANDON_1200, TO, GNK)
    first = await execute_send(client, signer, plan)
    steps = []
    again = await resume_send(client, signer, plan, progress=steps.append)
    assert again.txhash == first.txhash and again.code == 0 and node.broadcasts == 1
    assert "broadcasting" not in steps
    await client.aclose()


async def test_resume_sends_when_the_network_never_got_it(signer):
    node = FakeNode()
    node.fund(ABANDON_1200, 10 * GNK)
    client = node.client(PROFILE)
    plan = await plan_send(client, signer, ABANDON_1200, TO, GNK)
    result = await resume_send(client, signer, plan)
    assert result.code == 0 and node.broadcasts == 1 and node.accounts[TO].balance == GNK
    # a changed sequence is not "fixed" by re-signing: that could send a second time
    with pytest.raises(TxRejected, match="code 32"):
        await resume_send(client, signer, plan.__class__(**{**plan.__dict__, "amount": 2 * GNK}))
    await client.aclose()


async def test_retry_now_clears_back_off_but_not_rate_limits():
    node = FakeNode(online=False)
    client = node.client(NetworkProfile("t", None, ("http://a.test", "http://b.test")))
    a, b = client.nodes
    a.cooldown_until, a.failures = 1e12, 7
    b.cooldown_until, b.problem = 1e12, "rate limited (429)"
    client.retry_now()
    assert (a.cooldown_until, a.failures) == (0.0, 0) and b.cooldown_until == 1e12
    await client.aclose()
