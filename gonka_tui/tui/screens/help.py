"""F1: what the current screen does and every key it answers to, with the ids to remap them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from gonka_tui.tui.actions import ActionSpec


class HelpModal(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "close", "Close")]

    def __init__(self, title: str, about: str, rows: list[tuple[str, ActionSpec]]) -> None:
        super().__init__()
        self._title, self._about, self._rows = title, about, rows

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Label(f"Help: {self._title}", classes="dialog-title")
            yield Static(self._about, classes="dialog-body")
            table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="help-keys")
            table.add_columns("Key", "Id", "Does")
            for key, spec in self._rows:
                table.add_row(key, spec.id, spec.help)
            yield table
            yield Static("Remap a key by its id in config.toml, e.g. [keys] \"wallet.create\" = \"ctrl+n\".\n"
                         "Ctrl+P opens the command palette. Esc closes this help.", classes="muted", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
