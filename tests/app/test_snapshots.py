"""SVG snapshots of the screens users see most, at 80×24 and a wide size, empty, filled, offline.

Every network screen talks to a FakeNode with fixed heights and times, so nothing moves.
Update after an intended change with: scripts/test tests/app/test_snapshots.py --snapshot-update
"""

import pytest
from textual.widgets import DataTable, Input

from gonka_tui.core.address_book import AddressBook
from gonka_tui.core.keys import parse_private_key_hex
from tests.conftest import ABANDON, ABANDON_1200, HEX_KEY, LEGAL, PASSPHRASE
from tests.fake_node import FakeNode
from tests.tui_helpers import keystore, make_app, wait_for

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
COLD = "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak"
POISON = "gonka1gsvdqurnn0fe84ljjmk0jegflf7glej5n8jnak"  # looks like COLD: same ends
BOB = "gonka1767l3dc579pfeegsy0mcgrjrpu5u8m4s9n9444"
GNK = 10**9


def fill(home):
    ks = keystore(home)
    ks.initialize(PASSPHRASE)
    ks.add_mnemonic("main", ABANDON)
    ks.add_mnemonic("savings", LEGAL)
    ks.add_private_key("hot", parse_private_key_hex(HEX_KEY))
    ks.add_watch("cold", COLD)


def funded_node(**kw) -> FakeNode:
    node = FakeNode(**kw)
    node.fund(ABANDON_1200, 1_000_500_000_000, locked=1_500_000_000, reward_vesting=250_000_000)
    node.fund(COLD, 12_345_678_900_000)
    node.add_transfer(COLD, ABANDON_1200, 1_000 * GNK, height=1200)
    node.add_transfer(ABANDON_1200, BOB, 2_500_000_000, fee=935, memo="rent for November", height=1210)
    node.add_transfer(ABANDON_1200, COLD, 5 * GNK, fee=935, code=5, raw_log="insufficient funds: 3 < 5",
                      height=1220)
    return node


def book(home):
    from gonka_tui.config import resolve_home

    b = AddressBook(resolve_home(home).address_book_file)
    b.add("bob", BOB, "flatmate")
    b.add("exchange", "gonka19rl4cm2hmr8afy4kldpxz3fka4jguq0av42rch", "deposit address")
    b.record_use(BOB, now=1_795_000_000)
    b.record_use(COLD, now=1_795_100_000)
    return b


def steady(app) -> None:
    """No blinking cursor in a snapshot."""
    for screen in app.screen_stack:
        for field in screen.query(Input):
            field.cursor_blink = False


async def wallet_loaded(pilot, offline=False):
    from gonka_tui.tui.screens.wallet import WalletScreen

    app = pilot.app
    wallet = next(s for s in app.screen_stack if isinstance(s, WalletScreen))
    table = wallet.query_one("#accounts", DataTable)
    await wait_for(pilot, lambda: str(table.get_cell("main", "total")) not in ("…",), what="balances")
    await wait_for(pilot, lambda: app.connection == ("offline" if offline else "online"), what="connection")


@pytest.mark.parametrize("size", SIZES)
def test_wallet_empty(snap_compare, home, size):
    async def run_before(pilot):
        await wait_for(pilot, lambda: pilot.app.connection == "online", what="connection")

    assert snap_compare(make_app(home), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_wallet_filled(snap_compare, home, size):
    fill(home)

    async def run_before(pilot):
        await wallet_loaded(pilot)
        table = pilot.app.screen.query_one("#accounts", DataTable)
        table.move_cursor(row=table.get_row_index("main"))

    assert snap_compare(make_app(home, node=funded_node()), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_wallet_offline(snap_compare, home, size):
    fill(home)

    async def run_before(pilot):
        from gonka_tui.tui.screens.dialogs import ErrorModal

        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ErrorModal), what="the offline modal")
        if size == "160x48":
            await pilot.press("escape")
        await wallet_loaded(pilot, offline=True)

    assert snap_compare(make_app(home, node=FakeNode(online=False)), terminal_size=SIZES[size], run_before=run_before)


