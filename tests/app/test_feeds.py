"""The app's live data: a feed posts typed, immutable snapshots (or that its source is lost) and the
screens only show what the app keeps. The app tests inject the feed's messages instead of running it."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace

import pytest
from textual.app import App
from textual.widgets import DataTable

from gonka_tui.core.accounts import Balances
from gonka_tui.core.chain_snapshot import ChainSnapshot
from gonka_tui.core.errors import NodeUnreachable
from gonka_tui.core.transfer import SendPlan, SendResult, SentTransfer
from gonka_tui.tui.messages import TransferSent
from gonka_tui.tui.screens.contacts import AddressBookScreen
from gonka_tui.tui.screens.history import HistoryScreen
from gonka_tui.tui.feeds import ChainFeed, Feed
from gonka_tui.tui.screens.dialogs import ErrorModal
from gonka_tui.tui.screens.wallet import WalletScreen
from tests.conftest import ABANDON_1200
from tests.fake_node import FakeNode
from tests.app.test_tui_chain import COLD, GNK, LEGAL_1200, SIZE, accounts, cell
from tests.tui_helpers import make_app, wait_for, wait_screen



def sent(from_address: str, to_address: str, txhash: str = "AB" * 32) -> SentTransfer:
    plan = SendPlan(from_address, to_address, GNK, "", 100_000, 100, True, Decimal("0.001"), "gonka-devnet",
                    0, 0, 5 * GNK)
    return SentTransfer(plan, SendResult(txhash, b"", 0, 77, "", None))


SENT = sent(ABANDON_1200, COLD)
PROFILE = SimpleNamespace(nodes=["http://127.0.0.1:1"], chain_id="gonka-devnet")


class Host(App):
    """A bare app that runs one feed and keeps what it posts."""

    def __init__(self, feed: Feed) -> None:
        super().__init__()
        self.feed, self.got = feed, []

    def on_mount(self) -> None:
        self.feed.start(self)

    def on_unmount(self) -> None:
        self.feed.stop()

    def on_feed_updated(self, message: Feed.Updated) -> None:
        self.got.append(message)

    def on_feed_disconnected(self, message: Feed.Disconnected) -> None:
        self.got.append(message)

    on_chain_feed_updated, on_chain_feed_disconnected = on_feed_updated, on_feed_disconnected


async def test_the_chain_feed_posts_typed_snapshots_and_a_lost_node():
    node = FakeNode()
    node.fund(ABANDON_1200, 5 * GNK, locked=GNK)
    client = node.client(PROFILE)
    asked: list[bool] = []

    def client_for(user_initiated: bool):
        asked.append(user_initiated)
        return client

    app = Host(ChainFeed(3600, client_for, lambda: [ABANDON_1200, COLD]))
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.got, what="the first snapshot")
        message = app.got[0]
        assert isinstance(message, ChainFeed.Updated) and isinstance(message.snapshot, ChainSnapshot)
        snapshot = message.snapshot
        assert snapshot.height == 1234 and dict(snapshot.errors) == {}
        assert (snapshot.balances[ABANDON_1200].total, snapshot.balances[ABANDON_1200].spendable) == (5 * GNK, 4 * GNK)
        assert snapshot.balances[COLD].total == 0
        with pytest.raises(TypeError):
            snapshot.balances[COLD] = snapshot.balances[ABANDON_1200]  # shared by every screen: read-only
        node.online = False
        app.feed.refresh(user_initiated=True)
        await wait_for(pilot, lambda: len(app.got) == 2, what="the lost node")
        lost = app.got[1]
        assert isinstance(lost, ChainFeed.Disconnected) and isinstance(lost.error, NodeUnreachable)
        assert lost.user_initiated and app.feed.failures == 1 and asked == [False, True]
    await client.aclose()


class Stream(Feed[int]):
    """A source that sends several updates, then drops (as the miner agent's status stream can)."""

    NAME = GROUP = "stream"

    def __init__(self) -> None:
        super().__init__(interval=1.0, max_backoff=8.0)

    async def read(self, user_initiated: bool):
        for n in range(3):
            yield n
            await asyncio.sleep(0)
        raise ConnectionError("the agent went away")


async def test_a_stream_posts_each_update_then_backs_off_when_it_drops():
    app = Host(Stream())
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: len(app.got) == 4, what="three updates and the drop")
        assert [m.snapshot for m in app.got[:3]] == [0, 1, 2] and isinstance(app.got[3].error, ConnectionError)
        assert app.feed.failures == 1 and app.feed.next_delay() == 1.0
        app.feed.failures = 3
        assert app.feed.next_delay() == 4.0
        app.feed.failures = 10
        assert app.feed.next_delay() == 8.0  # at most max_backoff
        app.feed.stop()


class Slow(Feed[int]):
    """Each read waits for the test to let it answer."""

    NAME = GROUP = "slow"

    def __init__(self) -> None:
        super().__init__(interval=3600.0)
        self.gate, self.reads = asyncio.Event(), []

    async def read(self, user_initiated: bool):
        self.reads.append(user_initiated)
        await self.gate.wait()
        yield len(self.reads)


