"""The Textual app: modes (screens) grow as features arrive; one place for locking and errors."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Callable, Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.reactive import reactive
from textual.screen import Screen

from gonka_tui.config import Config, Home
from gonka_tui.core import unlock_cache
from gonka_tui.core.errors import GonkaError
from gonka_tui.core.keystore import Keystore
from gonka_tui.tui.actions import APP_ACTIONS, ActionSpec, bindings
from gonka_tui.tui.screens.dialogs import ErrorModal
from gonka_tui.tui.screens.help import HelpModal
from gonka_tui.tui.screens.passphrase import LockScreen, NewPassphraseModal, UnlockModal
from gonka_tui.tui.screens.wallet import WalletScreen

IDLE_CHECK_SECONDS = 5.0


class GonkaApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "gonka"
    MODES = {"wallet": WalletScreen}
    DEFAULT_MODE = "wallet"
    BINDINGS = bindings(APP_ACTIONS)
    ENABLE_COMMAND_PALETTE = True

    keys_version: reactive[int] = reactive(0)

    def __init__(self, home: Home, config: Config, network: str | None = None, *,
                 keystore: Keystore | None = None, clock: Callable[[], float] = time.monotonic,
                 exit_after_first_frame: bool = False) -> None:
        super().__init__()
        self.home = home
        self.config = config
        self.network = config.network(network)
        self.keystore = keystore or Keystore(home.keystore_dir)
        self.clock = clock
        self.last_activity = clock()
        self._exit_after_first_frame = exit_after_first_frame

    # ----- start-up -----

    def on_mount(self) -> None:
        if self.config.theme in self.available_themes:
            self.theme = self.config.theme
        if self.config.keys:
            self.set_keymap(self.config.keys)
        self._try_remembered_unlock()
        self.update_status()
        self._greet_demo()
        self.set_interval(IDLE_CHECK_SECONDS, self.check_auto_lock)
        if self._exit_after_first_frame:
            self.call_after_refresh(self.exit)

    def _try_remembered_unlock(self) -> None:
        store_id = self.keystore.store_id()
        if self.config.remember_unlock and store_id:
            key = unlock_cache.recall(store_id)
            if key:
                self.keystore.unlock_with_key(key)

    def _greet_demo(self) -> None:
        # scripts/run's demo home keeps its generated passphrase beside the keystore.
        demo = self.home.data_dir / "demo-passphrase.txt"
        if demo.is_file():
            self.notify(f"Demo home. Keystore passphrase: {demo.read_text().strip()}",
                        title="gonka demo", timeout=30)

    def update_status(self) -> None:
        lock = "unlocked" if self.keystore.unlocked else "locked"
        self.sub_title = f"{self.network.name} · keystore {lock}"

    # ----- activity and auto-lock -----

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp, events.Paste)):
            self.last_activity = self.clock()
        await super().on_event(event)

    def check_auto_lock(self) -> None:
        minutes = self.config.auto_lock_minutes
        if minutes and self.keystore.unlocked and self.clock() - self.last_activity >= minutes * 60:
            self.action_lock()

    def action_lock(self) -> None:
        if not self.keystore.initialized and not self.keystore.has_secrets():
            self.notify("Nothing to lock yet: no key with a secret is stored.")
            return
        self.keystore.lock()
        self.update_status()
        if not isinstance(self.screen, LockScreen):
            self.push_screen(LockScreen(self.keystore), lambda _: self._unlocked())

    def _unlocked(self) -> None:
        self.last_activity = self.clock()
        self.update_status()

    async def ensure_unlocked(self, reason: str) -> bool:
        """Unlock (or give the keystore its first passphrase); False if the user cancelled."""
        ks = self.keystore
        if ks.unlocked:
            return True
        if not ks.initialized and not ks.has_secrets():
            passphrase = await self.push_screen_wait(NewPassphraseModal())
            if passphrase is None:
                return False
            await asyncio.to_thread(ks.initialize, passphrase)
        elif not await self.push_screen_wait(UnlockModal(ks, reason)):
            return False
        self._unlocked()
        return True

    # ----- keys changed, help, palette -----

    def keys_changed(self, message: str | None = None) -> None:
        self.keys_version += 1
        if message:
            self.notify(message)

    def key_for(self, spec: ActionSpec) -> str:
        return self.config.keys.get(spec.id, spec.key)

    def _screen_actions(self, screen: Screen) -> tuple[ActionSpec, ...]:
        return tuple(getattr(screen, "ACTIONS", ()))

    def action_help(self) -> None:
        screen = self.screen
        rows = [(self.key_for(s), s) for s in (*self._screen_actions(screen), *APP_ACTIONS)]
        about = getattr(screen, "HELP", "") or "gonka: wallet, miner and inference for the Gonka network."
        self.push_screen(HelpModal(type(screen).__name__.removesuffix("Screen"), about, rows))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for spec in self._screen_actions(screen):
            if spec.palette:
                yield SystemCommand(spec.label, spec.help, partial(screen.run_action, spec.action))
        for spec in APP_ACTIONS:
            if spec.palette:
                yield SystemCommand(spec.label, spec.help, partial(self.run_action, spec.action))
        yield from super().get_system_commands(screen)

    # ----- errors -----

    def show_error(self, error: BaseException | None, retry: Callable[[], object] | None = None) -> None:
        if isinstance(error, GonkaError):
            title, message = "Could not finish", str(error)
        else:  # not a message meant for users: name the kind, never the values
            title, message = "Unexpected error", (
                f"{type(error).__name__} — nothing further was changed. Run `gonka --debug` to see details.")

        def done(again: bool | None) -> None:
            if again and retry:
                retry()

        self.push_screen(ErrorModal(title, message, retry=retry is not None), done)

    def _fatal_error(self) -> None:
        # Textual's default traceback shows local variables, which may hold a secret.
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(Segments(self.console.render(traceback, self.console.options)))
        self._close_messages_no_wait()
