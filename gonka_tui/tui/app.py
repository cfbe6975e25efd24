"""The Textual app: modes (screens) grow as features arrive; one place for locking and errors."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import TYPE_CHECKING, Callable, Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen

from gonka_tui.assets import asset_path
from gonka_tui.config import Config, Home
from gonka_tui.core.account_list import AccountList
from gonka_tui.core.chain_snapshot import ChainSnapshot
from gonka_tui.core.errors import GonkaError, KeystoreError
from gonka_tui.core.keystore import Keystore
from gonka_tui.core.session import ClientFactory, Session
from gonka_tui.core.transfer import SentTransfer
from gonka_tui.tui import registry
from gonka_tui.tui.actions import APP_ACTIONS, ActionSpec, bindings
from gonka_tui.tui.errors import ErrorsAsModals
from gonka_tui.tui.feeds import ChainFeed
from gonka_tui.tui.miner_feed import AgentLink, MinerFeed, RigFeed
from gonka_tui.tui.messages import TransferSent
from gonka_tui.tui.screens.base import NARROW, GonkaScreen
from gonka_tui.tui.screens.dialogs import ErrorModal
from gonka_tui.tui.screens.help import HelpModal
from gonka_tui.tui.screens.passphrase import LockScreen, NewPassphraseModal, UnlockModal

if TYPE_CHECKING:
    from textual.worker import Worker

    from gonka_tui.core.accounts import Balances
    from gonka_tui.core.address_book import AddressBook
    from gonka_tui.core.chain_client import ChainClient
    from gonka_tui.miner.agent_client import AgentAddress

IDLE_CHECK_SECONDS = 5.0


class GonkaApp(ErrorsAsModals, App):
    CSS_PATH = asset_path("app.tcss")
    TITLE = "gonka"
    MODES = registry.modes()
    DEFAULT_MODE = "wallet"
    BINDINGS = bindings(APP_ACTIONS)
    ENABLE_COMMAND_PALETTE = True

    # The state screens watch, each an immutable snapshot. init=False: a watcher runs on a change,
    # never when the value is first read.
    # The keystore's accounts as last read (set again when this app or, seen on a screen's return,
    # another process changed them).
    accounts: reactive[AccountList] = reactive(AccountList(()), init=False)
    # The latest transfer of ours the network took: balances, history and recent recipients follow it.
    sent: reactive[SentTransfer | None] = reactive(None, init=False)
    # "connecting", "online" or "offline"; with the latest block height seen.
    connection: reactive[str] = reactive("connecting", init=False)
    height: reactive[int | None] = reactive(None, init=False)
    # The chain feed's latest read; `balances` and `balance_errors` hold the last known of each address.
    chain: reactive[ChainSnapshot | None] = reactive(None, init=False)
    # This home's miner agent (MinerFeed): its last status and whether it answers now.
    miner: reactive[AgentLink] = reactive(AgentLink(), init=False)
    # The watched rigs' agents (RigFeed), by rig name: ((name, AgentLink), ...), replaced on each change.
    rig_links: reactive[tuple[tuple[str, AgentLink], ...]] = reactive((), init=False)

    def __init__(self, home: Home, config: Config, network: str | None = None, *, node: str | None = None,
                 keystore: Keystore | None = None, clock: Callable[[], float] = time.monotonic,
                 client_factory: ClientFactory | None = None, exit_after_first_frame: bool = False,
                 agent_transport=None, miner_feed: MinerFeed | None = None, start_mode: str | None = None,
                 inference_opener=None) -> None:
        super().__init__()
        self._network_arg, self._node_arg = network, node  # what a miner agent started from here is given
        self.session = Session(home, config, network=network, node=node, keystore=keystore,
                               client_factory=client_factory)
        _ = self.session.network, self.session.deadline  # a bad network or $GONKA_REQUEST_DEADLINE stops here
        self.clock = clock
        self.last_activity = clock()
        self._exit_after_first_frame = exit_after_first_frame
        self._offline_reported = False  # one offline modal until the node answers again
        self._offline_modal: ErrorModal | None = None
        # The account chosen on the Wallet screen: Send and History start from it.
        self.current_account: str | None = None
        self.balances: dict[str, Balances] = {}  # address -> last balances read
        self.balance_errors: dict[str, str] = {}  # address -> why its last read failed
        self.set_reactive(GonkaApp.accounts, self.session.accounts())
        self.chain_feed = ChainFeed(self.network.refresh_seconds, self._feed_client,
                                    lambda: [r.address for r in self.accounts.records])
        # Miner agents: this home's, and the rigs the Rigs screen watches. `agent_transport` is for tests.
        self.wall_clock: Callable[[], float] = time.time  # "disconnected since" times
        self.agent_transport = agent_transport
        # A replay (`gonka miner replay`) gives its own feed, read as this home's agent.
        self.miner_feed = miner_feed or MinerFeed(home.data_dir, transport=agent_transport)
        self._start_mode = start_mode
        # How the Inference screen opens its client (core.inference.open_inference when None); for tests.
        self.inference_opener = inference_opener
        self.rig_feeds: dict[str, RigFeed] = {}

    # ----- start-up -----

    def on_mount(self) -> None:
        if self.config.theme in self.available_themes:
            self.theme = self.config.theme
        if self.config.keys:
            self.set_keymap(self.config.keys)
        if self.session.try_remembered_unlock():
            self._show_keystore_notes()
        self.update_status()
        self._greet_demo()
        self.set_interval(IDLE_CHECK_SECONDS, self.check_auto_lock)
        if self._exit_after_first_frame:
            self.call_after_refresh(self.exit)
            return
        self.chain_feed.start(self)  # the first frame does not wait for the network
        if self._start_mode:
            self.switch_mode(self._start_mode)
        if self.miner_feed.replay:
            self.notify(f"Playing this home's miner recording back ({self.miner_feed.label}); p pauses it.",
                        title="Replay", timeout=8)
        self.miner_feed.start(self)  # no agent: a stat of agent.json now and then, no HTTP

    async def on_unmount(self) -> None:
        self.chain_feed.stop()
        for feed in (self.miner_feed, *self.rig_feeds.values()):
            await feed.aclose()
        await self.session.aclose()

    # What the screens use, all held by the session.
    home = property(lambda self: self.session.home)
    config = property(lambda self: self.session.config)
    network = property(lambda self: self.session.network)
    keystore = property(lambda self: self.session.keystore)

    def _greet_demo(self) -> None:
        # scripts/run's demo home keeps its generated passphrase beside the keystore.
        demo = self.home.data_dir / "demo-passphrase.txt"
        if demo.is_file():
            broker = self.home.data_dir / "demo-broker-key.txt"
            self.notify(f"Demo home. Keystore passphrase: {demo.read_text().strip()}"
                        + (f"\nBroker 'devnet' (F9, b): API key {broker.read_text().strip()}" if broker.is_file() else ""),
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
        return self.session.client

    def client_now(self) -> "ChainClient":
        return self.session.client_now()

    @property
    def address_book(self) -> "AddressBook":
        return self.session.address_book

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

    # ----- the chain feed -----

    def _feed_client(self, user_initiated: bool) -> "ChainClient":
        if user_initiated:
            return self.client_now()
        self.client.retry_now()  # each read asks the node again, whatever its back-off
        return self.client

    def poll_chain(self) -> "Worker | None":
        """Read the chain now: the header's height and the accounts' balances."""
        return self.chain_feed.refresh()

    def on_chain_feed_updated(self, message: ChainFeed.Updated) -> None:
        snapshot = message.snapshot
        with self.batch_update():
            for address in snapshot.balances:
                self.balance_errors.pop(address, None)
            self.balances.update(snapshot.balances)
            self.balance_errors.update(snapshot.errors)
            self.note_online(snapshot.height)
            self.chain = snapshot

    def on_chain_feed_disconnected(self, message: ChainFeed.Disconnected) -> None:
        """Offline. The modal comes only for balances the user looks at (or asked for), never for
        the header alone."""
        self.note_offline()
        screen = self.screen
        watching = isinstance(screen, GonkaScreen) and ChainFeed.NAME in screen.FEEDS
        if (message.user_initiated or watching) and self.keystore.list():
            self.network_error(message.error, lambda: self.chain_feed.refresh(user_initiated=True),
                               user_initiated=message.user_initiated)

    def network_error(self, error: BaseException, retry: Callable[[], object] | None = None, *,
                      user_initiated: bool = False) -> None:
        """A read from the node failed. One modal (with Retry) while the node stays unreachable: more
        failures of automatic refreshes say nothing; a refresh the user asked for shows it again."""
        from gonka_tui.core.errors import NodeUnreachable

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

        hint = "" if error.hint else (
            "\n\nIs the node running and the address right? It comes from --node, GONKA_NODE or the network in "
            "config.toml; `gonka devnet` runs a local one.")
        self._offline_modal = ErrorModal(
            "Node unreachable", f"{error}{hint}\n\nRetry when the node is back; balances and history also "
            "refresh by themselves once it answers.", retry=retry is not None)
        self.push_screen(self._offline_modal, done)

    # ----- miner agents -----

    def on_miner_feed_updated(self, message: MinerFeed.Updated) -> None:
        address = self.miner_feed.address
        self.miner = self.miner.updated(message.snapshot, address.url if address else "")

    def on_miner_feed_disconnected(self, message: MinerFeed.Disconnected) -> None:
        self.miner = self.miner.lost(message.error, self.wall_clock())

    def _set_rig_link(self, rig: str, change: Callable[[AgentLink], AgentLink]) -> None:
        links = dict(self.rig_links)
        if rig not in self.rig_feeds:  # removed meanwhile
            return
        links[rig] = change(links.get(rig, AgentLink()))
        self.rig_links = tuple(links.items())

    def on_rig_feed_updated(self, message: RigFeed.Updated) -> None:
        feed = self.rig_feeds.get(message.rig)
        url = feed.address.url if feed is not None and feed.address else ""
        self._set_rig_link(message.rig, lambda link: link.updated(message.snapshot, url))

    def on_rig_feed_disconnected(self, message: RigFeed.Disconnected) -> None:
        self._set_rig_link(message.rig, lambda link: link.lost(message.error, self.wall_clock()))

    def set_watched_rigs(self, addresses: dict[str, "AgentAddress"]) -> None:
        """Watch exactly these rigs' agents: new ones start reading, removed or changed ones stop."""
        links = dict(self.rig_links)
        for name, feed in list(self.rig_feeds.items()):
            if addresses.get(name) != feed.target:
                del self.rig_feeds[name]
                links.pop(name, None)
                self.run_worker(feed.aclose(), exit_on_error=False)
        for name, address in addresses.items():
            if name not in self.rig_feeds:
                feed = self.rig_feeds[name] = RigFeed(name, address, transport=self.agent_transport)
                links[name] = AgentLink(url=address.url)
                feed.start(self)
        self.rig_links = tuple(links.items())

    async def start_miner(self, key_name: str) -> None:
        """Start this home's miner agent for `key_name` (the keystore unlocked): it runs detached, on
        after the app exits; the feed finds it. GonkaError with one line when it cannot start."""
        key = self.keystore.master_key()
        if key is None:
            raise KeystoreError("the keystore is not unlocked (or opened for reading only): the agent needs it "
                                "to sign its work")
        try:
            from gonka_tui.miner.launch import start_local_agent
        except ModuleNotFoundError as exc:
            if exc.name != "gonka_tui.miner.launch":
                raise
            raise GonkaError("this version cannot start the miner agent from the app: run "
                             f"`gonka miner run --key {key_name}` in a terminal") from None
        await asyncio.to_thread(start_local_agent, self.home.data_dir, key_name, key, self._network_arg,
                                self._node_arg)
        self.miner_feed.refresh()

    # ----- navigation -----

    def action_goto(self, mode: str) -> None:
        if isinstance(self.screen, (LockScreen, ModalScreen)):
            self.bell()  # a dialog is open (or the app is locked): it comes first
            return
        if self.current_mode != mode:
            self.switch_mode(mode)

    async def open_screen(self, mode: str, from_name: str | None = None, to: str | None = None) -> None:
        """A screen of the registry, opened for an account (and a recipient): see GonkaScreen.prefill."""
        if isinstance(self.screen, LockScreen):
            return
        if from_name:
            self.current_account = from_name
        if self.current_mode != mode:
            await self.switch_mode(mode)
        if isinstance(self.screen, GonkaScreen):
            self.screen.prefill(from_name=from_name, to=to)

    async def open_send(self, from_name: str | None = None, to: str | None = None) -> None:
        """The Send screen, with the sender and/or recipient filled in."""
        await self.open_screen("send", from_name, to)

    async def open_history(self, name: str | None = None) -> None:
        await self.open_screen("history", name)

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
            self.push_screen(LockScreen(self.session), lambda _: self._unlocked())

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
            await asyncio.to_thread(self.session.create_or_unlock, passphrase)
        elif not await self.push_screen_wait(UnlockModal(self.session, reason)):
            return False
        self._unlocked()
        return True

    # ----- keys changed, help, palette -----

    def keys_changed(self, message: str | None = None) -> None:
        """This app changed the keystore: screens get the new accounts, the feed their balances."""
        if self.reload_accounts():
            self.chain_feed.refresh()
        if message:
            self.notify(message)

    def reload_accounts(self) -> bool:
        """Read the keystore's accounts again; True (and watchers run) if they changed."""
        accounts = self.session.accounts()
        if accounts == self.accounts:
            return False
        self.accounts = accounts
        return True

    def on_transfer_sent(self, message: TransferSent) -> None:
        sent = message.sent
        self.note_online(sent.result.height)
        try:
            self.address_book.record_use(sent.plan.to_address)
        except GonkaError:
            pass  # a damaged address book must not hide a successful send
        self.client.invalidate()
        self.chain_feed.refresh()
        self.sent = sent

    def key_for(self, spec: ActionSpec) -> str:
        return self.config.keys.get(spec.id, spec.key)

    def _screen_actions(self, screen: Screen) -> tuple[ActionSpec, ...]:
        return screen.ACTIONS if isinstance(screen, GonkaScreen) else ()

    def action_help(self) -> None:
        screen = self.screen
        rows = [(self.key_for(s), s) for s in (*self._screen_actions(screen), *APP_ACTIONS)]
        about = (screen.HELP if isinstance(screen, GonkaScreen) else "") or "gonka: wallet, miner and inference for the Gonka network."
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
