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

    def tabs_markup(self) -> str:
        parts = []
        for entry, spec in zip(SCREENS, NAV_ACTIONS):
            key = self.app.key_for(spec)
            key = key.upper() if len(key) <= 3 and key.startswith("f") else key
            click = f"@click=app.goto('{entry.mode}')"
            if entry.mode == self.current:
                parts.append(f"[{click} reverse b] {key} {spec.label} [/]")
            else:
                parts.append(f"[{click}] [$accent b]{key}[/] {spec.label} [/]")
        return " ".join(parts)
