"""Wallet: the accounts on this machine, and the ways to add, receive, rename and delete them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from gonka_tui.core.accounts import Balances
from gonka_tui.core.address import short_address
from gonka_tui.core.errors import GonkaError
from gonka_tui.core.keystore import KeyRecord, validate_name
from gonka_tui.core.units import format_gnk
from gonka_tui.tui.actions import WALLET_ACTIONS
from gonka_tui.tui.screens.add_key import IMPORT_HEX, WATCH, AddKeyModal
from gonka_tui.tui.screens.base import GonkaScreen
from gonka_tui.tui.screens.create import CreateWizard
from gonka_tui.tui.screens.dialogs import ConfirmModal, PromptModal
from gonka_tui.tui.screens.receive import ReceiveModal
from gonka_tui.tui.screens.recover import RecoverWizard

if TYPE_CHECKING:
    from textual.worker import Worker

EMPTY_TEXT = """[b]No accounts yet.[/b]

  [b]c[/b]  create a new wallet (a new recovery phrase)
  [b]r[/b]  recover a wallet from its recovery phrase
  [b]i[/b]  import a raw private key (hex)
  [b]w[/b]  watch an address without its key

Keys are encrypted with one passphrase; [b]F1[/b] shows every key of this screen."""

BALANCE_COLUMNS = (("total", "Total GNK"), ("spendable", "Spendable"), ("locked", "Vesting"))


class WalletScreen(GonkaScreen):
    MODE = "wallet"
    ACTIONS = WALLET_ACTIONS
    FEEDS = frozenset({"chain"})  # its offline modal, with Retry
    HELP = ("Your accounts on this machine and their balances on the network: Total is what the bank "
            "holds, Spendable what can be sent now, Vesting what is still locked. Balances refresh every "
            "15 s on a local node, every minute on public ones (Ctrl+R now). Mnemonic and hex keys are "
            "encrypted with the keystore passphrase; watch-only accounts hold an address alone. Select an "
            "account and press v or Enter to receive, s to send, h for its history.")

    def compose_body(self) -> ComposeResult:
        with Vertical(id="wallet-body"):
            yield Static(EMPTY_TEXT, id="empty")
            yield DataTable(cursor_type="row", zebra_stripes=True, id="accounts")
            yield Static("", id="details")
            yield Static("", id="problems", classes="problem", markup=False)

    def on_mount(self) -> None:
        self.watch(self.app, "accounts", self.refresh_accounts, init=False)
        self.watch(self.app, "chain", self._show_all_balances, init=False)
        self.watch(self.app, "connection", self._show_all_balances, init=False)
        self.refresh_accounts()

    def on_screen_resume(self) -> None:
        if self.laid_out:  # not the first show: the accounts and balances as they are now
            self.app.reload_accounts()
            self.refresh_balances()

    def on_width_class_changed(self, wide: bool) -> None:
        self.refresh_accounts()

    # ----- balances: the app's chain feed reads them, this screen shows them -----

    @property
    def balances(self) -> dict[str, Balances]:
        return self.app.balances

    @property
    def _offline(self) -> bool:
        return self.app.connection == "offline"

    def _cells(self, address: str) -> list[Text]:
        bal = self.balances.get(address)
        if bal is not None:
            values = [format_gnk(bal.total, denom=False), format_gnk(bal.spendable, denom=False),
                      format_gnk(bal.locked, denom=False)]
            return [Text(v, justify="right") for v in values]
        if address in self.app.balance_errors:
            return [Text("error", style="red", justify="right")] * 3
        if self._offline:
            return [Text("offline", style="dim", justify="right")] * 3
        return [Text("…", style="dim", justify="right")] * 3

    def _show_balances(self, rec: KeyRecord) -> None:
        table = self.query_one("#accounts", DataTable)
        try:
            for (key, _), cell in zip(BALANCE_COLUMNS, self._cells(rec.address)):
                table.update_cell(rec.name, key, cell, update_width=True)
        except LookupError:  # the row went away meanwhile
            pass

    def _show_all_balances(self) -> None:
        for rec in self.app.accounts.records:
            self._show_balances(rec)
        self._show_details()

    def action_refresh(self) -> None:
        self.refresh_balances(user_initiated=True)

    def refresh_balances(self, user_initiated: bool = False) -> "Worker | None":
        """Ask the chain feed to read now."""
        return self.app.chain_feed.refresh(user_initiated=user_initiated)

    # ----- accounts -----

    def refresh_accounts(self) -> None:
        records = self.app.accounts.records
        wide = self.wide_layout()
        table = self.query_one("#accounts", DataTable)
        selected = self.selected()
        table.clear(columns=True)
        table.add_column("Name", key="name")
        if wide:
            table.add_column("Kind", key="kind")
        table.add_column("Address", key="address")
        if wide:
            table.add_column("Path", key="path")
        for key, label in BALANCE_COLUMNS:
            table.add_column(Text(label, justify="right"), key=key)
        for rec in records:
            if wide:
                row = [rec.name, rec.kind, rec.address, rec.path or "—"]
            else:
                row = [rec.name, short_address(rec.address, 6)]
            table.add_row(*row, *self._cells(rec.address), key=rec.name)
        if selected and selected.name in {r.name for r in records}:
            table.move_cursor(row=table.get_row_index(selected.name))
        self.query_one("#empty").display = not records
        table.display = bool(records)
        self.query_one("#details").display = bool(records)
        problems = "\n".join(f"⚠ {p.message}" for p in self.app.keystore.problems)
        self.query_one("#problems", Static).update(problems)
        self.query_one("#problems").display = bool(problems)
        self._show_details()
        if records:
            table.focus()

    def selected(self) -> KeyRecord | None:
        table = self.query_one("#accounts", DataTable)
        if not table.row_count:
            return None
        try:
            name = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            return self.app.keystore.get(str(name))
        except (GonkaError, LookupError):
            return None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        rec = self.selected()
        if rec is not None:
            self.app.current_account = rec.name
        self._show_details()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_receive()

    def _show_details(self) -> None:
        rec = self.selected()
        details = self.query_one("#details", Static)
        if rec is None:
            details.update("")
            return
        kind = {"mnemonic": "recovery phrase", "hex": "imported private key", "watch": "watch-only"}[rec.kind]
        pubkey = rec.pubkey if self.wide or not rec.pubkey else short_address(rec.pubkey, 12)
        details.update(
            f"[b]{escape(rec.name)}[/b] · {kind}{' · ' + rec.path if rec.path else ''}\n"
            f"{rec.address}\n"
            f"[dim]pubkey {pubkey or '—'}[/dim]\n"
            f"{self._balance_line(rec)}"
        )

    def _balance_line(self, rec: KeyRecord) -> str:
        bal = self.balances.get(rec.address)
        if rec.address in self.app.balance_errors:
            return f"[red]balance unavailable: {escape(self.app.balance_errors[rec.address])}[/red]"
        if bal is None:
            if self._offline:
                return "[dim]offline: the node does not answer; Ctrl+R tries again[/dim]"
            return "[dim]fetching the balance…[/dim]"
        parts = [f"[b]{format_gnk(bal.total)}[/b]", f"spendable {format_gnk(bal.spendable)}"]
        if bal.locked:
            parts.append(f"vesting {format_gnk(bal.locked)} (locked)")
        if bal.reward_vesting:
            parts.append(f"rewards vesting {format_gnk(bal.reward_vesting)}")
        line = " · ".join(parts)
        return line + (" [dim](offline: last known)[/dim]" if self._offline else "")

    def _need_selection(self) -> KeyRecord | None:
        rec = self.selected()
        if rec is None:
            self.app.notify("No account selected: create, recover, import or watch one first.", severity="warning")
        return rec

    def action_create(self) -> None:
        self.app.push_screen(CreateWizard())

    def action_recover(self) -> None:
        self.app.push_screen(RecoverWizard())

    def action_import_hex(self) -> None:
        self.app.push_screen(AddKeyModal(IMPORT_HEX))

    def action_watch(self) -> None:
        self.app.push_screen(AddKeyModal(WATCH))

    def action_receive(self) -> None:
        rec = self._need_selection()
        if rec:
            self.app.push_screen(ReceiveModal(rec))

    async def action_send(self) -> None:
        rec = self._need_selection()
        if rec:
            await self.app.open_send(from_name=rec.name)

    async def action_history(self) -> None:
        rec = self._need_selection()
        if rec:
            await self.app.open_history(rec.name)

    @work(exclusive=True, group="wallet-edit", exit_on_error=False)
    async def action_rename(self) -> None:
        rec = self._need_selection()
        if rec is None:
            return

        def problem(value: str) -> str | None:
            try:
                validate_name(value.strip())
            except GonkaError as exc:
                return str(exc)
            return None

        new = await self.app.push_screen_wait(PromptModal("Rename account", f"New name for '{rec.name}'", rec.name, problem))
        if new and new.strip() != rec.name:
            renamed = self.app.keystore.rename(rec.name, new.strip())
            self.app.keys_changed(f"Renamed '{rec.name}' to '{renamed.name}'")

    @work(exclusive=True, group="wallet-edit", exit_on_error=False)
    async def action_delete(self) -> None:
        rec = self._need_selection()
        if rec is None:
            return
        if rec.has_secret:
            body = (f"{rec.address}\n\nThe key is removed from this machine. Only its "
                    f"{'recovery phrase' if rec.kind == 'mnemonic' else 'private key'} can bring it back.")
        else:
            body = f"{rec.address}\n\nOnly the watched address is removed."
        if not await self.app.push_screen_wait(ConfirmModal(f"Delete '{rec.name}'?", body, "Delete", danger=True)):
            return
        if rec.has_secret and not await self.app.ensure_unlocked("Unlock to confirm deleting a key."):
            return
        self.app.keystore.delete(rec.name)
        self.app.keys_changed(f"Deleted '{rec.name}'")
