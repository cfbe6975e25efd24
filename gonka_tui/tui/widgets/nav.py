"""The one-line strip under the header: the screens, their keys, and which one you are on."""

from __future__ import annotations

from textual.widgets import Static

from gonka_tui.tui.actions import NAV_ACTIONS
from gonka_tui.tui.registry import SCREENS


class NavBar(Static):
    """Clickable tabs: 'F2 Wallet  F3 Send  F4 History  F6 Contacts', the current one highlighted."""

    def __init__(self, current: str) -> None:
        super().__init__(id="nav")
        self.current = current

    def on_mount(self) -> None:
        self.update(self.tabs_markup())

    def on_resize(self) -> None:
        self.update(self.tabs_markup())

    def tabs_markup(self) -> str:
        tabs = []
        for entry, spec in zip(SCREENS, NAV_ACTIONS):
            key = self.app.key_for(spec)
            tabs.append((entry.mode, key.upper() if len(key) <= 3 and key.startswith("f") else key, spec.label))
        # Padded tabs where they fit; at 80 columns the padding goes, so that every tab stays readable.
        wide = sum(len(key) + len(label) + 4 for _, key, label in tabs) + len(tabs) - 1
        pad = " " if wide <= self.app.size.width else ""
        parts = []
        for mode, key, label in tabs:
            click = f"@click=app.goto('{mode}')"
            if mode == self.current:
                parts.append(f"[{click} reverse b]{pad}{key} {label}{pad}[/]")
            else:
                parts.append(f"[{click}]{pad}[$accent b]{key}[/] {label}{pad}[/]")
        return " ".join(parts)
