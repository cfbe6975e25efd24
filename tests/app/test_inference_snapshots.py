"""SVG snapshots of the Inference screen at 80×24 and 160×48: empty, a conversation with costs, offline and
insufficient balance. The client is the scripted fake, the node a FakeNode, the history written with fixed
times, so nothing moves. Update after an intended change with:
    scripts/test tests/app/test_inference_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest
from textual.widgets import TextArea

from gonka_tui.config import load_config, resolve_home
from gonka_tui.core.conversations import ConversationStore
from gonka_tui.core.errors import NodeUnreachable
from gonka_tui.core.inference import InsufficientFunds
from gonka_tui.tui.app import GonkaApp
from tests.app.fake_inference import MODEL, FakeInference, FakeOpener, Script
from tests.app.test_inference_screen import answers, fill
from tests.conftest import ABANDON_1200, PASSPHRASE
from tests.fake_node import FakeNode
from tests.tui_helpers import FakeClock, keystore, wait_for

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}

ANSWER = """Gonka is a decentralized network for **AI inference**:

- hosts run models on their GPUs,
- *Proof of Compute* rounds weigh their work,
- requests are paid in `GNK`.
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_000_000.0

    def __call__(self) -> float:
        self.now += 60.0
        return self.now


def history(home) -> None:
    store = ConversationStore(resolve_home(home).data_dir, clock=Clock())
    old = store.create(model=MODEL, mode="signed:main")
    store.add_message(old.id, "user", "Say hello in French")
    store.add_message(old.id, "assistant", "Bonjour !", model=MODEL, prompt_tokens=9, completion_tokens=3,
                      cost_ngonka=120_000)
    c = store.create(model=MODEL, mode="signed:main")
    store.add_message(c.id, "user", "What is Gonka?")
    store.add_message(c.id, "assistant", ANSWER, model=MODEL, prompt_tokens=31, completion_tokens=42,
                      cost_ngonka=730_000)
    store.add_message(c.id, "user", "And who pays?")
    store.add_message(c.id, "assistant", "The requester: its balance is reserved, then the", model=MODEL,
                      partial=True, note="stopped")
    store.close()


def snapshot_app(home, client: FakeInference, node: FakeNode) -> GonkaApp:
    h = resolve_home(home)
    ks = keystore(home)
    ks.unlock(PASSPHRASE)
    # Opened on the Inference screen: the Wallet never shows (nor its offline modal).
    return GonkaApp(h, load_config(h), keystore=ks, clock=FakeClock(), client_factory=node.client,
                    inference_opener=FakeOpener(client), start_mode="inference")


async def shown(pilot):
    from gonka_tui.tui.screens.inference import InferenceScreen

    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, InferenceScreen) and app.screen.is_mounted, what="screen")
    screen = app.screen
    await wait_for(pilot, lambda: not screen.query_one("#inf-model").prompt.startswith("loading"), what="models")
    return screen


async def steady(pilot, screen) -> None:
    await wait_for(pilot, lambda: not any(w.is_running for w in screen.workers), what="workers done")
    for field in screen.query(TextArea):
        field.cursor_blink = False
    await pilot.pause()


def funded() -> FakeNode:
    node = FakeNode()
    node.fund(ABANDON_1200, 4_999_150_000)
    return node


@pytest.mark.parametrize("size", SIZES)
def test_inference_empty(snap_compare, home, size):
    fill(home)

    async def run_before(pilot):
        screen = await shown(pilot)
        await wait_for(pilot, lambda: "balance" in str(screen.query_one("#inf-status").render()), what="balance")
        await steady(pilot, screen)

    assert snap_compare(snapshot_app(home, FakeInference(), funded()), terminal_size=SIZES[size],
                        run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_inference_conversation_with_costs(snap_compare, home, size):
    fill(home)
    history(home)

    async def run_before(pilot):
        screen = await shown(pilot)
        await pilot.press("escape", "enter")  # the list, the newest conversation
        await wait_for(pilot, lambda: len(answers(screen)) == 2, what="the conversation")
        await wait_for(pilot, lambda: "balance" in str(screen.query_one("#inf-status").render()), what="balance")
        await steady(pilot, screen)

    assert snap_compare(snapshot_app(home, FakeInference(), funded()), terminal_size=SIZES[size],
                        run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_inference_offline(snap_compare, home, size):
    fill(home)
    history(home)
    client = FakeInference(models_error=NodeUnreachable(
        "no node answered (http://127.0.0.1:26600: ConnectError)",
        "; is the local network running? start it with `gonka devnet`"))

    async def run_before(pilot):
        screen = await shown(pilot)
        await wait_for(pilot, lambda: screen.state == "offline", what="offline")
        await wait_for(pilot, lambda: screen.balance_problem, what="the balance's problem")
        await steady(pilot, screen)

    assert snap_compare(snapshot_app(home, client, FakeNode(online=False)), terminal_size=SIZES[size],
                        run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_inference_insufficient_balance(snap_compare, home, size):
    from tests.app.test_inference_screen import ask

    fill(home)
    refused = InsufficientFunds("the node refused the request (402): insufficient balance: 1,000,000 ngonka "
                                "available, 50,070,000 ngonka needed for the escrow", status=402)
    client = FakeInference(scripts=[Script([], error=refused)])
    node = FakeNode()
    node.fund(ABANDON_1200, 1_000_000)

    async def run_before(pilot):
        screen = await shown(pilot)
        await ask(pilot, screen, "Write a long essay about GPUs")
        await wait_for(pilot, lambda: screen.state == "funds", what="the 402 state")
        await steady(pilot, screen)

    assert snap_compare(snapshot_app(home, client, node), terminal_size=SIZES[size], run_before=run_before)