async def test_the_user_replaces_a_read_and_a_change_meanwhile_reads_again_after_it():
    app = Host(Slow())
    async with app.run_test() as pilot:
        feed = app.feed
        await wait_for(pilot, lambda: feed.reads == [False], what="the first read")
        asked = feed.refresh(user_initiated=True)  # the user's read replaces the automatic one
        await wait_for(pilot, lambda: feed.reads == [False, True], what="the user's read")
        assert feed.refresh() is asked  # something changed: not cut short, but followed by another read
        feed.gate.set()
        await wait_for(pilot, lambda: feed.reads == [False, True, False], what="the read after it")
        await wait_for(pilot, lambda: len(app.got) == 2, what="both answers")
        feed.stop()


@pytest.fixture
def no_reader(monkeypatch):
    """The app without its chain reader: the tests post the feed's messages themselves."""
    monkeypatch.setattr(ChainFeed, "start", lambda self, app: None)


async def accounts_table(pilot) -> DataTable:
    screen = await wait_screen(pilot, WalletScreen)
    return screen.query_one("#accounts", DataTable)


async def test_an_injected_snapshot_fills_the_wallet_and_the_header(home, no_reader):
    accounts(home)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        table = await accounts_table(pilot)
        assert cell(table, "main", "total") == "…" and app.sub_title.endswith("connecting")
        balances = {ABANDON_1200: Balances(ABANDON_1200, 3 * GNK, 2 * GNK)}
        app.post_message(ChainFeed.Updated(ChainSnapshot(4321, balances, {COLD: "a malformed reply"})))
        await wait_for(pilot, lambda: cell(table, "main", "total") == "3", what="the injected balances")
        assert [cell(table, "main", c) for c in ("spendable", "locked")] == ["2", "1"]
        assert cell(table, "cold", "total") == "error" and cell(table, "savings", "total") == "…"
        assert app.sub_title.endswith("online · height 4,321")


async def test_an_injected_disconnect_shows_the_offline_state_once(home, no_reader):
    accounts(home)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        table = await accounts_table(pilot)
        app.post_message(ChainFeed.Disconnected(NodeUnreachable("no node answered")))
        modal = await wait_screen(pilot, ErrorModal)
        assert modal.query("#retry")  # Retry asks the feed again
        assert cell(table, "main", "total") == "offline" and app.sub_title.endswith("offline")
        app.post_message(ChainFeed.Disconnected(NodeUnreachable("no node answered")))
        await pilot.pause()
        assert sum(isinstance(s, ErrorModal) for s in app.screen_stack) == 1


async def test_ctrl_r_and_a_send_ask_the_feed(home, no_reader, monkeypatch):
    accounts(home)
    asked: list[bool] = []
    monkeypatch.setattr(ChainFeed, "refresh", lambda self, user_initiated=False: asked.append(user_initiated))
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await wait_screen(pilot, WalletScreen)
        await pilot.pause()
        asked.clear()
        await pilot.press("ctrl+r")
        assert asked == [True]
        app.post_message(TransferSent(SENT))  # what Send does once a transfer is in a block
        await wait_for(pilot, lambda: asked == [True, False], what="the feed asked after the send")


async def test_a_sent_transfer_reloads_the_history_it_touches_and_adds_a_recent_recipient(home, no_reader, monkeypatch):
    accounts(home)
    loads: list[str | None] = []
    original = HistoryScreen.load
    monkeypatch.setattr(HistoryScreen, "load", lambda self, *a, **k: (loads.append(self.account() and self.account().name),
                                                                     original(self, *a, **k))[1])
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await app.open_history("main")
        screen = await wait_screen(pilot, HistoryScreen)
        await wait_for(pilot, lambda: screen.state == "loaded", what="the first page")
        loads.clear()
        app.post_message(TransferSent(sent(LEGAL_1200, COLD, "CD" * 32)))  # not main's: nothing to reload
        await wait_for(pilot, lambda: app.sent is not None and app.sent.result.txhash == "CD" * 32,
                       what="the app keeps the send")
        await pilot.pause()
        assert loads == []
        app.post_message(TransferSent(SENT))  # main sent it: its history grew
        await wait_for(pilot, lambda: loads == ["main"], what="main's history loaded again")
        assert app.height == 77 and app.connection == "online"
        assert [r.address for r in app.address_book.recent()][:1] == [COLD]
        app.switch_mode("contacts")
        book = await wait_screen(pilot, AddressBookScreen)
        recent = book.query_one("#recent", DataTable)
        await wait_for(pilot, lambda: recent.row_count == 1, what="the recent recipient listed")


async def test_a_key_added_elsewhere_reaches_every_screen_as_one_accounts_snapshot(home, no_reader):
    ks = accounts(home, savings=False, cold=False)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        table = await accounts_table(pilot)
        assert [r.name for r in app.accounts.records] == ["main"] and table.row_count == 1
        before = app.accounts
        app.keys_changed()  # nothing changed: the same snapshot, no watcher runs
        assert app.accounts is before
        ks.add_watch("cold", COLD)  # another process (here: the test) adds a key
        app.keys_changed("Added 'cold'")
        assert sorted(r.name for r in app.accounts.records) == ["cold", "main"]
        await wait_for(pilot, lambda: table.row_count == 2, what="the Wallet row of the new key")
        with pytest.raises(AttributeError):
            app.accounts.records = ()  # frozen: shared by every screen
