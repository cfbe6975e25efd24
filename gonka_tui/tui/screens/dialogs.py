"""Small modal dialogs: confirm, error (with retry), a form, a text prompt."""

from __future__ import annotations

from typing import Callable, TypeVar

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmModal(ModalScreen[bool]):
    """Ask yes/no; dismisses True only on the explicit confirm button."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, body: RenderableType, confirm: str = "Confirm", cancel: str = "Cancel",
                 danger: bool = False) -> None:
        super().__init__()
        self._title, self._body, self._confirm, self._cancel, self._danger = title, body, confirm, cancel, danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._body, classes="dialog-body")
            with Horizontal(classes="buttons"):
                yield Button(self._cancel, id="cancel")
                yield Button(self._confirm, id="confirm", variant="error" if self._danger else "primary")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_cancel(self) -> None:
        self.dismiss(False)


class ErrorModal(ModalScreen[bool]):
    """What went wrong and what to do; dismisses True when the user asks to retry."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, title: str, message: str, retry: bool = False) -> None:
        super().__init__()
        self._title, self._message, self._retry = title, message, retry

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._message, classes="dialog-body", markup=False)
            with Horizontal(classes="buttons"):
                if self._retry:
                    yield Button("Retry", id="retry", variant="primary")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "retry")

    def action_close(self) -> None:
        self.dismiss(False)


FormResult = TypeVar("FormResult")


class FormModal(ModalScreen[FormResult | None]):
    """Fields checked by `problem()` (an error message or None) into the #problem line; OK or Save
    dismisses with `result()` once there is none, Cancel or Esc with None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def problem(self) -> str | None:
        return None

    def result(self) -> FormResult:
        raise NotImplementedError

    def submit(self) -> None:
        problem = self.problem()
        if problem:
            self.query_one("#problem", Static).update(problem)
            return
        self.dismiss(self.result())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id in ("ok", "save"):
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PromptModal(FormModal[str]):
    """One line of text, checked by `validate` (returns an error message or None)."""

    def __init__(self, title: str, label: str, value: str = "",
                 validate: Callable[[str], str | None] | None = None, password: bool = False) -> None:
        super().__init__()
        self._title, self._label, self._value, self._validate, self._password = title, label, value, validate, password

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Label(self._label)
            yield Input(self._value, password=self._password, id="value")
            yield Static("", id="problem", classes="problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("OK", id="ok", variant="primary")

    def problem(self) -> str | None:
        value = self.query_one("#value", Input).value
        return self._validate(value) if self._validate else None

    def result(self) -> str:
        return self.query_one("#value", Input).value

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#problem", Static).update(self.problem() or "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.submit()


class CopyDialog(ModalScreen[None]):
    """A modal that shows something with one value to copy (c) and a Close button.

    Subclasses set `copy_text` and `copied_message` and yield `copy_buttons()` in their compose."""

    BINDINGS = [Binding("c", "copy", "Copy"), Binding("escape", "close", "Close")]
    copy_text: str = ""
    copied_message = "Copied to the clipboard."
    copy_label = "Copy (c)"
    initial_focus = "#close"

    def copy_buttons(self) -> ComposeResult:
        yield Static("", id="copied", classes="muted copied")
        with Horizontal(classes="buttons"):
            yield Button(self.copy_label, id="copy", compact=True)
            yield Button("Close", id="close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one(self.initial_focus, Button).focus()

    def action_copy(self) -> None:
        # OSC 52: works over SSH in terminals that allow it.
        self.app.copy_to_clipboard(self.copy_text)
        copied = self.query_one("#copied", Static)
        copied.update(self.copied_message)
        copied.display = True

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.dismiss(None)
