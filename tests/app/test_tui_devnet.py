"""End to end: the app against a real `gonka devnet` subprocess on a free port. Send 1.5 GNK to a
new account and see it confirmed, both balances and both histories right; validation (checksum,
over-spend refused before signing, memo length); look-alike warning; address-book pick; the node
going away (one modal with Retry) and coming back."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from textual.widgets import DataTable, Input, Static

from gonka_tui.config import load_config, resolve_home
from gonka_tui.core.address_book import AddressBook
from gonka_tui.tui.app import GonkaApp
from gonka_tui.tui.screens.dialogs import ConfirmModal, ErrorModal
from gonka_tui.tui.screens.history import HistoryScreen
from gonka_tui.tui.screens.passphrase import UnlockModal
from gonka_tui.tui.screens.picker import RecipientPicker
from gonka_tui.tui.screens.send import SendScreen
from gonka_tui.tui.screens.send_dialogs import SendResultModal
from gonka_tui.tui.screens.wallet import WalletScreen
from tests.conftest import ABANDON, ABANDON_1200, LEGAL, PASSPHRASE, REPO
from tests.tui_helpers import FakeClock, keystore, type_into, wait_for, wait_screen

SIZE = (80, 24)
GNK = 10**9
LEGAL_1200 = "gonka142x9m47j4z4wl83p5ec92tkx4acvxae4ytgngk"
COLD = "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak"
POISON = "gonka1gsvdqurnn0fe84ljjmk0jegflf7glej5n8jnak"  # same ends as COLD
MIN_GAS_PRICE = "0.01"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Devnet:
    """`python -m gonka_tui devnet` as a subprocess; stop() and start() again keep its state."""

    def __init__(self, home: Path, *args: str, port: int = 0) -> None:
        self.home, self.args, self.port = home, args, port
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> "Devnet":
        env = {k: v for k, v in os.environ.items() if not k.startswith("GONKA_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gonka_tui", "devnet", "--home", str(self.home), "--port", str(self.port),
             "--block-time", "0.2", "--min-gas-price", MIN_GAS_PRICE, *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, env=env)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.proc.stdout], daemon=True).start()
        deadline = time.monotonic() + 30
        seen = []
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise TimeoutError(f"the devnet did not start: {''.join(seen)}") from None
            seen.append(line)
            if line.startswith("url:"):
                self.url = line.split()[-1]
                self.port = int(self.url.rsplit(":", 1)[1])
            if line.startswith("Ctrl-C stops it"):
                return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def get(self, path: str):
        return httpx.get(self.url + path, timeout=10).json()

    def balance(self, address: str) -> int:
        coins = self.get(f"/chain-api/cosmos/bank/v1beta1/balances/{address}")["balances"]
        return sum(int(c["amount"]) for c in coins if c["denom"] == "ngonka")

    def sequence(self, address: str) -> int:
        data = self.get(f"/chain-api/cosmos/auth/v1beta1/accounts/{address}")
        return int(data["account"]["sequence"]) if "account" in data else 0


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    net = Devnet(tmp_path_factory.mktemp("devnet"), "--fund", f"{ABANDON_1200}=1000gnk").start()
    yield net
    net.stop()


def app_on(home: Path, url: str) -> GonkaApp:
    h = resolve_home(home)
    return GonkaApp(h, load_config(h), node=url, clock=FakeClock())


def wallet_keys(home: Path) -> None:
    ks = keystore(home)
    ks.initialize(PASSPHRASE)
    ks.add_mnemonic("main", ABANDON)
    ks.add_mnemonic("bob", LEGAL)


def cell(table: DataTable, row: str, column: str) -> str:
    return str(table.get_cell(row, column))


async def wallet_balance(pilot, name: str, expected: str) -> None:
    wallet = next(s for s in pilot.app.screen_stack if isinstance(s, WalletScreen))
    table = wallet.query_one("#accounts", DataTable)
    await wait_for(pilot, lambda: cell(table, name, "total") == expected,
                   what=f"{name}'s balance {expected} (now {cell(table, name, 'total')})")


async def start_send(pilot, to: str, amount: str, memo: str = "") -> SendScreen:
    if not isinstance(pilot.app.screen, SendScreen):
        await pilot.press("f3")
    screen = await wait_screen(pilot, SendScreen)
    screen.query_one("#from").value = "main"
    for field, value in (("#to", to), ("#amount", amount), ("#memo", memo)):
        screen.query_one(field, Input).value = value
    await pilot.pause()
    return screen


async def test_send_to_a_new_account_both_balances_and_histories(home, devnet):
    wallet_keys(home)
    app = app_on(home, devnet.url)
    async with app.run_test(size=SIZE) as pilot:
        await wallet_balance(pilot, "main", "1,000")
        await wallet_balance(pilot, "bob", "0")
        await wait_for(pilot, lambda: app.connection == "online" and "height" in app.sub_title, what="online")
        screen = await start_send(pilot, LEGAL_1200, "1.5gnk", "first transfer")
        await wait_for(pilot, lambda: screen.plan is not None, what="the fee estimate", timeout=20)
        plan = screen.plan
        assert plan.fee > 0 and plan.fee == -(-plan.gas // 100)  # 0.01 ngonka per gas, rounded up
        fee_line = str(screen.query_one("#fee", Static).render())
        assert f"({plan.fee:,} ngonka) · gas {plan.gas:,} (estimated)" in fee_line
        await pilot.press("ctrl+s")
        await wait_screen(pilot, ConfirmModal)
        await pilot.click("#confirm")
        await wait_screen(pilot, UnlockModal)
        await type_into(pilot, "#passphrase", PASSPHRASE)
        await pilot.press("enter")
        result = await wait_screen(pilot, SendResultModal, timeout=30)
        assert result.result.code == 0 and result.result.height > 1
        txhash = result.result.txhash
        fee = plan.fee
        assert devnet.balance(LEGAL_1200) == 1_500_000_000
        assert devnet.balance(ABANDON_1200) == 1000 * GNK - 1_500_000_000 - fee
        assert devnet.get(f"/chain-api/cosmos/tx/v1beta1/txs/{txhash}")["tx_response"]["code"] == 0
        await pilot.press("escape")
        await pilot.press("f2")
        await wait_screen(pilot, WalletScreen)
        main_after = 1000 * GNK - 1_500_000_000 - fee
        from gonka_tui.core.units import format_gnk

        await wallet_balance(pilot, "bob", "1.5")
        await wallet_balance(pilot, "main", format_gnk(main_after, denom=False))
        # both histories
        for name, direction, amount, other in (("main", "out", f"-{format_gnk(1_500_000_000 + fee, denom=False)}",
                                                "bob"), ("bob", "in", "+1.5", "main")):
            await app.open_history(name)
            history = await wait_screen(pilot, HistoryScreen)
            table = history.query_one("#txs", DataTable)
            await wait_for(pilot, lambda: history.address == app.keystore.get(name).address and table.row_count,
                           what=f"{name}'s history", timeout=15)
            row = [str(c) for c in table.get_row_at(0)]
            assert row[2:] == [direction, amount, other, "ok"], row
            assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == txhash
        assert AddressBook(resolve_home(home).address_book_file).recent()[0].address == LEGAL_1200


async def test_validation_refuses_before_signing(home, devnet):
    wallet_keys(home)
    app = app_on(home, devnet.url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.connection == "online", what="online")
        sequence = devnet.sequence(ABANDON_1200)
        screen = await start_send(pilot, LEGAL_1200[:-1] + "q", "1gnk")
        assert "checksum is wrong" in str(screen.query_one("#to-note", Static).render())
        screen.query_one("#to", Input).value = LEGAL_1200
        screen.query_one("#memo", Input).value = "x" * 257
        await pilot.pause()
        assert "257 bytes; at most 256" in str(screen.query_one("#memo-note", Static).render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SendScreen)
        screen.query_one("#memo", Input).value = ""
        screen.query_one("#amount", Input).value = "5000gnk"
        await wait_for(pilot, lambda: screen._plan_problem, what="the over-spend", timeout=20)
        assert screen._plan_problem.startswith("not enough spendable funds")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: all(w.is_finished for w in app.workers if w.group == "send"), what="review")
        assert isinstance(app.screen, SendScreen)
        assert devnet.sequence(ABANDON_1200) == sequence and not app.keystore.unlocked


async def test_lookalike_warning_and_address_book_pick(home, devnet):
    wallet_keys(home)
    AddressBook(resolve_home(home).address_book_file).add("carol", COLD, "cold wallet")
    app = app_on(home, devnet.url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_screen(pilot, WalletScreen)
        screen = await start_send(pilot, POISON, "1gnk")
        box = screen.query_one("#lookalike", Static)
        assert box.display and "this is NOT contact 'carol'" in str(box.render())
        screen.query_one("#to", Input).value = ""
        await pilot.press("ctrl+b")
        await wait_screen(pilot, RecipientPicker)
        await pilot.press(*"carol", "enter")
        await wait_screen(pilot, SendScreen)
        assert screen.query_one("#to", Input).value == "carol" and not box.display
        await wait_for(pilot, lambda: screen.plan is not None, what="the estimate", timeout=20)
        assert screen.plan.to_address == COLD and screen.plan.chain_id == "gonka-devnet"


async def test_node_away_one_modal_retry_recovers(home, tmp_path):
    wallet_keys(home)
    net = Devnet(tmp_path / "devnet", "--fund", f"{ABANDON_1200}=7gnk", port=free_port()).start()
    try:
        app = app_on(home, net.url)
        async with app.run_test(size=SIZE) as pilot:
            await wallet_balance(pilot, "main", "7")
            net.stop()
            await pilot.press("ctrl+r")
            modal = await wait_screen(pilot, ErrorModal, timeout=30)
            assert "no node answered" in str(modal.query_one(".dialog-body", Static).render())
            await wait_for(pilot, lambda: app.connection == "offline", what="offline")
            wallet = app.screen_stack[0]
            wallet.refresh_balances()  # an automatic refresh while offline: no second modal
            await wait_for(pilot, lambda: all(w.is_finished for w in app.workers if w.group == "balances"),
                           what="the refresh", timeout=30)
            assert sum(isinstance(s, ErrorModal) for s in app.screen_stack) == 1
            net.start()
            await pilot.click("#retry")
            await wait_screen(pilot, WalletScreen)
            await wallet_balance(pilot, "main", "7")
            await wait_for(pilot, lambda: app.connection == "online", what="online again")
    finally:
        net.stop()
