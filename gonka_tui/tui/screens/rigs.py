"""Rigs: other machines' miner agents, one tab each, with the same view as the Miner screen. A rig is
added by its agent's URL and token; the token is kept sealed in the keystore (core/rigs.py)."""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static, TabbedContent, TabPane

from gonka_tui.core.errors import GonkaError
from gonka_tui.core.rigs import Rig, RigBook, validate_rig_name, validate_token
from gonka_tui.miner.agent_client import DEFAULT_STATUS_PORT, validate_agent_url
from gonka_tui.tui.actions import ActionSpec
from gonka_tui.tui.miner_feed import AgentLink
from gonka_tui.tui.screens.dialogs import ConfirmModal, FormModal
from gonka_tui.tui.screens.miner import AgentScreen, view_actions
from gonka_tui.tui.widgets.miner_view import MinerView

RIGS_ACTIONS = (
    ActionSpec("rigs.add", "a", "add", "Add rig", "Watch another machine's miner agent, by its URL and token"),
    ActionSpec("rigs.remove", "delete", "remove", "Remove", "Stop watching the current rig (asks first)"),
    ActionSpec("rigs.unlock", "u", "unlock", "Unlock", "Unlock the keystore, which keeps the rigs' tokens",
               show=False),
    *view_actions("rigs"),
)

EMPTY = f"""[b]No rigs yet.[/b]

Press [b]a[/b] to watch another machine's miner agent: give it a name, the agent's address and its token.

  address  http://HOST:{DEFAULT_STATUS_PORT} (the agent's --status-port)
  token    the file <home>/miner/token on that machine

The agent listens on 127.0.0.1 only: reach it through an SSH tunnel, e.g.
  ssh -N -L 26681:127.0.0.1:{DEFAULT_STATUS_PORT} user@rig   then add http://127.0.0.1:26681

A second agent on this machine (another --home and --status-port) is added the same way.
The token is kept encrypted in the keystore."""

LOCKED = """[b]The keystore is locked.[/b]

The rigs' tokens are kept in it: press [b]u[/b] to unlock and watch {count}."""


