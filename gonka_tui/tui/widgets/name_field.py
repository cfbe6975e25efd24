"""The new account's name in the create and recover wizards and the import/watch dialog: checked
against the keystore as you type."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Label, Static

from gonka_tui.core.errors import GonkaError


def name_problem(app, name: str) -> str | None:
    """Why `name` cannot name a new account here, or None."""
    try:
        app.keystore.ensure_name_free(name.strip())
    except GonkaError as exc:
        return str(exc)
    return None


def name_field(label: str) -> ComposeResult:
    """The label, the #name input and the #name-problem line under it."""
    yield Label(label)
    yield Input(placeholder="e.g. main", id="name")
    yield Static("", id="name-problem", classes="problem", markup=False)


class ChecksName:
    """Mix into a screen that composes `name_field`: the problem shows as the name is typed."""

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "name":
            self.query_one("#name-problem", Static).update(
                (name_problem(self.app, event.value) or "") if event.value else "")

    def checked_name(self) -> str | None:
        """The name typed, or None once the reason it cannot be used is shown."""
        name = self.query_one("#name", Input).value.strip()
        problem = name_problem(self.app, name)
        if problem:
            self.query_one("#name-problem", Static).update(problem)
            return None
        return name
