"""Address book: named contacts and the addresses you sent to; add, delete, send to."""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Static

from gonka_tui.core.address import normalize_address, short_address
from gonka_tui.core.address_book import lookalikes
from gonka_tui.core.errors import GonkaError, InputError
from gonka_tui.core.keystore import validate_name
from gonka_tui.tui.actions import CONTACTS_ACTIONS
from gonka_tui.tui.screens.base import GonkaScreen
from gonka_tui.tui.screens.dialogs import ConfirmModal, FormModal

MAX_NOTE = 80

NO_CONTACTS = ("[dim]No contacts yet. Press [b]a[/b] to add one (name, address, note); "
               "Send's Pick (Ctrl+B) offers them.[/dim]")
NO_RECENT = "[dim]Addresses you send to appear here; [b]n[/b] saves one as a contact.[/dim]"


class AddressBookScreen(GonkaScreen):
    MODE = "contacts"
    ACTIONS = CONTACTS_ACTIONS
    HELP = ("Contacts you named, and the addresses you sent to before. Send checks every recipient "
            "against both: an address that resembles one of them but differs is flagged as a "
            "possible address-poisoning look-alike. s or Enter sends to the selected row.")

    def compose_body(self) -> ComposeResult:
        with Vertical(id="contacts-body"):
            yield Label("Contacts", classes="section-title")
            yield DataTable(cursor_type="row", zebra_stripes=True, id="contacts")
            yield Static(NO_CONTACTS, id="no-contacts")
            yield Label("Recent recipients", classes="section-title")
            yield DataTable(cursor_type="row", zebra_stripes=True, id="recent")
            yield Static(NO_RECENT, id="no-recent")
            yield Static("", id="book-problem", classes="problem", markup=False)

    def on_mount(self) -> None:
        self.watch(self.app, "sent", self.refresh_book, init=False)  # a recent recipient more
        self.watch(self.app, "accounts", self.refresh_book, init=False)
        self.refresh_book()

    def on_screen_resume(self) -> None:
        if self.laid_out:
            self.refresh_book()

    def on_width_class_changed(self, wide: bool) -> None:
        self.refresh_book()

    def refresh_book(self) -> None:
        wide = self.wide_layout()
        book = self.app.address_book
        problem = self.query_one("#book-problem", Static)
        try:
            contacts, recent = book.contacts(), book.recent()
            problem.display = False
        except GonkaError as exc:
            contacts, recent = [], []
            problem.update(str(exc))
            problem.display = True
        own = {r.address: r.name for r in self.app.accounts.records}
        named = {c.address: c.name for c in contacts}

        table = self.query_one("#contacts", DataTable)
        cursor = table.cursor_row if table.row_count else 0
        table.clear(columns=True)
        rows = [(c.name, c.address if wide else short_address(c.address, 8), c.note) for c in contacts]
        # Widths given, not measured later: a table filled before its first paint kept header widths.
        for i, label in enumerate(("Name", "Address", "Note")):
            table.add_column(label, width=max([len(label)] + [len(r[i]) for r in rows]))
        for (name, address, note), c in zip(rows, contacts):
            table.add_row(name, address, Text(note, style="dim"), key=c.name)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        table.display = bool(contacts)
        self.query_one("#no-contacts").display = not contacts

        rtable = self.query_one("#recent", DataTable)
        rcursor = rtable.cursor_row if rtable.row_count else 0
        rtable.clear(columns=True)
        rrows = [(r.address if wide else short_address(r.address, 8),
                  named.get(r.address) or (f"your '{own[r.address]}'" if r.address in own else "—"),
                  str(r.count), time.strftime("%Y-%m-%d", time.gmtime(r.last_used))) for r in recent]
        for i, label in enumerate(("Address", "Known as", "Sends", "Last (UTC)")):
            rtable.add_column(Text(label, justify="right") if i == 2 else label,
                              width=max([len(label)] + [len(r[i]) for r in rrows]))
        for row, r in zip(rrows, recent):
            rtable.add_row(row[0], row[1], Text(row[2], justify="right"), row[3], key=r.address)
        if rtable.row_count:
            rtable.move_cursor(row=min(rcursor, rtable.row_count - 1))
        rtable.display = bool(recent)
        self.query_one("#no-recent").display = not recent
        if not (self.focused and self.focused.display):
            (table if contacts else rtable).focus()

    # ----- selection -----

    def _selected(self) -> tuple[str, str] | None:
        """('contact', name) or ('recent', address) of the row under the cursor of the focused table."""
        focused = self.focused
        if not isinstance(focused, DataTable) or not focused.row_count:
            table = self.query_one("#contacts", DataTable)
            focused = table if table.row_count else self.query_one("#recent", DataTable)
            if not focused.row_count:
                return None
        key = focused.coordinate_to_cell_key(focused.cursor_coordinate).row_key.value
        return ("contact" if focused.id == "contacts" else "recent", str(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.run_worker(self.action_send())

    async def action_send(self) -> None:
        picked = self._selected()
        if picked is None:
            self.app.notify("No contact or recent recipient to send to yet.", severity="warning")
            return
        await self.app.open_send(to=picked[1])

    @work(group="book", exclusive=True, exit_on_error=False)
    async def action_add(self, address: str = "") -> None:
        contact = await self.app.push_screen_wait(AddContactModal(address))
        if contact is None:
            return
        name, address, note = contact
        self.app.address_book.add(name, address, note)
        self.refresh_book()
        self.app.notify(f"Added '{name}' to the address book")

    def action_save_recent(self) -> None:
        picked = self._selected()
        if picked is None or picked[0] != "recent":
            self.app.notify("Select a recent recipient to name it (Tab moves between the tables).",
                            severity="warning")
            return
        self.action_add(picked[1])

    @work(group="book", exclusive=True, exit_on_error=False)
    async def action_delete(self) -> None:
        picked = self._selected()
        if picked is None or picked[0] != "contact":
            self.app.notify("Select a contact to delete.", severity="warning")
            return
        contact = self.app.address_book.lookup(picked[1])
        if contact is None:
            return
        if not await self.app.push_screen_wait(ConfirmModal(
                f"Delete contact '{contact.name}'?", f"{contact.address}\n\nOnly the name is removed; the "
                "address stays among the recent recipients if you sent to it.", "Delete", danger=True)):
            return
        self.app.address_book.remove(contact.name)
        self.refresh_book()
        self.app.notify(f"Deleted '{contact.name}'")


class AddContactModal(FormModal[tuple[str, str, str]]):
    """Name, address and note, each checked as you type; a look-alike of a known address is flagged."""

    def __init__(self, address: str = "") -> None:
        super().__init__()
        self._address = address

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="add-contact"):
            yield Label("Add a contact", classes="dialog-title")
            for label, field in (("Name", Input(placeholder="e.g. bob", id="name", compact=True)),
                                 ("Address", Input(self._address, placeholder="gonka1…", id="address", compact=True)),
                                 ("Note", Input(placeholder="optional, e.g. exchange deposit", id="note",
                                                max_length=MAX_NOTE, compact=True))):
                with Horizontal(classes="field"):
                    yield Label(label, classes="field-label")
                    yield field
            yield Static("", id="problem", classes="problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def _values(self) -> tuple[str, str, str]:
        return (self.query_one("#name", Input).value.strip(), self.query_one("#address", Input).value.strip(),
                self.query_one("#note", Input).value.strip())

    def problem(self) -> str | None:
        name, address, _ = self._values()
        book = self.app.address_book
        try:
            validate_name(name)
            if book.lookup(name):
                raise InputError(f"the address book already has '{name}'")
            normalized = normalize_address(address)
            for c in book.contacts():
                if c.address == normalized:
                    raise InputError(f"this address is already in the address book as '{c.name}'")
        except GonkaError as exc:
            return str(exc)
        return None

    def _warning(self) -> str:
        try:
            address = normalize_address(self._values()[1])
            hits = lookalikes(address, [(k.label, k.address) for k in self.app.session.recipients().known()])
        except GonkaError:
            return ""
        if not hits:
            return ""
        label, similar = hits[0]
        return f"⚠ resembles {label} ({similar}) but is a different address"

    def on_input_changed(self, event: Input.Changed) -> None:
        name, address, _ = self._values()
        problem = self.problem() if (name or address) else None
        self.query_one("#problem", Static).update(problem or self._warning())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        order = ["name", "address", "note"]
        if event.input.id == "note":
            self.submit()
        else:
            self.query_one(f"#{order[order.index(event.input.id) + 1]}", Input).focus()

    def result(self) -> tuple[str, str, str]:
        name, address, note = self._values()
        return name, normalize_address(address), note
