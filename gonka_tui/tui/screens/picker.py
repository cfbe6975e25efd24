"""Pick a recipient: contacts, your own accounts and recent recipients, filtered as you type."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from gonka_tui.core.address import short_address


@dataclass(frozen=True)
class Choice:
    section: str  # "Contacts", "Your accounts", "Recent recipients"
    name: str | None
    address: str
    detail: str = ""

    @property
    def value(self) -> str:
        """What goes into the To field: the name where there is one (it shows what it resolves to)."""
        return self.name or self.address

    def matches(self, query: str) -> bool:
        q = query.strip().lower()
        return not q or q in (self.name or "").lower() or q in self.address or q in self.detail.lower()


def when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


class RecipientPicker(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("down", "down", show=False)]

    def __init__(self, choices: list[Choice]) -> None:
        super().__init__()
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="picker"):
            yield Label("Pick the recipient", classes="dialog-title")
            yield Input(placeholder="filter by name, address or note", id="filter", compact=True)
            yield OptionList(id="choices")
            yield Static("Enter picks · Esc cancels · manage contacts on the Address book (F6)", classes="muted",
                         markup=False)

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#filter", Input).focus()

    def _fill(self, query: str) -> None:
        options = self.query_one("#choices", OptionList)
        options.clear_options()
        shown = 0
        for section in ("Contacts", "Your accounts", "Recent recipients"):
            hits = [c for c in self.choices if c.section == section and c.matches(query)]
            if not hits:
                continue
            options.add_option(Option(Text(section, style="bold"), disabled=True))
            for c in hits:
                index = self.choices.index(c)
                line = Text("  ")
                if c.name:
                    line.append(f"{c.name:<14} ", style="bold")
                line.append(c.address if self.size.width >= 100 or not c.name else short_address(c.address, 10))
                if c.detail:
                    line.append(f"  {c.detail}", style="dim")
                options.add_option(Option(line, id=str(index)))
                shown += 1
        if not shown:
            empty = "Nothing matches." if query.strip() else \
                "No contacts, other accounts or recent recipients yet: type the address instead."
            options.add_option(Option(Text(empty, style="dim"), disabled=True))
        else:
            options.highlighted = next(i for i in range(options.option_count)
                                       if not options.get_option_at_index(i).disabled)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._pick(self.query_one("#choices", OptionList).highlighted)

    def action_down(self) -> None:
        self.query_one("#choices", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._pick(event.option_index)

    def _pick(self, index: int | None) -> None:
        options = self.query_one("#choices", OptionList)
        if index is None:
            return
        option = options.get_option_at_index(index)
        if option.disabled or option.id is None:
            return
        self.dismiss(self.choices[int(option.id)].value)

    def action_cancel(self) -> None:
        self.dismiss(None)
