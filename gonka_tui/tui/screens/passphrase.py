"""Asking for the keystore passphrase: unlock, choose a new one, and the lock screen."""

from __future__ import annotations

import asyncio

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, Input, Label, Static

from gonka_tui.core import unlock_cache
from gonka_tui.core.errors import InputError, WrongPassphrase
from gonka_tui.core.keystore import validate_new_passphrase
from gonka_tui.core.session import Session
from gonka_tui.tui.screens.dialogs import FormModal


class _UnlockForm(Vertical):
    """The passphrase field shared by the unlock modal and the lock screen."""

    def __init__(self, session: Session, title: str, reason: str, cancel: bool) -> None:
        super().__init__(classes="dialog")
        self.session, self._title, self._reason, self._cancel = session, title, reason, cancel

    def compose(self) -> ComposeResult:
        yield Label(self._title, classes="dialog-title")
        yield Static(self._reason, classes="dialog-body")
        yield Input(password=True, placeholder="passphrase", id="passphrase")
        if unlock_cache.available():
            yield Checkbox("Remember on this machine (OS keyring)", id="remember")
        yield Static("", id="problem", classes="problem", markup=False)
        with Horizontal(classes="buttons"):
            if self._cancel:
                yield Button("Cancel", id="cancel")
            yield Button("Unlock", id="unlock", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#passphrase", Input).focus()

    async def attempt(self) -> bool:
        field = self.query_one("#passphrase", Input)
        problem = self.query_one("#problem", Static)
        problem.update("checking…")
        remember = self.query("#remember")
        try:
            await asyncio.to_thread(self.session.unlock, field.value,
                                    remember=bool(remember) and remember.first(Checkbox).value)
        except WrongPassphrase:
            problem.update("Wrong passphrase. Try again.")
            field.value = ""
            return False
        except Exception as exc:  # a damaged keystore: say so, stay on the form
            problem.update(str(exc))
            return False
        return True


class _SubmitsUnlockForm:
    """Enter or a button tries the passphrase of the screen's `_form`; the screen closes once it opens
    the keystore (Cancel, where the form has it, closes it with False)."""

    async def _try(self) -> None:
        if await self._form.attempt():
            self.dismiss(True)

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        await self._try()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(False)
        else:
            await self._try()


class UnlockModal(_SubmitsUnlockForm, ModalScreen[bool]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, session: Session, reason: str = "Enter the keystore passphrase.") -> None:
        super().__init__()
        self._form = _UnlockForm(session, "Unlock keystore", reason, cancel=True)

    def compose(self) -> ComposeResult:
        yield self._form

    def action_cancel(self) -> None:
        self.dismiss(False)


class LockScreen(_SubmitsUnlockForm, Screen[bool]):
    """Covers everything until the passphrase is given; only quitting is possible otherwise."""

    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit")]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._form = _UnlockForm(session, "gonka is locked",
                                 "The keystore was locked. Enter the passphrase to continue.", cancel=False)

    def compose(self) -> ComposeResult:
        with Center(id="lock-center"):
            yield self._form


class NewPassphraseModal(FormModal[str]):
    """Choose the keystore's one passphrase (first key with a secret)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Choose a keystore passphrase", classes="dialog-title")
            yield Static("It encrypts every key on this machine. There is no way to recover it: "
                         "without it, only the recovery phrase restores your keys.", classes="dialog-body")
            yield Input(password=True, placeholder="new passphrase (8+ characters)", id="first")
            yield Input(password=True, placeholder="repeat it", id="second")
            yield Static("", id="problem", classes="problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Set passphrase", id="ok", variant="primary")

    def problem(self) -> str | None:
        first = self.query_one("#first", Input).value
        second = self.query_one("#second", Input).value
        try:
            validate_new_passphrase(first)
        except InputError as exc:
            return str(exc)
        if first != second:
            return "The two passphrases differ."
        return None

    def result(self) -> str:
        return self.query_one("#first", Input).value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "first":
            self.query_one("#second", Input).focus()
        else:
            self.submit()