async def open_send(pilot, to: str, amount: str, memo: str = ""):
    from gonka_tui.tui.screens.send import SendScreen

    await wallet_loaded(pilot)
    table = pilot.app.screen.query_one("#accounts", DataTable)
    table.move_cursor(row=table.get_row_index("main"))
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SendScreen), what="send")
    screen = pilot.app.screen
    screen.query_one("#to", Input).value = to
    screen.query_one("#amount", Input).value = amount
    screen.query_one("#memo", Input).value = memo
    screen.query_one("#amount", Input).focus()
    await wait_for(pilot, lambda: screen.plan is not None, what="the fee estimate")
    steady(pilot.app)
    return screen


@pytest.mark.parametrize("size", SIZES)
def test_send_filled(snap_compare, home, size):
    fill(home)
    book(home)

    async def run_before(pilot):
        await open_send(pilot, "bob", "1.5gnk", "rent for December")

    app = make_app(home, node=funded_node(min_gas_price="0.01"))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_send_lookalike(snap_compare, home, size):
    fill(home)
    book(home)

    async def run_before(pilot):
        await open_send(pilot, POISON, "250gnk")

    assert snap_compare(make_app(home, node=funded_node()), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_send_confirm(snap_compare, home, size):
    fill(home)
    book(home)

    async def run_before(pilot):
        from gonka_tui.tui.screens.dialogs import ConfirmModal

        await open_send(pilot, "bob", "1.5gnk", "rent for December")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmModal), what="confirmation")

    app = make_app(home, node=funded_node(min_gas_price="0.01"))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


async def open_history(pilot):
    from gonka_tui.tui.screens.history import HistoryScreen

    await wallet_loaded(pilot)
    await pilot.app.open_history("main")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen), what="history")
    table = pilot.app.screen.query_one("#txs", DataTable)
    await wait_for(pilot, lambda: table.row_count == 3, what="rows")
    return table


@pytest.mark.parametrize("size", SIZES)
def test_history(snap_compare, home, size):
    fill(home)
    book(home)

    async def run_before(pilot):
        await open_history(pilot)

    assert snap_compare(make_app(home, node=funded_node()), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_history_detail(snap_compare, home, size):
    fill(home)
    book(home)

    async def run_before(pilot):
        from gonka_tui.tui.screens.history import TxDetailModal

        table = await open_history(pilot)
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TxDetailModal), what="detail")

    assert snap_compare(make_app(home, node=funded_node()), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_address_book(snap_compare, home, size):
    fill(home)
    book(home)

    async def run_before(pilot):
        from gonka_tui.tui.screens.contacts import AddressBookScreen

        await wallet_loaded(pilot)
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, AddressBookScreen), what="address book")
        table = pilot.app.screen.query_one("#contacts", DataTable)
        await wait_for(pilot, lambda: "exchange" in table.render_line(2).text, what="column widths")

    assert snap_compare(make_app(home, node=funded_node()), terminal_size=SIZES[size], run_before=run_before)


def test_receive_80x24(snap_compare, home):
    fill(home)
    assert snap_compare(make_app(home), terminal_size=(80, 24), press=["v"])


def test_help_80x24(snap_compare, home):
    assert snap_compare(make_app(home), terminal_size=(80, 24), press=["f1"])


def test_lock_screen_80x24(snap_compare, home, monkeypatch):
    from gonka_tui.core import unlock_cache

    # Whether the "remember" box shows depends on the OS keyring, which other tests may swap.
    monkeypatch.setattr(unlock_cache, "available", lambda: False)
    fill(home)

    async def run_before(pilot):
        from gonka_tui.tui.screens.passphrase import LockScreen

        await wallet_loaded(pilot)
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, LockScreen), what="lock screen")
        steady(pilot.app)

    assert snap_compare(make_app(home), terminal_size=(80, 24), run_before=run_before)


def test_recover_pick_80x24(snap_compare, home):
    async def run_before(pilot):
        await pilot.press("r")
        await pilot.pause()
        pilot.app.screen.query_one("#name").value = "old"
        pilot.app.screen.query_one("#phrase").value = ABANDON
        await pilot.press("tab", "enter")  # to the phrase field, then submit it
        await pilot.pause()
        assert pilot.app.screen.query_one("#steps").current == "step-pick"
        steady(pilot.app)

    assert snap_compare(make_app(home), terminal_size=(80, 24), run_before=run_before)
