"""Receive: the address in full, as a QR code, and a copy to the terminal clipboard."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Static

from gonka_tui.core.keystore import KeyRecord
from gonka_tui.tui.screens.dialogs import CopyDialog
from gonka_tui.tui.widgets.qr import QRCode


class ReceiveModal(CopyDialog):
    BINDINGS = [Binding("c", "copy", "Copy address"), Binding("escape", "close", "Close")]
    initial_focus = "#copy"  # copying is what this dialog is for

    def __init__(self, record: KeyRecord) -> None:
        super().__init__()
        self.record = record
        self.copy_text = record.address

    def compose(self) -> ComposeResult:
        rec = self.record
        with Horizontal(id="receive", classes="dialog"):
            yield QRCode(rec.address, id="qr")
            with Vertical(id="receive-info"):
                yield Label(f"Receive to '{rec.name}'", classes="dialog-title")
                yield Static("Send only GNK (ngonka) on the Gonka network to this address.", classes="dialog-body")
                yield Static(rec.address, id="receive-address")
                if rec.kind == "watch":
                    yield Static("Watch-only: the key of this address is not on this machine.", classes="muted")
                yield Static("", id="copied", classes="muted")
                with Horizontal(classes="buttons"):
                    yield Button("Copy", id="copy", variant="primary")
                    yield Button("Close", id="close")

    def action_copy(self) -> None:
        super().action_copy()
        self.app.notify("Address copied to the clipboard")
