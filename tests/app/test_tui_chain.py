"""The network screens driven with Pilot against an in-process fake node: balances (online, loading,
offline with one modal and retry), Send (live validation, look-alike guard, picker, Max, fee always
shown, confirmation, unlock, progress, result, retry that never sends twice), History (rows,
pages, detail), Address book (add, delete, send to), navigation. The devnet tests do it for real."""

from __future__ import annotations

import httpx
import pytest
from textual.widgets import DataTable, Input, Select, Static

from gonka_tui.core.address_book import AddressBook
from gonka_tui.core.keys import parse_private_key_hex
from gonka_tui.tui.screens.contacts import AddContactModal, AddressBookScreen
from gonka_tui.tui.screens.dialogs import ConfirmModal, ErrorModal
from gonka_tui.tui.screens.history import HistoryScreen, TxDetailModal
from gonka_tui.tui.screens.passphrase import UnlockModal
from gonka_tui.tui.screens.picker import RecipientPicker
from gonka_tui.tui.screens.send import SendScreen
from gonka_tui.tui.screens.send_dialogs import SendResultModal
from gonka_tui.tui.screens.wallet import WalletScreen
from tests.conftest import ABANDON, ABANDON_1200, HEX_KEY, LEGAL, PASSPHRASE
from tests.fake_node import FakeNode
from tests.tui_helpers import keystore, make_app, type_into, wait_for, wait_screen

SIZE = (80, 24)
COLD = "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak"
# Same first and last four characters as COLD, a valid checksum, a different address (found by search).
POISON = "gonka1gsvdqurnn0fe84ljjmk0jegflf7glej5n8jnak"
LEGAL_1200 = "gonka142x9m47j4z4wl83p5ec92tkx4acvxae4ytgngk"
GNK = 10**9


def accounts(home, *, hot=False, cold=True, savings=True):
    ks = keystore(home)
    ks.initialize(PASSPHRASE)
    ks.add_mnemonic("main", ABANDON)
    if savings:
        ks.add_mnemonic("savings", LEGAL)
    if hot:
        ks.add_private_key("hot", parse_private_key_hex(HEX_KEY))
    if cold:
        ks.add_watch("cold", COLD)
    return ks


def text(widget: Static) -> str:
    """What a Static shows, as plain text (markup, Rich Text and Rich tables alike)."""
    from rich.console import Console

    content = widget.content
    if isinstance(content, str):
        return str(widget.render())
    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    console.print(content)
    return console.export_text()


def cell(table: DataTable, row: str, column: str) -> str:
    return str(table.get_cell(row, column))


async def open_send(pilot) -> SendScreen:
    await pilot.press("f3")
    return await wait_screen(pilot, SendScreen)


async def fill(pilot, to: str | None = None, amount: str | None = None, memo: str | None = None) -> None:
    screen = pilot.app.screen
    for field, value in (("#to", to), ("#amount", amount), ("#memo", memo)):
        if value is not None:
            screen.query_one(field, Input).value = value
    await pilot.pause()


async def wait_plan(pilot, screen: SendScreen):
    await wait_for(pilot, lambda: screen.plan is not None or screen._plan_problem, what="the fee estimate")
    return screen.plan


# ----- Wallet -----

async def test_wallet_shows_balances_of_every_account_including_watch_only(home):
    accounts(home)
    node = FakeNode()
    node.fund(ABANDON_1200, 1_000_500_000_000, locked=1_500_000_000, reward_vesting=250_000_000)
    node.fund(COLD, 12_345 * GNK)
    app = make_app(home, node=node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await wait_screen(pilot, WalletScreen)
        table = screen.query_one("#accounts", DataTable)
        await wait_for(pilot, lambda: cell(table, "main", "total") != "…", what="balances")
        assert [cell(table, "main", c) for c in ("total", "spendable", "locked")] == ["1,000.5", "999", "1.5"]
        assert cell(table, "cold", "total") == "12,345"
        assert cell(table, "savings", "total") == "0"  # not on chain yet: zero, not an error
        assert "kind" not in [c.value for c in table.columns]  # narrow: the Kind column is dropped
        table.move_cursor(row=table.get_row_index("main"))
        await pilot.pause()
        details = text(screen.query_one("#details", Static))
        assert ABANDON_1200 in details and "spendable 999 GNK" in details and "vesting 1.5 GNK (locked)" in details
        assert "rewards vesting 0.25 GNK" in details
        assert app.sub_title.endswith("online · height 1,234")
        # a transfer elsewhere, then Ctrl+R shows it
        node.fund(LEGAL_1200, 7 * GNK)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: cell(table, "savings", "total") == "7", what="refreshed balance")


