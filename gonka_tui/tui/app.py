"""The Textual app: modes (screens) grow as features arrive; one place for locking and errors."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import TYPE_CHECKING, Callable, Iterable

from textual import events, work
from textual.app import App, SystemCommand
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen

from gonka_tui.config import DEVNET_URL, Config, Home, NetworkProfile, request_deadline, select_network
from gonka_tui.core import unlock_cache
from gonka_tui.core.errors import GonkaError
from gonka_tui.core.keystore import Keystore
from gonka_tui.tui.actions import APP_ACTIONS, ActionSpec, bindings
from gonka_tui.tui.screens.dialogs import ErrorModal
from gonka_tui.tui.screens.help import HelpModal
from gonka_tui.tui.screens.passphrase import LockScreen, NewPassphraseModal, UnlockModal
from gonka_tui.tui.screens.wallet import WalletScreen

if TYPE_CHECKING:
    from gonka_tui.core.accounts import Balances
    from gonka_tui.core.address_book import AddressBook
    from gonka_tui.core.chain_client import ChainClient

IDLE_CHECK_SECONDS = 5.0
NARROW = 100  # below this width the header says less
DEVNET_HINT = "; is the local network running? start it with `gonka devnet`"

ClientFactory = Callable[[NetworkProfile], "ChainClient"]


# The screens not shown at start are imported when first opened: the first frame stays fast.
def _send_screen() -> Screen:
    from gonka_tui.tui.screens.send import SendScreen

    return SendScreen()


def _history_screen() -> Screen:
    from gonka_tui.tui.screens.history import HistoryScreen

    return HistoryScreen()


def _contacts_screen() -> Screen:
    from gonka_tui.tui.screens.contacts import AddressBookScreen

    return AddressBookScreen()


class GonkaApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "gonka"
    MODES = {"wallet": WalletScreen, "send": _send_screen, "history": _history_screen, "contacts": _contacts_screen}
    DEFAULT_MODE = "wallet"
    BINDINGS = bindings(APP_ACTIONS)
    ENABLE_COMMAND_PALETTE = True

    keys_version: reactive[int] = reactive(0)
    # Bumped when something on chain changed because of us (a send): balances and history reload.
    chain_version: reactive[int] = reactive(0)
    # "connecting", "online" or "offline"; with the latest block height seen.
    connection: reactive[str] = reactive("connecting")
    height: reactive[int | None] = reactive(None)

    def __init__(self, home: Home, config: Config, network: str | None = None, *, node: str | None = None,
                 keystore: Keystore | None = None, clock: Callable[[], float] = time.monotonic,
                 client_factory: ClientFactory | None = None, exit_after_first_frame: bool = False) -> None:
        super().__init__()
        self.home = home
        self.config = config
        self.network = select_network(config, network, node)
        self._request_deadline = request_deadline(config)  # a bad $GONKA_REQUEST_DEADLINE stops here
        self.keystore = keystore or Keystore(home.keystore_dir)
        self.clock = clock
        self.last_activity = clock()
        self._exit_after_first_frame = exit_after_first_frame
        self._client_factory = client_factory
        self._client: ChainClient | None = None
        self._offline_reported = False  # one offline modal until the node answers again
        self._offline_modal: ErrorModal | None = None
        # The account chosen on the Wallet screen: Send and History start from it.
        self.current_account: str | None = None
        self.balances: dict[str, Balances] = {}  # address -> last balances read

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
            return
        self.call_after_refresh(self.poll_chain)  # the first frame does not wait for the network
        self.set_interval(self.network.refresh_seconds, self.poll_chain)

    async def on_unmount(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _try_remembered_unlock(self) -> None:
        store_id = self.keystore.store_id()
        if self.config.remember_unlock and store_id:
            key = unlock_cache.recall(store_id)
            if key and self.keystore.unlock_with_key(key):
                self._show_keystore_notes()

    def _greet_demo(self) -> None:
        # scripts/run's demo home keeps its generated passphrase beside the keystore.
        demo = self.home.data_dir / "demo-passphrase.txt"
        if demo.is_file():
            self.notify(f"Demo home. Keystore passphrase: {demo.read_text().strip()}",
                        title="gonka demo", timeout=30)

    def update_status(self) -> None:
        """Header: network, lock state, connection (shorter under 100 columns)."""
        narrow = self.size.width < NARROW
        lock = "unlocked" if self.keystore.unlocked else "locked"
        if self.connection == "online":
            conn = f"online · height {self.height:,}" if self.height else "online"
        else:
            conn = self.connection
        network = self.network.name.replace("via http://", "via ").replace("via https://", "via ")
        if narrow and " via " in network:  # --node: the node says it all
            network = network.split(" via ", 1)[1]
        self.sub_title = f"{network} · {lock if narrow else 'keystore ' + lock} · {conn}"

    def on_resize(self) -> None:
        self.update_status()

    # ----- the network -----

    @property
    def client(self) -> "ChainClient":
        """The one node client of the app, made on first use and closed on exit."""
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory(self.network)
            else:
                from gonka_tui.core.chain_client import ChainClient

                hint = DEVNET_HINT if DEVNET_URL in self.network.nodes else ""
                self._client = ChainClient(self.network.nodes, self.network.chain_id, unreachable_hint=hint,
                                           deadline=self._request_deadline)
        return self._client

    def client_now(self) -> "ChainClient":
        """The client for a request the user asked for: ask the node now, whatever its back-off, and
        not the short read cache."""
        self.client.retry_now()
        self.client.invalidate()
        return self.client

    @property
    def address_book(self) -> "AddressBook":
        from gonka_tui.core.address_book import AddressBook

        return AddressBook(self.home.address_book_file)

    def watch_connection(self) -> None:
        self.update_status()

    def watch_height(self) -> None:
        self.update_status()

    def note_online(self, height: int | None = None) -> None:
        self._offline_reported = False
        self.connection = "online"
        if height is not None:
            self.height = height

    def note_offline(self) -> None:
        self.connection = "offline"

    @work(group="chain-status", exclusive=True, exit_on_error=False)
    async def poll_chain(self) -> None:
        """The header's connection state and height (errors only change the state, never a modal)."""
        self.client.retry_now()
        try:
            status = await self.client.status()
        except GonkaError:
            self.note_offline()
        else:
            self.note_online(status.height)

    def network_error(self, error: BaseException, retry: Callable[[], object] | None = None, *,
                      user_initiated: bool = False) -> None:
        """A read from the node failed. One modal (with Retry) while the node stays unreachable: more
        failures of automatic refreshes say nothing; a refresh the user asked for shows it again."""
        from gonka_tui.core.chain_client import NodeUnreachable

        if not isinstance(error, NodeUnreachable):
            self.show_error(error, retry)
            return
        self.note_offline()
        if self._offline_modal is not None or (self._offline_reported and not user_initiated):
            return
        self._offline_reported = True

        def done(again: bool | None) -> None:
            self._offline_modal = None
            if again and retry:
                self.call_after_refresh(retry)  # once this modal is gone: a failing retry shows a new one

        hint = "" if "gonka devnet" in str(error) else (
            "\n\nIs the node running and the address right? It comes from --node, GONKA_NODE or the network in "
            "config.toml; `gonka devnet` runs a local one.")
        self._offline_modal = ErrorModal(
            "Node unreachable", f"{error}{hint}\n\nRetry when the node is back; balances and history also "
            "refresh by themselves once it answers.", retry=retry is not None)
        self.push_screen(self._offline_modal, done)

    # ----- navigation -----

    def action_goto(self, mode: str) -> None:
        if isinstance(self.screen, (LockScreen, ModalScreen)):
            self.bell()  # a dialog is open (or the app is locked): it comes first
            return
        if self.current_mode != mode:
            self.switch_mode(mode)

    async def open_send(self, from_name: str | None = None, to: str | None = None) -> None:
        """The Send screen, with the sender and/or recipient filled in."""
        if isinstance(self.screen, LockScreen):
            return
        if from_name:
            self.current_account = from_name
        if self.current_mode != "send":
            await self.switch_mode("send")
        prefill = getattr(self.screen, "prefill", None)
        if prefill is not None:
            prefill(from_name=from_name, to=to)

    async def open_history(self, name: str | None = None) -> None:
        if isinstance(self.screen, LockScreen):
            return
        if name:
            self.current_account = name
        if self.current_mode != "history":
            await self.switch_mode("history")
        choose = getattr(self.screen, "choose", None)
        if choose is not None and name:
            choose(name)

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
        self._show_keystore_notes()

    def _show_keystore_notes(self) -> None:
        """What the unlock did (a format upgrade) or found (a refused file)."""
        for note in self.keystore.take_notes():
            self.notify(note, title="Keystore", timeout=20)

    async def ensure_unlocked(self, reason: str) -> bool:
        """Unlock (or give the keystore its first passphrase); False if the user cancelled."""
        ks = self.keystore
        if ks.unlocked:
            return True
        if not ks.initialized and not ks.has_secrets():
            passphrase = await self.push_screen_wait(NewPassphraseModal())
            if passphrase is None:
                return False
            # create_or_unlock: if another process just gave it a passphrase, this must be that one
            await asyncio.to_thread(ks.create_or_unlock, passphrase)
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
                self.call_after_refresh(retry)

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