class AddRigModal(FormModal[tuple[str, str, str]]):
    """Name, URL and token of a rig's agent; checked when submitted."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="add-rig"):
            yield Label("Add a rig", classes="dialog-title")
            yield Label("Name")
            yield Input(placeholder="e.g. rig-2", id="rig-name")
            yield Label("Agent address")
            yield Input(f"http://127.0.0.1:{DEFAULT_STATUS_PORT}", id="rig-url")
            yield Label("Token (<home>/miner/token on the rig)")
            yield Input(password=True, id="rig-token")
            yield Static("", id="problem", classes="problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Add", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#rig-name", Input).focus()

    def problem(self) -> str | None:
        try:
            self.result()
        except GonkaError as exc:
            return str(exc)
        return None

    def result(self) -> tuple[str, str, str]:
        return (validate_rig_name(self.query_one("#rig-name", Input).value),
                validate_agent_url(self.query_one("#rig-url", Input).value),
                validate_token(self.query_one("#rig-token", Input).value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.submit()


class RigsScreen(AgentScreen):
    MODE = "rigs"
    ACTIONS = RIGS_ACTIONS
    FEEDS = frozenset()
    HELP = ("Other machines' miner agents, one tab each, with the view of the Miner screen: a adds a rig by "
            "its agent's address and token (kept encrypted in the keystore), Delete removes the current one, "
            "p pauses or resumes it, x stops it. A rig that does not answer keeps its last figures, dimmed.")

    def __init__(self) -> None:
        super().__init__()
        self.rigs: list[Rig] = []
        self._panes: dict[str, str] = {}  # rig name -> its pane's id
        self._generation = 0  # pane ids are new on each rebuild: removed panes may linger a moment
        self._problems: dict[str, str] = {}  # rig name -> why its token did not open

    def compose_body(self) -> ComposeResult:
        with Vertical(id="rigs-body"):
            yield Static("", id="rigs-empty", classes="empty")
            yield TabbedContent(id="rig-tabs")

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.app, "rig_links", self._show_links, init=False)
        self.load()

    def on_screen_resume(self) -> None:
        if self.laid_out:
            self.load()

    # ----- the list -----

    @property
    def book(self) -> RigBook:
        return RigBook(self.app.home.data_dir, self.app.keystore)

    @work(group="rigs-load", exclusive=True, exit_on_error=False)
    async def load(self, select: str | None = None) -> None:
        empty = self.query_one("#rigs-empty", Static)
        try:
            rigs = self.book.list()
        except GonkaError as exc:
            rigs, problem = [], str(exc)
        else:
            problem = ""
        locked = bool(rigs) and not self.app.keystore.unlocked
        addresses, self._problems = {}, {}
        if not locked:
            for rig in rigs:
                try:
                    addresses[rig.name] = self.book.address(rig)
                except GonkaError as exc:
                    self._problems[rig.name] = str(exc)
            self.app.set_watched_rigs(addresses)
        if [r.name for r in rigs] != [r.name for r in self.rigs] or [r.url for r in rigs] != [r.url for r in self.rigs]:
            await self._rebuild(rigs)
        self.rigs = rigs
        tabs = self.query_one("#rig-tabs", TabbedContent)
        if problem:
            empty.update(f"[red]{escape(problem)}[/red]")
        elif locked:
            empty.update(LOCKED.format(count=f"{len(rigs)} rig{'s' if len(rigs) != 1 else ''}"))
        else:
            empty.update(EMPTY)
        empty.display = bool(problem) or locked or not rigs
        tabs.display = bool(rigs) and not locked
        if select in self._panes:
            tabs.active = self._panes[select]
        self._show_links()

    async def _rebuild(self, rigs: list[Rig]) -> None:
        tabs = self.query_one("#rig-tabs", TabbedContent)
        await tabs.clear_panes()
        self._generation += 1
        self._panes = {}
        for i, rig in enumerate(rigs):
            pane_id = f"rig-{self._generation}-{i}"
            self._panes[rig.name] = pane_id
            await tabs.add_pane(TabPane(rig.name, MinerView(local=False), id=pane_id))

    def _show_links(self) -> None:
        if not self.is_current and self.laid_out:
            return  # hidden: load() on resume shows the rigs as they are then
        links = dict(self.app.rig_links)
        for rig in self.rigs:
            pane_id = self._panes.get(rig.name)
            if pane_id is None:
                continue
            try:
                view = self.query_one(f"#{pane_id} MinerView", MinerView)
            except Exception:  # the pane is being rebuilt
                continue
            link = links.get(rig.name, AgentLink(url=rig.url))
            if rig.name in self._problems:
                link = AgentLink(connection="offline", problem=self._problems[rig.name], url=rig.url)
            view.show(link)
        self.update_bindings()

    def on_tabbed_content_tab_activated(self) -> None:
        self.refresh_bindings()

    # ----- the current rig -----

    def current_rig(self) -> str | None:
        tabs = self.query_one("#rig-tabs", TabbedContent)
        active = tabs.active
        return next((name for name, pane in self._panes.items() if pane == active), None)

    def current_view(self) -> MinerView | None:
        name = self.current_rig()
        if name is None:
            return None
        try:
            return self.query_one(f"#{self._panes[name]} MinerView", MinerView)
        except Exception:
            return None

    def control_feed(self):
        name = self.current_rig()
        return self.app.rig_feeds.get(name) if name else None

    def not_running_note(self) -> str:
        name = self.current_rig()
        return f"Rig '{name}' does not answer now." if name else "No rig yet: press a to add one."

    # ----- adding and removing -----

    @work(group="rigs-edit", exclusive=True, exit_on_error=False)
    async def action_add(self) -> None:
        result = await self.app.push_screen_wait(AddRigModal())
        if result is None:
            return
        if not await self.app.ensure_unlocked("Unlock to keep the rig's token in the keystore."):
            return
        name, url, token = result
        self.book.add(name, url, token)
        self.app.notify(f"Added rig '{name}' ({url}).")
        self.load(select=name)

    @work(group="rigs-edit", exclusive=True, exit_on_error=False)
    async def action_remove(self) -> None:
        name = self.current_rig()
        if name is None:
            self.app.notify("No rig to remove.", severity="warning")
            return
        rig = next(r for r in self.rigs if r.name == name)
        body = f"{rig.url}\n\nThe app stops watching it and forgets its token; the agent on the rig keeps running."
        if not await self.app.push_screen_wait(ConfirmModal(f"Remove rig '{name}'?", body, "Remove", danger=True)):
            return
        self.book.remove(name)
        self.app.notify(f"Removed rig '{name}'.")
        self.load()

    @work(group="rigs-edit", exclusive=True, exit_on_error=False)
    async def action_unlock(self) -> None:
        if await self.app.ensure_unlocked("Unlock to watch the rigs: their tokens are kept in the keystore."):
            self.load()
