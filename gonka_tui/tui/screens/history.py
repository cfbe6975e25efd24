"""History: the transactions of one account, newest first, page by page; Enter shows one in full."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Label, Select, Static

from gonka_tui.core.address import short_address
from gonka_tui.core.errors import GonkaError
from gonka_tui.core.account_list import AccountPick
from gonka_tui.core.keystore import KeyRecord
from gonka_tui.core.recipients import Recipients
from gonka_tui.core.transfer import SentTransfer
from gonka_tui.core.txrecords import TxRecord, label
from gonka_tui.core.units import format_gnk
from gonka_tui.tui.actions import HISTORY_ACTIONS
from gonka_tui.tui.screens.base import GonkaScreen
from gonka_tui.tui.screens.dialogs import CopyDialog
from gonka_tui.tui.screens.send_dialogs import summary_table

PAGE = 20

NO_ACCOUNTS = """[b]No accounts yet.[/b]

History shows the transactions of one of your accounts (watch-only ones too).
Press [b]F2[/b] for the Wallet, then [b]c[/b] create, [b]r[/b] recover or [b]w[/b] watch an address."""


def tx_time(record: TxRecord, wide: bool = True) -> str:
    """'2026-11-25 12:00' (UTC, as the chain reports it); narrow: '11-25 12:00'."""
    t = record.time
    if len(t) < 16 or t[10] != "T":
        return t or "—"
    return f"{t[:10]} {t[11:16]}" if wide else f"{t[5:10]} {t[11:16]}"


def signed_gnk(ngonka: int) -> str:
    return ("+" if ngonka > 0 else "") + format_gnk(ngonka, denom=False)


def counterpart(record: TxRecord, address: str) -> str | None:
    for t in record.transfers:
        if t.sender == address and t.recipient != address:
            return t.recipient
        if t.recipient == address and t.sender != address:
            return t.sender
    return None


class HistoryScreen(GonkaScreen):
    MODE = "history"
    ACTIONS = HISTORY_ACTIONS

    class PageLoaded(Message):
        """What a load read: `records` of `address` from `page` on; `pages` are now shown."""

        def __init__(self, address: str, page: int, pages: int, records: tuple[TxRecord, ...], more: bool) -> None:
            super().__init__()
            self.address, self.page, self.pages, self.records, self.more = address, page, pages, records, more
    HELP = ("The transactions of one account, newest first, as the node reports them: amounts are the "
            "change of the account's balance (a send counts its fee too). m loads older ones, Enter "
            "shows one in full, c copies its hash. Times are UTC.")

    def __init__(self) -> None:
        super().__init__()
        self.records: list[TxRecord] = []
        self.page = 0
        self.more = False
        self.address: str | None = None
        self.state = "idle"  # idle, loading, loaded, offline, error
        self._pick = AccountPick()
        self._labels: Recipients | None = None
        self._options: list[tuple[str, str]] = []

    def compose_body(self) -> ComposeResult:
        with Vertical(id="history-body"):
            yield Static(NO_ACCOUNTS, id="history-empty-accounts", classes="empty")
            with Horizontal(id="history-top", classes="field"):
                yield Label("Account", classes="field-label")
                yield Select([], id="account", allow_blank=True, compact=True, prompt="choose an account")
                yield Static("", id="history-count")
            yield DataTable(cursor_type="row", zebra_stripes=True, id="txs")
            yield Static("", id="history-state", classes="empty")
            yield Static("", id="history-more", classes="muted")

    def on_mount(self) -> None:
        self.watch(self.app, "accounts", self._load_accounts, init=False)
        self.watch(self.app, "sent", self._transfer_sent, init=False)
        self._load_accounts()

    def on_screen_resume(self) -> None:
        if self.laid_out:
            if not self.app.reload_accounts():  # changed: the watcher loads them
                self._load_accounts()
            self.load()

    def on_width_class_changed(self, wide: bool) -> None:
        self._fill_table()

    # ----- the account -----

    def _load_accounts(self) -> None:
        accounts = self.app.accounts
        records = accounts.records
        select = self.query_one("#account", Select)
        current = select.value if select.value is not Select.BLANK else None
        options = accounts.options
        if options != self._options:  # set_options empties the selection: only when they changed
            self._options = options
            select.set_options(options)
            if current is not None and current in [name for _, name in options]:
                select.value = current
        self.query_one("#history-empty-accounts").display = not records
        for widget in ("#history-top", "#txs", "#history-state", "#history-more"):
            self.query_one(widget).display = bool(records)
        if not records:
            return
        choice = self._pick.choose(accounts.names, current, self.app.current_account, self.app.config.default_key)
        if choice != current:
            select.value = choice  # Select.Changed loads it

    def account(self) -> KeyRecord | None:
        value = self.query_one("#account", Select).value
        if value is Select.BLANK:
            return None
        try:
            return self.app.keystore.get(str(value))
        except GonkaError:
            return None

    def _transfer_sent(self, sent: SentTransfer | None) -> None:
        rec = self.account()
        if sent is not None and rec is not None and rec.address in sent.addresses:  # its history grew
            self.load()

    def prefill(self, from_name: str | None = None, to: str | None = None) -> None:
        if from_name:
            self.choose(from_name)

    def choose(self, name: str) -> None:
        self._pick.wallet_pick = name
        select = self.query_one("#account", Select)
        if select.value == name:
            self.load()
        else:
            select.value = name

    @on(Select.Changed, "#account")
    def _account_changed(self) -> None:
        self.records, self.page, self.more, self.address = [], 0, False, None
        self._fill_table()
        self.load()

    # ----- loading -----

    def action_refresh(self) -> None:
        self.load(user_initiated=True)

    def action_more(self) -> None:
        if self.more and self.state != "loading":
            self.load(page=self.page + 1, user_initiated=True)

    @work(group="history", exclusive=True, exit_on_error=False)
    async def load(self, page: int = 1, user_initiated: bool = False) -> None:
        from gonka_tui.core.errors import NodeUnreachable

        rec = self.account()
        if rec is None:
            return
        address = rec.address
        self.state = "loading"
        self._show_state(rec)
        # Page 1 reloads everything shown so far (as many pages as were loaded), newest first.
        pages = max(1, self.page) if page == 1 and address == self.address else 1
        try:
            client = self.app.client_now() if user_initiated else self.app.client
            if page == 1:
                records, more = await client.history(address, page=1, limit=pages * PAGE)
            else:
                records, more = await client.history(address, page=page, limit=PAGE)
        except NodeUnreachable as exc:
            self.state = "offline"
            self._show_state(rec)
            self.app.network_error(exc, lambda: self.load(page, user_initiated=True), user_initiated=user_initiated)
            return
        except GonkaError:
            self.state = "error"
            self._show_state(rec)
            raise
        self.post_message(self.PageLoaded(address, page, pages if page == 1 else page, tuple(records), more))

    def on_history_screen_page_loaded(self, loaded: PageLoaded) -> None:
        rec = self.account()
        if rec is None or rec.address != loaded.address:  # another account was chosen meanwhile
            return
        self.app.note_online()
        if loaded.page == 1:
            self.records = list(loaded.records)
        else:
            seen = {r.hash for r in self.records}
            self.records += [r for r in loaded.records if r.hash not in seen]
        self.address, self.page, self.more, self.state = loaded.address, loaded.pages, loaded.more, "loaded"
        self._fill_table()
        self._show_state(rec)
        select = self.query_one("#account", Select)
        if self.records and (self.focused is None or (self.focused is select and not select.expanded)):
            self.query_one("#txs", DataTable).focus()

    def _show_state(self, rec: KeyRecord) -> None:
        state = self.query_one("#history-state", Static)
        count = self.query_one("#history-count", Static)
        more = self.query_one("#history-more", Static)
        name = escape(rec.name)
        n = len(self.records)
        count.update(f"{n} transaction{'s' if n != 1 else ''}{' (more)' if self.more else ''}" if n else "")
        more.update(f"Older transactions: press [b]m[/b] to load {PAGE} more." if self.more and n else "")
        more.display = bool(self.more and n)
        message = ""
        if self.state == "loading" and not n:
            message = "[dim]Loading the transactions…[/dim]"
        elif self.state == "offline":
            message = ("[b]Offline.[/b] The node does not answer, so the history cannot be read.\n"
                       "Start it (e.g. `gonka devnet`) or check --node / GONKA_NODE, then press [b]Ctrl+R[/b].")
            if n:
                message = "[b]Offline[/b]: showing what was loaded before. [b]Ctrl+R[/b] tries again."
        elif self.state == "error":
            message = "[b]The node refused the query.[/b] Ctrl+R tries again."
        elif self.state == "loaded" and not n:
            message = (f"[b]No transactions for '{name}' yet.[/b]\n\n"
                       f"To receive, share its address: [b]F2[/b], select '{name}', [b]v[/b] shows it with a QR code.\n"
                       "To send from it: [b]F3[/b].")
        state.update(message)
        state.display = bool(message)
        self.query_one("#txs").display = bool(n)

    def _fill_table(self) -> None:
        wide = self.wide_layout()
        table = self.query_one("#txs", DataTable)
        cursor = table.cursor_row if table.row_count else 0
        selected = self.selected()
        table.clear(columns=True)
        table.add_column(Text("Height", justify="right"), key="height")
        table.add_column("Time (UTC)" if wide else "Time", key="time")
        table.add_column("", key="dir")
        table.add_column(Text("Amount GNK", justify="right"), key="amount")
        table.add_column("Counterpart", key="counterpart")
        table.add_column("Status", key="status")
        if wide:
            table.add_column("Memo", key="memo")
        labels = self._labels = self.app.session.recipients(damaged_book_ok=True)
        address = self.address or ""
        for r in self.records:
            direction = r.direction(address)
            net = r.net_amount(address)
            arrow = {"in": Text("in", style="green"), "out": Text("out", style="yellow"),
                     "self": Text("self", style="dim")}.get(direction, Text(direction, style="dim"))
            other = counterpart(r, address)
            who = "yourself" if direction == "self" else (
                ", ".join(label(m) for m in r.other_messages) if r.other_messages else
                (labels.name_for(other) or (other if wide else short_address(other, 6))) if other else "—")
            status = Text("ok", style="green") if r.ok else Text("failed", style="bold red")
            row = [Text(f"{r.height:,}", justify="right"), tx_time(r, wide), arrow,
                   Text(signed_gnk(net), justify="right", style="green" if net > 0 else ""), who, status]
            if wide:
                row.append(Text(r.memo[:30] + ("…" if len(r.memo) > 30 else ""), style="dim"))
            table.add_row(*row, key=r.hash)
        if table.row_count:
            keys = [r.hash for r in self.records]
            # the same transaction stays selected when newer ones arrive above it
            row = keys.index(selected.hash) if selected is not None and selected.hash in keys else cursor
            table.move_cursor(row=min(row, table.row_count - 1))

    # ----- details -----

    def selected(self) -> TxRecord | None:
        table = self.query_one("#txs", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((r for r in self.records if r.hash == key), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_detail()

    def action_detail(self) -> None:
        record = self.selected()
        if record is not None and self.address:
            self.app.push_screen(TxDetailModal(record, self.address, self._labels or self.app.session.recipients(damaged_book_ok=True)))

    def action_copy(self) -> None:
        record = self.selected()
        if record is not None:
            self.app.copy_to_clipboard(record.hash)
            self.app.notify(f"Copied {record.hash[:12]}… to the clipboard")


class TxDetailModal(CopyDialog):
    BINDINGS = [Binding("c", "copy", "Copy hash"), Binding("escape,q", "close", "Close")]
    copied_message = "Hash copied to the clipboard."
    copy_label = "Copy hash (c)"

    def __init__(self, record: TxRecord, address: str, labels: Recipients) -> None:
        super().__init__()
        self.record, self.address, self.labels = record, address, labels
        self.copy_text = record.hash

    def compose(self) -> ComposeResult:
        r = self.record
        named = lambda a: a + (f" ({self.labels.name_for(a)})" if self.labels.name_for(a) else "")  # noqa: E731
        status = Text("ok", style="bold green") if r.ok else Text.assemble(
            (f"failed (code {r.code}{', ' + r.codespace if r.codespace else ''})", "bold red"), "\n", r.raw_log)
        rows: list[tuple[str, str | Text]] = [
            ("Hash", Text(r.hash, style="bold")), ("Height", f"{r.height:,}"), ("Time", f"{tx_time(r)} UTC"),
            ("Status", status),
            ("Change", Text(f"{signed_gnk(r.net_amount(self.address))} GNK for "
                            f"{self.labels.name_for(self.address) or short_address(self.address)}")),
            ("Fee", f"{format_gnk(r.fee)} ({r.fee:,} ngonka)"),
            ("Gas", f"{r.gas_used:,} used of {r.gas_wanted:,} wanted"),
            ("Memo", Text(r.memo or "—")),
        ]
        for i, t in enumerate(r.transfers, 1):
            label = "Transfer" if len(r.transfers) == 1 else f"Transfer {i}"
            rows.append((label, Text(f"{format_gnk(t.amount)}\nfrom {named(t.sender)}\nto   {named(t.recipient)}")))
        for m in r.other_messages:
            rows.append(("Message", m))
        with Vertical(classes=f"dialog{'' if r.ok else ' error'}", id="tx-detail"):
            yield Label("Transaction", classes="dialog-title")
            yield Static(summary_table(rows), classes="dialog-body")
            yield from self.copy_buttons()