async def test_wallet_offline_one_modal_with_retry_then_recovers(home):
    accounts(home)
    node = FakeNode(online=False)
    node.fund(ABANDON_1200, 5 * GNK)
    app = make_app(home, node=node)
    async with app.run_test(size=SIZE) as pilot:
        modal = await wait_screen(pilot, ErrorModal)
        assert "no node answered" in text(modal.query_one(".dialog-body", Static))
        wallet = app.screen_stack[0]
        table = wallet.query_one("#accounts", DataTable)
        await wait_for(pilot, lambda: cell(table, "main", "total") == "offline", what="offline cells")
        assert app.connection == "offline" and app.sub_title.endswith("offline")
        # automatic refreshes while offline add no second modal
        worker = wallet.refresh_balances()
        await wait_for(pilot, lambda: worker.is_finished, what="the refresh to end")
        assert sum(isinstance(s, ErrorModal) for s in app.screen_stack) == 1
        node.online = True
        await pilot.click("#retry")
        await wait_for(pilot, lambda: cell(table, "main", "total") == "5", what="balances after retry")
        assert isinstance(app.screen, WalletScreen)
        app.poll_chain()
        await wait_for(pilot, lambda: app.connection == "online", what="online again")


async def test_offline_after_a_retry_that_fails_asks_again_only_when_asked(home):
    accounts(home, savings=False, cold=False)
    node = FakeNode(online=False)
    app = make_app(home, node=node)
    async with app.run_test(size=SIZE) as pilot:
        await wait_screen(pilot, ErrorModal)
        await pilot.click("#retry")  # still offline: the user asked, so the modal comes back
        await wait_screen(pilot, ErrorModal)
        await pilot.click("#close")
        await wait_screen(pilot, WalletScreen)
        await pilot.press("ctrl+r")
        await wait_screen(pilot, ErrorModal)


# ----- Send: validation -----

async def test_recipient_is_checked_as_you_type(home):
    accounts(home)
    AddressBook(resolve_book(home)).add("bob", LEGAL_1200, "friend")
    node = FakeNode()
    node.fund(ABANDON_1200, 10 * GNK)
    app = make_app(home, node=node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_send(pilot)
        note = screen.query_one("#to-note", Static)
        screen.query_one("#to", Input).value = COLD[:-3]
        await type_into(pilot, "#to", "naq")  # the last characters typed by hand
        assert "checksum is wrong" in text(note) and note.has_class("problem")
        await fill(pilot, to="cosmos1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak")
        assert "checksum" in text(note) or "prefix" in text(note)
        await fill(pilot, to="gonka1acd")
        assert "too short" in text(note)
        await fill(pilot, to="nobody")
        assert "no contact or account is named 'nobody'" in text(note)
        await fill(pilot, to="bob")
        assert "contact 'bob'" in text(note) and LEGAL_1200 in text(note) and not note.has_class("problem")
        await fill(pilot, to="cold")
        assert "your account 'cold'" in text(note)
        await fill(pilot, to="main")
        assert "the recipient is the sender itself" in text(note)
        assert "Fee — · gas —" in text(screen.query_one("#fee", Static))  # always shown


async def test_amount_memo_and_overspend_are_refused_before_signing(home):
    accounts(home)
    node = FakeNode()
    node.fund(ABANDON_1200, 2 * GNK)
    app = make_app(home, node=node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_send(pilot)
        await fill(pilot, to=COLD, amount="1.5")
        assert "has no denom" in text(screen.query_one("#amount-note", Static))
        await fill(pilot, amount="0gnk")
        assert "more than zero" in text(screen.query_one("#amount-note", Static))
        await fill(pilot, amount="1.0000000001gnk")
        assert "more than 9 decimals" in text(screen.query_one("#amount-note", Static))
        await fill(pilot, amount="1gnk", memo="é" * 129)
        assert text(screen.query_one("#memo-count", Static)) == "258/256"
        assert "258 bytes" in text(screen.query_one("#memo-note", Static))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SendScreen)  # no confirmation with a problem
        await fill(pilot, memo="rent", amount="3gnk")
        await wait_plan(pilot, screen)
        assert "not enough spendable funds: 2 GNK spendable" in screen._plan_problem
        assert text(screen.query_one("#plan-problem", Static)).startswith("not enough spendable")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: all(w.is_finished for w in app.workers if w.group == "send"),
                       what="review to end")
        assert isinstance(app.screen, SendScreen) and node.broadcasts == 0


