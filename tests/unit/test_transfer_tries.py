"""A `Transfer` across tries, as the app drives it: the first try sends, a try after an
interruption resumes and never sends twice."""

from gonka_tui.config import NetworkProfile
from gonka_tui.core.keys import derive_key
from gonka_tui.core.secp256k1 import Signer
from gonka_tui.core.transfer import BROADCASTING, SIGNING, WAITING, Transfer, plan_send
from tests.conftest import ABANDON, ABANDON_1200
from tests.fake_node import FakeNode

TO = "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak"
PROFILE = NetworkProfile("test", "gonka-devnet", ("http://node.test",))
GNK = 10**9


async def test_a_second_try_finds_the_first_and_sends_nothing():
    signer = Signer(derive_key(ABANDON).private_key)
    node = FakeNode()
    node.fund(ABANDON_1200, 10 * GNK)
    client = node.client(PROFILE)
    transfer = Transfer(signer, await plan_send(client, signer, ABANDON_1200, TO, GNK))
    steps: list[str] = []
    first = await transfer.attempt(client, progress=steps.append)
    assert first.code == 0 and node.broadcasts == 1
    assert [s for s in steps if s.startswith((SIGNING, BROADCASTING, WAITING))][:3] == \
        [SIGNING, BROADCASTING, f"{WAITING} (up to 90 s)"]
    steps.clear()
    again = await transfer.attempt(client, progress=steps.append)  # as after a lost reply
    assert again.txhash == first.txhash and node.broadcasts == 1 and BROADCASTING not in steps
    assert node.accounts[TO].balance == GNK
    await client.aclose()
