"""The modals of a send after it is confirmed: progress until included, then the result."""

from __future__ import annotations

import asyncio

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, LoadingIndicator, Static

from gonka_tui.core.transfer import BROADCASTING, SIGNING, WAITING, SendPlan, SendResult
from gonka_tui.core.units import format_gnk
from gonka_tui.tui.screens.dialogs import CopyDialog

STEPS = ((SIGNING, "Signing"), (BROADCASTING, "Broadcasting to the network"), (WAITING, "Waiting for a block"))


def summary_table(rows: list[tuple[str, str | Text]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table


class SendProgressModal(ModalScreen[None]):
    """Steps of a transfer as they happen; it cannot be dismissed by the user (the send goes on)."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title
        self.current = -1
        self.notes: list[str] = []
        self._on_top = asyncio.Event()

    def on_screen_resume(self) -> None:
        self._on_top.set()

    def on_screen_suspend(self) -> None:
        self._on_top.clear()

    async def close(self) -> None:
        """Dismiss once this is the top screen again (a lock screen may cover it meanwhile)."""
        await self._on_top.wait()
        await self.dismiss()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="send-progress"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._steps_text(), id="steps")
            yield LoadingIndicator(id="spinner")
            yield Static("", id="progress-note", classes="muted", markup=False)

    def _steps_text(self) -> Text:
        text = Text()
        for i, (_, label) in enumerate(STEPS):
            if i < self.current:
                text.append("✓ ", style="green")
                text.append(label + "\n")
            elif i == self.current:
                text.append("▶ ", style="bold yellow")
                text.append(label + "…\n", style="bold")
            else:
                text.append("· ", style="dim")
                text.append(label + "\n", style="dim")
        return text

    def step(self, what: str) -> None:
        """The progress callback of a `Transfer`'s tries."""
        index = next((i for i, (key, _) in enumerate(STEPS) if what.startswith(key)), None)
        if index is None:
            self.notes.append(what)
        else:
            self.current = max(self.current, index)
        if self.is_mounted:
            self.query_one("#steps", Static).update(self._steps_text())
            self.query_one("#progress-note", Static).update(self.notes[-1] if self.notes else "")


class SendResultModal(CopyDialog):
    """Where the transfer ended up: its hash (copy with c), height and status."""

    BINDINGS = [Binding("c", "copy", "Copy hash"), Binding("escape", "close", "Close")]
    copied_message = "Hash copied to the clipboard."
    copy_label = "Copy hash (c)"

    def __init__(self, plan: SendPlan, result: SendResult, to_label: str | None = None) -> None:
        super().__init__()
        self.plan, self.result, self.to_label = plan, result, to_label
        self.copy_text = result.txhash

    def compose(self) -> ComposeResult:
        ok = self.result.code == 0
        plan, result = self.plan, self.result
        status = Text("confirmed", style="bold green") if ok else \
            Text(f"failed (code {result.code}): {result.raw_log}", style="bold red")
        to = plan.to_address + (f"\n({self.to_label})" if self.to_label else "")
        rows = [("Status", status), ("Amount", format_gnk(plan.amount)), ("To", to),
                ("Fee", f"{format_gnk(plan.fee)} ({plan.fee} ngonka)"),
                ("Height", f"{result.height:,}" if result.height else "—"),
                ("Hash", Text(result.txhash, style="bold"))]
        if result.record is not None:
            rows.append(("Gas", f"{result.record.gas_used:,} used of {result.record.gas_wanted:,}"))
        with Vertical(classes=f"dialog{'' if ok else ' error'}", id="send-result"):
            yield Label("Sent" if ok else "Included, but the transfer failed", classes="dialog-title")
            yield Static(summary_table(rows), classes="dialog-body", id="result-body")
            yield from self.copy_buttons()
