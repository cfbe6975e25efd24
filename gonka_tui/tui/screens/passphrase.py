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
from gonka_tui.core.keystore import Keystore, validate_new_passphrase


class _UnlockForm(Vertical):
    """The passphrase field shared by the unlock modal and the lock screen."""

    def __init__(self, keystore: Keystore, title: str, reason: str, cancel: bool) -> None:
        super().__init__(classes="dialog")
        self.keystore, self._title, self._reason, self._cancel = keystore, title, reason, cancel

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
        try:
            await asyncio.to_thread(self.keystore.unlock, field.value)
        except WrongPassphrase:
            problem.update("Wrong passphrase. Try again.")
            field.value = ""
            return False
        except Exception as exc:  # a damaged keystore: say so, stay on the form
            problem.update(str(exc))
            return False
        remember = self.query("#remember")
        if remember and remember.first(Checkbox).value:
            store_id, key = self.keystore.store_id(), self.keystore.master_key()
            if store_id and key:
                unlock_cache.remember(store_id, key)
        return True


class UnlockModal(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, keystore: Keystore, reason: str = "Enter the keystore passphrase.") -> None:
        super().__init__()
        self._form = _UnlockForm(keystore, "Unlock keystore", reason, cancel=True)

    def compose(self) -> ComposeResult:
        yield self._form

    async def _try(self) -> None:
        if await self._form.attempt():
            self.dismiss(True)

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        await self._try()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "unlock":
            await self._try()
        else:
            self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)


class LockScreen(Screen[bool]):
    """Covers everything until the passphrase is given; only quitting is possible otherwise."""

    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit")]

    def __init__(self, keystore: Keystore) -> None:
        super().__init__()
        self._form = _UnlockForm(keystore, "gonka is locked",
                                 "The keystore was locked. Enter the passphrase to continue.", cancel=False)

    def compose(self) -> ComposeResult:
        with Center(id="lock-center"):
            yield self._form

    async def _try(self) -> None:
        if await self._form.attempt():
            self.dismiss(True)

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        await self._try()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        await self._try()


class NewPassphraseModal(ModalScreen[str | None]):
    """Choose the keystore's one passphrase (first key with a secret)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

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

    def _problem(self) -> str | None:
        first = self.query_one("#first", Input).value
        second = self.query_one("#second", Input).value
        try:
            validate_new_passphrase(first)
        except InputError as exc:
            return str(exc)
        if first != second:
            return "The two passphrases differ."
        return None

    def _submit(self) -> None:
        problem = self._problem()
        if problem:
            self.query_one("#problem", Static).update(problem)
            return
        self.dismiss(self.query_one("#first", Input).value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "first":
            self.query_one("#second", Input).focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
