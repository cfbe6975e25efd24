"""Import a raw private key or add a watch-only address: a name, one value, a live preview."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from gonka_tui.core.address import normalize_address
from gonka_tui.core.errors import GonkaError
from gonka_tui.core.keys import key_from_private, parse_private_key_hex
from gonka_tui.tui.errors import ErrorsAsModals
from gonka_tui.tui.widgets.name_field import name_problem


@dataclass(frozen=True)
class KeyForm:
    title: str
    label: str
    placeholder: str
    secret: bool
    preview: Callable[[str], str]  # value -> address; raises GonkaError when invalid


IMPORT_HEX = KeyForm("Import a private key", "Private key (64 hex characters)", "hex", True,
                     lambda v: key_from_private(parse_private_key_hex(v)).address)
WATCH = KeyForm("Watch an address", "Address (gonka1…)", "gonka1…", False, normalize_address)


class AddKeyModal(ErrorsAsModals, ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, form: KeyForm) -> None:
        super().__init__()
        self.form = form

    def compose(self) -> ComposeResult:
        f = self.form
        with Vertical(classes="dialog"):
            yield Label(f.title, classes="dialog-title")
            yield Label("Name")
            yield Input(placeholder="e.g. cold", id="name")
            yield Label(f.label)
            yield Input(placeholder=f.placeholder, password=f.secret, id="value")
            yield Static("", id="preview", classes="muted")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def _problem(self) -> str | None:
        name = self.query_one("#name", Input).value.strip()
        value = self.query_one("#value", Input).value
        problem = name_problem(self.app, name)
        if problem:
            return problem
        try:
            self.form.preview(value)
        except GonkaError as exc:
            return str(exc)
        return None

    @on(Input.Changed)
    def _changed(self) -> None:
        preview = self.query_one("#preview", Static)
        value = self.query_one("#value", Input).value
        if not value:
            preview.update("")
            return
        try:
            preview.update(f"Address: {self.form.preview(value)}")
        except GonkaError as exc:
            preview.update(f"[red]{escape(str(exc))}[/]")

    @on(Input.Submitted, "#name")
    def _next(self) -> None:
        self.query_one("#value", Input).focus()

    @on(Input.Submitted, "#value")
    @on(Button.Pressed, "#save")
    @work(exclusive=True, group="add-key", exit_on_error=False)
    async def _save(self) -> None:
        problem = self._problem()
        if problem:
            self.query_one("#preview", Static).update(f"[red]{escape(problem)}[/]")
            return
        name = self.query_one("#name", Input).value.strip()
        value = self.query_one("#value", Input).value
        ks = self.app.keystore
        if self.form.secret:
            if not await self.app.ensure_unlocked("Unlock the keystore to save the imported key."):
                return
            record = ks.add_private_key(name, parse_private_key_hex(value))
        else:
            record = ks.add_watch(name, value)
        self.app.keys_changed(f"Added '{record.name}' {record.address}")
        self.dismiss(record.name)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
