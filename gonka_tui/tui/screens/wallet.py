"""Wallet: the accounts on this machine, and the ways to add, receive, rename and delete them."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from gonka_tui.core.address import short_address
from gonka_tui.core.errors import GonkaError
from gonka_tui.core.keystore import KeyRecord, validate_name
from gonka_tui.tui.actions import WALLET_ACTIONS, bindings
from gonka_tui.tui.screens.add_key import IMPORT_HEX, WATCH, AddKeyModal
from gonka_tui.tui.screens.create import CreateWizard
from gonka_tui.tui.screens.dialogs import ConfirmModal, PromptModal
from gonka_tui.tui.screens.receive import ReceiveModal
from gonka_tui.tui.screens.recover import RecoverWizard
from gonka_tui.tui.screens.errors import ErrorsAsModals

EMPTY_TEXT = """[b]No accounts yet.[/b]

  [b]c[/b]  create a new wallet (a new recovery phrase)
  [b]r[/b]  recover a wallet from its recovery phrase
  [b]i[/b]  import a raw private key (hex)
  [b]w[/b]  watch an address without its key

Keys are encrypted with one passphrase; [b]F1[/b] shows every key of this screen."""

WIDE = 110  # from this width the table shows the derivation path and full columns


class WalletScreen(ErrorsAsModals, Screen):
    ACTIONS = WALLET_ACTIONS
    BINDINGS = bindings(WALLET_ACTIONS)
    HELP = ("Your accounts on this machine. Mnemonic and hex keys are encrypted with the keystore "
            "passphrase; watch-only accounts hold an address alone. Select an account and press "
            "v or Enter to receive.")

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="wallet-body"):
            yield Static(EMPTY_TEXT, id="empty")
            yield DataTable(cursor_type="row", zebra_stripes=True, id="accounts")
            yield Static("", id="details")
            yield Static("", id="problems", classes="problem", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "keys_version", self.refresh_accounts, init=False)
        self.refresh_accounts()

    def on_resize(self) -> None:
        wide = self.size.width >= WIDE
        if wide != getattr(self, "_wide", None):
            self.refresh_accounts()

    def refresh_accounts(self) -> None:
        ks = self.app.keystore
        records = ks.list()
        self._wide = self.size.width >= WIDE
        table = self.query_one("#accounts", DataTable)
        selected = self.selected()
        table.clear(columns=True)
        table.add_column("Name", key="name")
        table.add_column("Kind", key="kind")
        table.add_column("Address", key="address")
        if self._wide:
            table.add_column("Path", key="path")
        for rec in records:
            row = [rec.name, rec.kind, rec.address]
            if self._wide:
                row.append(rec.path or "—")
            table.add_row(*row, key=rec.name)
        if selected and selected.name in {r.name for r in records}:
            table.move_cursor(row=table.get_row_index(selected.name))
        self.query_one("#empty").display = not records
        table.display = bool(records)
        self.query_one("#details").display = bool(records)
        problems = "\n".join(f"⚠ {p.message}" for p in ks.problems)
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
        pubkey = rec.pubkey if self._wide or not rec.pubkey else short_address(rec.pubkey, 12)
        details.update(
            f"[b]{rec.name}[/b] · {kind}{' · ' + rec.path if rec.path else ''}\n"
            f"{rec.address}\n"
            f"[dim]pubkey {pubkey or '—'}[/dim]"
        )

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
