"""Miner: this home's miner agent, live — start, pause or resume, stop; its rounds, devices, work,
earnings and log (the view is widgets/miner_view.py; the app's MinerFeed reads the agent)."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from gonka_tui.core.account_list import AccountList, AccountPick
from gonka_tui.core.address import short_address
from gonka_tui.tui.actions import ActionSpec
from gonka_tui.tui.miner_feed import AgentLink
from gonka_tui.tui.screens.base import GonkaScreen
from gonka_tui.tui.screens.dialogs import ConfirmModal
from gonka_tui.tui.widgets.miner_view import MinerView

# The keys every screen with a MinerView has; p and l each show the label of what they would do now.
VIEW_ACTIONS = (
    ActionSpec("{0}.pause", "p", "pause", "Pause", "Pause mining: the kernels stop, the agent keeps running"),
    ActionSpec("{0}.resume", "p", "resume", "Resume", "Resume mining where it paused"),
    ActionSpec("{0}.stop", "x", "stop", "Stop", "Stop the miner agent (asks first)"),
    ActionSpec("{0}.log_pause", "l", "log_pause", "Pause log", "Stop scrolling: new log lines wait until l again"),
    ActionSpec("{0}.log_follow", "l", "log_follow", "Follow log", "Show the log lines that waited, and follow again"),
    ActionSpec("{0}.find", "slash", "find", "Filter log", "Filter the log: only lines that contain the text"),
)


def view_actions(prefix: str) -> tuple[ActionSpec, ...]:
    return tuple(ActionSpec(s.id.format(prefix), s.key, s.action, s.label, s.help) for s in VIEW_ACTIONS)


MINER_ACTIONS = (
    ActionSpec("miner.start", "s", "start", "Start", "Start mining on this machine with one of your accounts"),
    *view_actions("miner"),
)


class AccountChoice(ModalScreen[str | None]):
    """Which account mines: Enter picks, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, accounts: AccountList, default: str | None) -> None:
        super().__init__()
        self.accounts, self.default = accounts, default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="miner-account"):
            yield Label("Mine with which account?", classes="dialog-title")
            yield Static("The agent signs its work and claims the rewards with this account's key.",
                         classes="dialog-body")
            options = [Option(Text.assemble((f"{r.name:<16} ", "bold"), short_address(r.address, 10)), id=r.name)
                       for r in self.accounts.records]
            yield OptionList(*options, id="miner-accounts")
            yield Static("Enter picks · Esc cancels", classes="muted")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.default in self.accounts.names:
            options.highlighted = self.accounts.names.index(self.default)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AgentScreen(GonkaScreen):
    """A screen that shows MinerViews and acts on the agent of the current one."""

    AUTO_FOCUS = None  # the keys act on the agent; / goes to the log filter

    def current_view(self) -> MinerView | None:
        raise NotImplementedError

    def current_link(self) -> AgentLink:
        view = self.current_view()
        return view.link if view is not None else AgentLink()

    def control_feed(self):
        """The feed (and so the client) of the current view's agent."""
        raise NotImplementedError

    def _bindings_state(self) -> tuple:
        """What check_action depends on."""
        link, view = self.current_link(), self.current_view()
        return (link.status is None, link.status is not None and link.status.state == "paused", link.connection,
                view is not None and view.log_paused)

    def update_bindings(self) -> None:
        """Refresh the footer only when what it offers changed: a refresh rebuilds the footer's keys,
        and doing that on every status (once a second) cost the app ~7 % of a core."""
        state = self._bindings_state()
        if state != getattr(self, "_shown_bindings", None):
            self._shown_bindings = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        link, view = self.current_link(), self.current_view()
        if action in ("pause", "resume", "stop", "log_pause", "log_follow", "find") and link.status is None:
            return False  # nothing to act on or read yet: the footer shows what can be done
        paused = link.status is not None and link.status.state == "paused" and link.connection == "online"
        if action == "pause":
            return not paused
        if action == "resume":
            return paused
        if action in ("log_pause", "log_follow"):
            return (view is not None and view.log_paused) == (action == "log_follow")
        return True

    def _agent_answers(self) -> bool:
        link = self.current_link()
        if link.connection == "online" and link.status is not None and link.status.state != "stopped":
            return True
        self.app.notify(self.not_running_note(), severity="warning")
        return False

    def not_running_note(self) -> str:
        return "The agent does not answer now."

    def action_pause(self) -> None:
        if self._agent_answers():
            self.control("pause")

    def action_resume(self) -> None:
        if self._agent_answers():
            self.control("resume")

    @work(group="agent-stop", exclusive=True, exit_on_error=False)
    async def action_stop(self) -> None:
        if not self._agent_answers():
            return
        body = ("The agent stops its kernels and exits; what it earned so far stays yours.\n\n"
                "To pause instead (the agent keeps running and resumes at once), press p.")
        if await self.app.push_screen_wait(ConfirmModal("Stop the miner?", body, "Stop", danger=True)):
            self.control("stop")

    @work(group="agent-control", exclusive=True, exit_on_error=False)
    async def control(self, action: str) -> None:
        feed = self.control_feed()
        if feed is None:
            return
        await feed.control(action)
        self.app.notify({"pause": "Mining paused.", "resume": "Mining resumed.",
                         "stop": "The miner agent is stopping."}[action])

    def action_log_pause(self) -> None:
        self._toggle_log()

    def action_log_follow(self) -> None:
        self._toggle_log()

    def _toggle_log(self) -> None:
        view = self.current_view()
        if view is not None:
            view.toggle_log_pause()
        self.refresh_bindings()

    def action_find(self) -> None:
        view = self.current_view()
        if view is not None:
            view.focus_filter()

    @on(Input.Submitted)
    def _filter_done(self) -> None:
        self.set_focus(None)  # Enter keeps the filter and gives the keys back to the screen

    def on_mount(self) -> None:
        for table in self.query(DataTable):
            table.can_focus = False