async def test_fee_is_always_shown_even_zero_and_max_leaves_the_fee(home):
    accounts(home)
    node = FakeNode(min_gas_price="0.5")
    node.fund(ABANDON_1200, 10 * GNK)
    app = make_app(home, node=node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_send(pilot)
        await fill(pilot, to=COLD, amount="1gnk")
        plan = await wait_plan(pilot, screen)
        assert plan.gas == 93_450 and plan.fee == 46_725
        assert "Fee 0.000046725 GNK (46,725 ngonka) · gas 93,450 (estimated)" in text(screen.query_one("#fee"))
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: screen.query_one("#amount", Input).value == "9.999953275gnk", what="max")
        assert "spendable after 0 GNK" in text(screen.query_one("#fee"))
        node.min_gas_price = "0"
        await fill(pilot, amount="2gnk")
        await wait_for(pilot, lambda: screen.plan is not None and screen.plan.amount == 2 * GNK, what="new plan")
        assert "Fee 0 GNK (0 ngonka) · gas 93,450 (estimated)" in text(screen.query_one("#fee"))


async def test_lookalike_of_a_contact_is_flagged_prominently(home):
    accounts(home, cold=False)
    AddressBook(resolve_book(home)).add("bob", COLD)
    node = FakeNode()
    node.fund(ABANDON_1200, 10 * GNK)
    app = make_app(home, node=node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_send(pilot)
        box = screen.query_one("#lookalike", Static)
        assert not box.display
        await fill(pilot, to=POISON, amount="1gnk")
        assert box.display and "this is NOT contact 'bob'" in text(box) and COLD in text(box)
        await fill(pilot, to=COLD)
        assert not box.display  # the known address itself is fine
        await fill(pilot, to=POISON)
        await wait_plan(pilot, screen)
        await pilot.press("ctrl+s")
        confirm = await wait_screen(pilot, ConfirmModal)
        body = text(confirm.query_one(".dialog-body", Static))
        assert "resembles contact 'bob'" in body


async def test_pick_from_the_address_book(home):
    accounts(home)
    book = AddressBook(resolve_book(home))
    book.add("bob", LEGAL_1200, "friend")
    book.record_use(POISON, now=1_795_000_000)
    node = FakeNode()
    app = make_app(home, node=node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_send(pilot)
        await pilot.press("ctrl+b")
        picker = await wait_screen(pilot, RecipientPicker)
        sections = {c.section for c in picker.choices}
        assert sections == {"Contacts", "Your accounts", "Recent recipients"}
        assert "main" not in [c.name for c in picker.choices]  # not the sender itself
        await pilot.press(*"bob", "enter")
        await wait_screen(pilot, SendScreen)
        assert screen.query_one("#to", Input).value == "bob"
        assert "contact 'bob'" in text(screen.query_one("#to-note", Static))
        await pilot.press("ctrl+b")
        await wait_screen(pilot, RecipientPicker)
        await pilot.press(*"n8jnak", "enter")  # a recent recipient, found by its address
        await wait_screen(pilot, SendScreen)
        assert screen.query_one("#to", Input).value == POISON


async def test_watch_only_accounts_cannot_send(home):
    ks = keystore(home)
    ks.add_watch("cold", COLD)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_send(pilot)
        assert screen.query_one("#send-empty").display and not screen.query_one("#send-form").display
        assert "Watch-only accounts hold an address alone" in text(screen.query_one("#send-empty", Static))


async def test_send_from_the_wallet_selection_notes_a_watch_only_pick(home):
    accounts(home, hot=True)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        wallet = await wait_screen(pilot, WalletScreen)
        table = wallet.query_one("#accounts", DataTable)
        table.move_cursor(row=table.get_row_index("savings"))
        await pilot.press("s")
        screen = await wait_screen(pilot, SendScreen)
        assert screen.query_one("#from", Select).value == "savings"
        await pilot.press("f2")
        await wait_screen(pilot, WalletScreen)
        table.move_cursor(row=table.get_row_index("cold"))
        await pilot.press("f3")
        await wait_screen(pilot, SendScreen)
        assert screen.query_one("#from", Select).value == "savings"  # cold cannot send; keep the last
        assert "'cold' (selected on the Wallet) is watch-only" in text(screen.query_one("#from-note", Static))


# ----- Send: the whole way -----

async def send_it(pilot, screen: SendScreen) -> None:
    await wait_plan(pilot, screen)
    await pilot.press("ctrl+s")
    await wait_screen(pilot, ConfirmModal)
    await pilot.click("#confirm")
    await wait_screen(pilot, UnlockModal)
    await type_into(pilot, "#passphrase", PASSPHRASE)
    await pilot.press("enter")


async def test_send_confirm_unlock_progress_result(home):
    accounts(home)
    node = FakeNode(min_gas_price="0.01")
    node.fund(ABANDON_1200, 10 * GNK)
    app = make_app(home, node=node)
    copied = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_send(pilot)
        await fill(pilot, to="cold", amount="1.5gnk", memo="lunch [b]x[/b]")
        await wait_plan(pilot, screen)
        await pilot.press("ctrl+s")
        confirm = await wait_screen(pilot, ConfirmModal)
        body = text(confirm.query_one(".dialog-body", Static))
        for expected in (ABANDON_1200, "(main)", COLD, "(your account 'cold')", "1.5 GNK", "935 ngonka",
                         "93,450 (estimated)", "lunch [b]x[/b]", "gonka-devnet", "8.499999065 GNK"):
            assert expected in body, expected
        assert str(confirm.query_one("#cancel").label) == "Cancel" and app.focused.id == "cancel"
        await pilot.click("#confirm")
        await wait_screen(pilot, UnlockModal)
        await type_into(pilot, "#passphrase", PASSPHRASE)
        await pilot.press("enter")
        result = await wait_screen(pilot, SendResultModal)
        assert result.result.code == 0 and result.result.height == 1235
        assert node.broadcasts == 1 and node.accounts[COLD].balance == 1_500_000_000
        await pilot.press("c")
        assert copied == [result.result.txhash]
        await pilot.press("escape")
        await wait_screen(pilot, SendScreen)
        assert screen.query_one("#amount", Input).value == ""  # ready for the next one
        assert [r.address for r in AddressBook(resolve_book(home)).recent()] == [COLD]
        await pilot.press("f2")
        wallet = await wait_screen(pilot, WalletScreen)
        table = wallet.query_one("#accounts", DataTable)
        await wait_for(pilot, lambda: cell(table, "cold", "total") == "1.5", what="balances after the send")
        assert cell(table, "main", "total") == "8.499999065"


async def test_cancel_and_locked_keystore_send_nothing(home):
    accounts(home)
    node = FakeNode()
    node.fund(ABANDON_1200, 10 * GNK)
    app = make_app(home, node=node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_send(pilot)
        await fill(pilot, to=COLD, amount="1gnk")
        await wait_plan(pilot, screen)
        await pilot.press("ctrl+s")
        await wait_screen(pilot, ConfirmModal)
        await pilot.press("escape")
        await wait_screen(pilot, SendScreen)
        await pilot.press("ctrl+s")
        await wait_screen(pilot, ConfirmModal)
        await pilot.click("#confirm")
        await wait_screen(pilot, UnlockModal)
        await pilot.press("escape")
        await wait_screen(pilot, SendScreen)
        assert node.broadcasts == 0 and not app.keystore.unlocked


async def test_a_lost_confirmation_retries_without_sending_twice(home, monkeypatch):
    import gonka_tui.tui.screens.send as send_module

    monkeypatch.setattr(send_module, "SEND_WAIT_SECONDS", 0.5)
    accounts(home)
    node = FakeNode()
    node.fund(ABANDON_1200, 10 * GNK)
    original = node._broadcast

    def broadcast_then_vanish(tx_bytes):
        reply = original(tx_bytes)
        node.online = False  # the tx is in, but nothing more can be read
        return reply

    node._broadcast = broadcast_then_vanish
    app = make_app(home, node=node)
    async with app.run_test(size=SIZE) as pilot:
        # The Wallet's first balance read must be done before the node vanishes, or its own
        # "node unreachable" dialog (a different one) could come first.
        await wait_for(pilot, lambda: ABANDON_1200 in app.balances, what="the first balances")
        screen = await open_send(pilot)
        await fill(pilot, to=COLD, amount="1gnk")
        await send_it(pilot, screen)
        modal = await wait_screen(pilot, ErrorModal, timeout=15)
        assert "never sent twice" in text(modal.query_one(".dialog-body", Static))
        node.online = True
        node._broadcast = original
        await pilot.click("#retry")
        result = await wait_screen(pilot, SendResultModal)
        assert result.result.code == 0
        assert node.broadcasts == 1 and node.accounts[COLD].balance == GNK


async def test_a_rejected_transfer_says_why(home):
    accounts(home)
    node = FakeNode()
    node.fund(ABANDON_1200, 10 * GNK)
    app = make_app(home, node=node)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_send(pilot)
        await fill(pilot, to=COLD, amount="1gnk")
        await wait_plan(pilot, screen)
        await pilot.press("ctrl+s")
        await wait_screen(pilot, ConfirmModal)
        node.accounts[ABANDON_1200].locked = 10 * GNK  # spent elsewhere between review and broadcast
        await pilot.click("#confirm")
        await wait_screen(pilot, UnlockModal)
        await type_into(pilot, "#passphrase", PASSPHRASE)
        await pilot.press("enter")
        modal = await wait_screen(pilot, ErrorModal)
        assert "code 5" in text(modal.query_one(".dialog-body", Static))
        assert not modal.query("#retry")


# ----- History -----

def history_node() -> FakeNode:
    node = FakeNode()
    node.add_transfer(COLD, ABANDON_1200, 1_000 * GNK, height=1200)
    node.add_transfer(ABANDON_1200, COLD, 2_500_000_000, fee=935, memo="rent", height=1210)
    node.add_transfer(ABANDON_1200, LEGAL_1200, 5 * GNK, fee=935, code=5, raw_log="insufficient funds",
                      height=1220)
    return node


async def test_history_rows_newest_first_and_detail(home):
    accounts(home, savings=False)
    AddressBook(resolve_book(home)).add("bob", LEGAL_1200)
    app = make_app(home, node=history_node())
    async with app.run_test(size=SIZE) as pilot:
        await wait_screen(pilot, WalletScreen)
        await pilot.press("f4")
        screen = await wait_screen(pilot, HistoryScreen)
        screen.choose("main")
        table = screen.query_one("#txs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3, what="three rows")
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(3)]
        assert [r[0] for r in rows] == ["1,220", "1,210", "1,200"]
        assert rows[0][2:] == ["out", "-0.000000935", "bob", "failed"]
        assert rows[1][2:] == ["out", "-2.500000935", "cold", "ok"]
        assert rows[2][2:] == ["in", "+1,000", "cold", "ok"]
        assert rows[2][1] == "11-18 12:46"
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("enter")
        detail = await wait_screen(pilot, TxDetailModal)
        body = text(detail.query_one(".dialog-body", Static))
        assert "failed (code 5, sdk)" in body and "insufficient funds" in body and "41,000 used of 93,450" in body
        assert detail.record.hash in body and "(bob)" in body


async def test_history_pages_empty_and_offline(home):
    accounts(home)
    node = FakeNode()
    for i in range(25):
        node.add_transfer(COLD, ABANDON_1200, GNK, height=1000 + i)
    app = make_app(home, node=node)
    async with app.run_test(size=SIZE) as pilot:
        await wait_screen(pilot, WalletScreen)
        await app.open_history("main")
        screen = await wait_screen(pilot, HistoryScreen)
        table = screen.query_one("#txs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 20, what="first page")
        assert screen.more and "press m" in text(screen.query_one("#history-more", Static))
        await pilot.press("m")
        await wait_for(pilot, lambda: table.row_count == 25, what="second page")
        assert not screen.more and str(table.get_row_at(24)[0]) == "1,000"
        # a detail opened and closed, or a refresh, keeps both pages and the selected row
        table.move_cursor(row=22)
        await pilot.press("enter")
        await wait_screen(pilot, TxDetailModal)
        await pilot.press("escape")
        await wait_screen(pilot, HistoryScreen)
        node.add_transfer(COLD, ABANDON_1200, GNK, height=1100)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: table.row_count == 26, what="the new transaction on top")
        assert str(table.get_row_at(0)[0]) == "1,100" and table.cursor_row == 23
        screen.choose("savings")
        state = screen.query_one("#history-state", Static)
        await wait_for(pilot, lambda: "No transactions for 'savings' yet" in text(state), what="empty state")
        assert "F2" in text(state)
        node.online = False
        await pilot.press("ctrl+r")
        await wait_screen(pilot, ErrorModal)
        assert "Offline." in text(state)


# ----- Address book -----

async def test_address_book_add_delete_send_to(home):
    accounts(home, cold=False)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        screen = await wait_screen(pilot, AddressBookScreen)
        await pilot.press("a")
        modal = await wait_screen(pilot, AddContactModal)
        await type_into(pilot, "#name", "bob")
        modal.query_one("#address", Input).value = COLD[:-1]
        await type_into(pilot, "#address", "q")
        assert "checksum is wrong" in text(modal.query_one("#problem", Static))
        modal.query_one("#address", Input).value = COLD
        await pilot.pause()
        assert "resembles" not in text(modal.query_one("#problem", Static))
        await type_into(pilot, "#note", "cold storage")
        await pilot.press("enter")
        await wait_screen(pilot, AddressBookScreen)
        assert [(c.name, c.address, c.note) for c in app.address_book.contacts()] == [("bob", COLD, "cold storage")]
        await pilot.press("a")
        modal = await wait_screen(pilot, AddContactModal)
        modal.query_one("#name", Input).value = "eve"
        modal.query_one("#address", Input).value = POISON
        await pilot.pause()
        assert "⚠ resembles contact 'bob'" in text(modal.query_one("#problem", Static))
        modal.query_one("#name", Input).value = "bob"
        await pilot.pause()
        assert "already has 'bob'" in text(modal.query_one("#problem", Static))
        await pilot.press("escape")
        await wait_screen(pilot, AddressBookScreen)
        table = screen.query_one("#contacts", DataTable)
        table.focus()
        await pilot.press("s")
        send = await wait_screen(pilot, SendScreen)
        assert send.query_one("#to", Input).value == "bob"
        await pilot.press("f6")
        await wait_screen(pilot, AddressBookScreen)
        table.focus()
        await pilot.press("delete")
        await wait_screen(pilot, ConfirmModal)
        await pilot.click("#confirm")
        await wait_screen(pilot, AddressBookScreen)
        assert app.address_book.contacts() == []
        assert screen.query_one("#no-contacts").display


# ----- navigation -----

async def test_function_keys_switch_screens_and_wait_for_dialogs(home):
    accounts(home)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        for key, cls in (("f3", SendScreen), ("f4", HistoryScreen), ("f6", AddressBookScreen), ("f2", WalletScreen)):
            await pilot.press(key)
            await wait_screen(pilot, cls)
            assert app.screen.query_one("#nav").current == app.current_mode
        await pilot.press("f1")
        await pilot.press("f3")  # a dialog is open: it comes first
        await pilot.pause()
        assert app.current_mode == "wallet"
        await pilot.press("escape")
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Wallet", "Send", "History", "Contacts", "Refresh"} <= set(commands)


async def test_node_argument_and_env_choose_the_node(home, monkeypatch):
    from gonka_tui.config import load_config, resolve_home
    from gonka_tui.tui.app import GonkaApp

    h = resolve_home(home)
    app = GonkaApp(h, load_config(h), node="http://127.0.0.1:1234")
    assert app.network.nodes == ("http://127.0.0.1:1234",) and app.network.chain_id is None
    monkeypatch.setenv("GONKA_NODE", "http://127.0.0.1:5678")
    app = GonkaApp(h, load_config(h))
    assert app.network.nodes == ("http://127.0.0.1:5678",)
    assert app.client.nodes[0].url == "http://127.0.0.1:5678"
    await app.client.aclose()


async def test_the_client_is_closed_on_exit(home):
    accounts(home, savings=False, cold=False)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await wait_screen(pilot, WalletScreen)
        client = app.client
    assert client.pool._http.is_closed


def resolve_book(home):
    from gonka_tui.config import resolve_home

    return resolve_home(home).address_book_file


@pytest.fixture(autouse=True)
def _no_real_network(monkeypatch):
    """The fake node answers everything here; a real connection attempt is a bug in the test."""
    real = httpx.AsyncHTTPTransport.handle_async_request

    async def refuse(self, request):
        raise AssertionError(f"real network used: {request.url}")

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", refuse)
    yield
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", real)