class MinerScreen(AgentScreen):
    MODE = "miner"
    ACTIONS = MINER_ACTIONS
    HELP = ("This machine's miner agent, live: s starts it with one of your accounts (it runs on when the app "
            "closes), p pauses or resumes, x stops it. Each PoC round of the network it computes nonces on "
            "every device and submits them; the chain weighs the valid ones and pays by weight. The lines "
            "show the round and its countdown, throughput over the last minutes and hours (current, and % of "
            "the best 10 s), each device (n/a: not readable here, the reason below the table), batches, "
            "weight, earnings and the agent's log (l pauses it, / filters it).")

    def compose_body(self) -> ComposeResult:
        yield MinerView(local=True, id="miner-view")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("start", "stop") and self.app.miner_feed.replay:
            return False  # a replay: there is no agent to start or stop
        return super().check_action(action, parameters)

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.app, "miner", self._show, init=False)
        self._show(self.app.miner)

    def on_screen_resume(self) -> None:
        if self.laid_out:
            self._show(self.app.miner)  # what came while another screen was shown
            self.app.miner_feed.refresh()

    def _show(self, link: AgentLink) -> None:
        if not self.is_current and self.laid_out:
            return  # hidden: shown again on resume, not redrawn each second meanwhile
        with self.app.batch_update():  # one repaint for the whole status, not one per widget
            self.query_one(MinerView).show(link)
            self.update_bindings()

    def current_view(self) -> MinerView | None:
        return self.query_one(MinerView)

    def control_feed(self):
        return self.app.miner_feed

    def not_running_note(self) -> str:
        return "No miner is running for this home: press s to start it."

    @work(group="miner-start", exclusive=True, exit_on_error=False)
    async def action_start(self) -> None:
        link = self.app.miner
        if link.connection == "online" and link.status is not None and link.status.state != "stopped":
            self.app.notify("The miner already runs for this home: p pauses it, x stops it.")
            return
        accounts = self.app.session.accounts(can_send=True)
        if not accounts.records:
            self.app.notify("No account with a key on this machine: press F2, then create, recover or import one.",
                            severity="warning")
            return
        if len(accounts.records) == 1:
            name = accounts.names[0]
        else:
            default = AccountPick().choose(accounts.names, None, self.app.current_account, self.app.config.default_key)
            name = await self.app.push_screen_wait(AccountChoice(accounts, default))
            if name is None:
                return
        if not await self.app.ensure_unlocked(f"Unlock to start mining: the agent signs its work with '{name}'."):
            return
        self.app.notify(f"Starting the miner with '{name}'…")
        await self.app.start_miner(name)
