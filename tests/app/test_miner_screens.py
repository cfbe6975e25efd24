"""The Miner and Rigs screens against fake miner agents: an httpx.MockTransport that serves a scripted
AgentStatus on /v1/miner/status and counts pause/resume/stop, each behind its bearer token (as the
real agent's API does). This home's agent is found as the app finds it: <home>/miner/agent.json with
a live pid (this test's) and the token file."""

from __future__ import annotations

import json
import math
import os
import sys
import types
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from textual.widgets import DataTable, Input, TabbedContent

from gonka_tui.config import load_config, resolve_home
from gonka_tui.core.keys import parse_private_key_hex
from gonka_tui.miner.status import AgentStatus, DeviceStatus, LogLine, Throughput
from gonka_tui.tui.app import GonkaApp
from gonka_tui.tui.screens.dialogs import ConfirmModal
from gonka_tui.tui.widgets.miner_view import MinerView
from tests.conftest import ABANDON, ABANDON_1200, HEX_KEY, LEGAL, PASSPHRASE
from tests.fake_node import FakeNode
from tests.tui_helpers import FakeClock, keystore, wait_for, wait_screen

LOCAL_URL = "http://127.0.0.1:26680"
RIG_URL = "http://10.0.0.7:26680"
RIG2_URL = "http://127.0.0.1:26681"
TOKEN = "local-token-3f9a1c"
RIG_TOKEN = "rig-token-77d2e0b5c4"
T0 = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC: log times
GNK = 10**9
OTHER = "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak"  # an account of the rig, not of this keystore


def status(**changes) -> AgentStatus:
    """A mining agent with one GPU (every figure known) and the CPU (no temperature, power or fan)."""
    gpu = DeviceStatus(name="cuda:0", pid=4242, state="generating", restarts=0, nonces_per_second=1480.0,
                       utilization_percent=97.0, temperature_c=71.0, power_w=286.0, fan_percent=64.0,
                       memory_used_bytes=21 * 2**30, memory_total_bytes=80 * 2**30, nonces_per_joule=5.17)
    cpu = DeviceStatus(name="cpu", pid=4243, state="generating", restarts=1, nonces_per_second=12.5,
                       last_failure="kernel exited (SIGKILL) at 07:01:12", utilization_percent=88.0,
                       memory_used_bytes=2 * 2**30, memory_total_bytes=16 * 2**30,
                       unavailable={"temperature_c": "no sensor readable", "fan_percent": "no sensor readable",
                                    "power_w": "powercap energy_uj is root-only",
                                    "nonces_per_joule": "power unknown"})
    base = AgentStatus(
        state="mining", account=ABANDON_1200, epoch=42, phase="PoCGenerate", block_height=12_345,
        phase_ends_in_seconds=83.0, next_poc_start=12_400, weight=48_210, earned_ngonka=str(12_500_000_000),
        estimate_per_day_ngonka=str(3_200_000_000), batches_accepted=118, batches_rejected=2, batches_queued=1,
        nonces_submitted=48_210, uptime_seconds=3_725.0, restarts=1, devices=(gpu, cpu),
        throughput=Throughput(s10=1492.5, s60=1470.0, m15=1388.0, max=1520.0),
        # The last 2 minutes: the round's start-up, then steady; the last hours: rounds and the gaps between.
        series_short=tuple(min(1.0, i / 12) * (1450.0 + 40 * math.sin(i / 5)) for i in range(120)),
        series_long=tuple(1400.0 + 30 * math.sin(i) if i % 30 < 9 else 0.0 for i in range(180)),
        log=(LogLine(T0, "info", "round 42 started: block hash 3fa1…, r_target 1.4"),
             LogLine(T0 + 3, "info", "batch 1 accepted: 412 nonces"),
             LogLine(T0 + 6, "warning", "node slow to answer; batch 2 queued"),
             LogLine(T0 + 9, "info", "batch 2 accepted: 398 nonces"),
             LogLine(T0 + 12, "error", "cpu kernel exited (SIGKILL); restarting in 0.5 s")),
        version="0.1.0")
    return replace(base, **changes)


class FakeAgent:
    """One agent's API: the status it is given, the controls it was sent (token checked)."""

    def __init__(self, token: str, snapshot: AgentStatus) -> None:
        self.token, self.snapshot = token, snapshot
        self.up = True
        self.controls: list[str] = []
        self.refused = 0  # requests with a wrong or missing token

    def handle(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            self.refused += 1
            return httpx.Response(401, json={"error": "missing or wrong token"})
        path = request.url.path
        if request.method == "GET" and path == "/v1/miner/status":
            return httpx.Response(200, json=self.snapshot.to_json())
        action = path.rsplit("/", 1)[-1]
        if request.method == "POST" and path.startswith("/v1/miner/") and action in ("pause", "resume", "stop"):
            self.controls.append(action)
            self.snapshot = replace(self.snapshot, state={"pause": "paused", "resume": "mining",
                                                          "stop": "stopped"}[action])
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(404, json={"error": "not found"})


class Agents:
    """Routes each request to the fake agent at its URL; nothing listens elsewhere."""

    def __init__(self) -> None:
        self.by_url: dict[str, FakeAgent] = {}

    def add(self, url: str, token: str, snapshot: AgentStatus | None = None) -> FakeAgent:
        agent = self.by_url[url] = FakeAgent(token, snapshot or status())
        return agent

    def handle(self, request: httpx.Request) -> httpx.Response:
        base = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        agent = self.by_url.get(base)
        if agent is None:
            raise httpx.ConnectError("connection refused", request=request)
        return agent.handle(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def announce_local_agent(home: Path, url: str = LOCAL_URL, token: str = TOKEN) -> None:
    """What a running agent leaves for the app: agent.json (its URL and a live pid) and the token."""
    folder = resolve_home(home).miner_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agent.json").write_text(json.dumps({"url": url, "pid": os.getpid()}))
    fd = os.open(folder / "token", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, token.encode())
    os.close(fd)


def fill(home: Path) -> None:
    ks = keystore(home)
    ks.initialize(PASSPHRASE)
    ks.add_mnemonic("main", ABANDON)
    ks.add_mnemonic("savings", LEGAL)
    ks.add_private_key("hot", parse_private_key_hex(HEX_KEY))


def miner_app(home: Path, agents: Agents, *, fast: bool = True) -> GonkaApp:
    h = resolve_home(home)
    app = GonkaApp(h, load_config(h), clock=FakeClock(), client_factory=FakeNode().client,
                   agent_transport=agents.transport)
    app.wall_clock = lambda: T0 + 3600  # "disconnected since 12:06:40" (UTC)
    if fast:  # a lost agent is asked again within 0.1 s, not up to 5 s
        app.miner_feed.interval, app.miner_feed.max_backoff = 0.05, 0.1
    return app


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Times on screen are local: make them the same on every machine."""
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def open_miner(pilot) -> MinerView:
    from gonka_tui.tui.screens.miner import MinerScreen

    await pilot.press("f7")
    screen = await wait_screen(pilot, MinerScreen)
    return screen.query_one(MinerView)


def local_agent_app(home: Path, snapshot: AgentStatus | None = None) -> tuple[GonkaApp, FakeAgent]:
    """The app with this home's agent running (a fake one answering its status)."""
    agents = Agents()
    agent = agents.add(LOCAL_URL, TOKEN, snapshot)
    announce_local_agent(home)
    return miner_app(home, agents), agent


async def open_online_miner(pilot, app: GonkaApp) -> MinerView:
    view = await open_miner(pilot)
    await wait_for(pilot, lambda: app.miner.connection == "online", what="the agent's status")
    return view


def text_of(view: MinerView, selector: str) -> str:
    return str(view.query_one(selector).render())


def cell(table: DataTable, row: str, column: str) -> str:
    return str(table.get_cell(row, column))


async def test_the_miner_screen_shows_the_agents_figures(home):
    fill(home)
    agents = Agents()
    agents.add(LOCAL_URL, TOKEN)
    announce_local_agent(home)
    app = miner_app(home, agents)
    async with app.run_test(size=(160, 48)) as pilot:
        view = await open_online_miner(pilot, app)
        await pilot.pause()
        state = text_of(view, "#mv-state")
        assert "MINING" in state and "main" in state  # the account's name here, not only its address
        assert "epoch 42" in state and "PoC round" in state and "1:23 left" in state and "12,345" in state
        short = text_of(view, "#mv-rate-short")
        assert "current 1,492 nonces/s" in short and "(98% of max 1,520)" in short
        assert "15 min 1,388" in text_of(view, "#mv-rate-long")
        work = text_of(view, "#mv-work")
        assert "118 accepted" in work and "2 rejected" in work and "1 queued" in work
        assert "48,210" in work and "12.5 GNK" in work and "≈ 3.2 GNK/day" in work
        assert "1 h 02 min" in work and "1 restart" in work and "kernel exited (SIGKILL)" in work
        table = view.query_one("#mv-devices", DataTable)
        assert table.row_count == 2
        assert cell(table, "cuda:0", "rate") == "1,480" and cell(table, "cuda:0", "temp") == "71 °C"
        assert cell(table, "cuda:0", "power") == "286 W" and cell(table, "cuda:0", "efficiency") == "5.17"
        assert cell(table, "cuda:0", "memory") == "21.0/80.0 GiB" and cell(table, "cuda:0", "fan") == "64%"
        sparks = [s.data for s in view.query("Sparkline")]
        assert sparks[0] == list(status().series_short) and sparks[1] == list(status().series_long)
        assert view.shown_log_lines()[-1] == "cpu kernel exited (SIGKILL); restarting in 0.5 s"


async def test_a_missing_telemetry_value_shows_n_a_with_the_reason(home):
    agents = Agents()
    # A device that reports nothing but its rate, and one field the agent gives no reason for.
    bare = DeviceStatus(name="cpu", pid=1, state="ready", restarts=0, nonces_per_second=0.0,
                        unavailable={"power_w": "powercap energy_uj is root-only"})
    agents.add(LOCAL_URL, TOKEN, status(devices=(bare,)))
    announce_local_agent(home)
    app = miner_app(home, agents)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_online_miner(pilot, app)
        await pilot.pause()
        table = view.query_one("#mv-devices", DataTable)
        for column in ("util", "temp", "power", "efficiency"):
            assert cell(table, "cpu", column) == "n/a"
        note = text_of(view, "#mv-device-note")
        assert "power — powercap energy_uj is root-only" in note and "not reported" in note
        # Narrow: fewer columns.
        assert "memory" not in [c.value for c in table.columns]


async def test_the_disconnected_state_comes_when_the_agent_stops_answering_and_goes_when_it_returns(home):
    app, agent = local_agent_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_online_miner(pilot, app)
        agent.up = False
        await wait_for(pilot, lambda: view.has_class("-disconnected"), what="the disconnected state")
        notice = text_of(view, "#mv-notice")
        assert "Disconnected since 12:06:40" in notice and "does not answer" in notice
        assert "last known" in notice
        assert "118 accepted" in text_of(view, "#mv-work")  # the last figures stay, dimmed
        agent.up = True
        await wait_for(pilot, lambda: not view.has_class("-disconnected"), what="the agent back")
        assert not view.query_one("#mv-notice").display


async def test_a_refused_token_is_a_disconnected_state_that_says_so(home):
    agents = Agents()
    agent = agents.add(LOCAL_URL, TOKEN)
    announce_local_agent(home, token="stale-token")
    app = miner_app(home, agents)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_miner(pilot)
        await wait_for(pilot, lambda: app.miner.connection == "offline", what="the refusal")
        assert "refused the token" in text_of(view, "#mv-notice") and agent.refused


async def test_pause_resume_and_stop_reach_the_agent(home):
    app, agent = local_agent_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_online_miner(pilot, app)
        await pilot.press("p")
        await wait_for(pilot, lambda: app.miner.status.state == "paused", what="paused")
        assert agent.controls == ["pause"] and "PAUSED" in text_of(view, "#mv-state")
        active = {b.binding.action: b.binding.description for b in app.screen.active_bindings.values()}
        assert active.get("resume") == "Resume" and "pause" not in active  # the footer says what p does now
        await pilot.press("p")
        await wait_for(pilot, lambda: app.miner.status.state == "mining", what="resumed")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the confirmation")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: agent.controls == ["pause", "resume", "stop"], what="stop")
        await wait_for(pilot, lambda: app.miner.status.state == "stopped", what="the stopped agent read")
        assert agent.refused == 0


async def test_stop_asks_first_and_a_cancel_sends_nothing(home):
    app, agent = local_agent_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_miner(pilot)
        await wait_for(pilot, lambda: app.miner.connection == "online", what="the agent's status")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the confirmation")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmModal), what="the modal gone")
        app.miner_feed.refresh()
        await wait_for(pilot, lambda: app.miner.status is not None, what="a read")
        assert agent.controls == []


async def test_the_log_filter_and_pause(home):
    app, agent = local_agent_app(home)
    async with app.run_test(size=(160, 48)) as pilot:
        view = await open_miner(pilot)
        await wait_for(pilot, lambda: len(view.shown_log_lines()) == 5, what="the log")
        await pilot.press("slash", *"accepted")
        await wait_for(pilot, lambda: len(view.shown_log_lines()) == 2, what="the filter")
        assert all("accepted" in line for line in view.shown_log_lines())
        assert "2 of 5 lines match" in text_of(view, "#mv-log-state")
        await pilot.press("enter")  # keeps the filter, gives the keys back
        await pilot.press("l")
        assert view.log_paused
        agent.snapshot = replace(agent.snapshot, log=agent.snapshot.log + (
            LogLine(T0 + 20, "info", "batch 3 accepted: 401 nonces"),))
        await wait_for(pilot, lambda: "1 new" in text_of(view, "#mv-log-state"), what="the held line")
        assert len(view.shown_log_lines()) == 2  # paused: the pane does not move
        await pilot.press("l")
        assert view.shown_log_lines()[-1] == "batch 3 accepted: 401 nonces" and len(view.shown_log_lines()) == 3
        view.query_one("#mv-filter", Input).value = ""
        await wait_for(pilot, lambda: len(view.shown_log_lines()) == 6, what="the whole log")


async def test_no_agent_shows_how_to_start_one(home):
    app = miner_app(home, Agents())
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_miner(pilot)
        await wait_for(pilot, lambda: app.miner.connection == "none", what="no agent")
        notice = text_of(view, "#mv-notice")
        assert "No miner is running for this home" in notice and "gonka miner run --key NAME" in notice
        assert "Press s" in notice and not view.query_one("#mv-live").display
        assert app.miner.problem == "no miner agent is running for this home"


async def test_start_asks_which_account_and_starts_the_agent_with_the_keystore_key(home, monkeypatch):
    from gonka_tui.tui.screens.miner import AccountChoice

    fill(home)
    agents = Agents()
    agents.add(LOCAL_URL, TOKEN)
    calls = []

    def start_local_agent(home_dir, key_name, master_key, network, node):
        calls.append((Path(home_dir), key_name, master_key, network, node))
        announce_local_agent(home)

    launch = types.ModuleType("gonka_tui.miner.launch")
    launch.start_local_agent = start_local_agent
    monkeypatch.setitem(sys.modules, "gonka_tui.miner.launch", launch)
    app = miner_app(home, agents)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_miner(pilot)
        await wait_for(pilot, lambda: app.miner.connection == "none", what="no agent")
        app.keystore.unlock(PASSPHRASE)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, AccountChoice), what="the account choice")
        await pilot.press("down", "enter")  # hot, main, savings: from the first to the second
        await wait_for(pilot, lambda: app.miner.connection == "online", what="the started agent")
        assert calls == [(resolve_home(home).data_dir, "main", app.keystore.master_key(), None, None)]


async def test_start_without_the_agent_module_says_how_to_run_it(home, monkeypatch):
    fill(home)
    monkeypatch.setitem(sys.modules, "gonka_tui.miner.launch", None)  # import fails: no such module
    app = miner_app(home, Agents())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_miner(pilot)
        app.keystore.unlock(PASSPHRASE)
        await app.screen.run_action("start")
        from gonka_tui.tui.screens.miner import AccountChoice
        await wait_for(pilot, lambda: isinstance(app.screen, AccountChoice), what="the account choice")
        await pilot.press("enter")
        from gonka_tui.tui.screens.dialogs import ErrorModal
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal), what="the error")
        assert "gonka miner run --key hot" in str(app.screen.query_one(".dialog-body").render())


# ----- Rigs -----

async def add_rig(pilot, name: str, url: str, token: str) -> None:
    from gonka_tui.tui.screens.rigs import AddRigModal

    await pilot.press("a")
    modal = await wait_screen(pilot, AddRigModal)
    modal.query_one("#rig-name", Input).value = name
    modal.query_one("#rig-url", Input).value = url
    modal.query_one("#rig-token", Input).value = token
    await pilot.click("#ok")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, AddRigModal), what="the modal closed")


async def open_rigs(pilot):
    from gonka_tui.tui.screens.rigs import RigsScreen

    await pilot.press("f8")
    return await wait_screen(pilot, RigsScreen)


def rig_view(screen, name: str) -> MinerView:
    return screen.query_one(f"#{screen._panes[name]} MinerView", MinerView)


async def test_adding_a_rig_makes_a_tab_and_keeps_its_token_sealed(home):
    fill(home)
    agents = Agents()
    rig = agents.add(RIG_URL, RIG_TOKEN, status(account=OTHER))
    app = miner_app(home, agents)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_rigs(pilot)
        assert "No rigs yet" in str(screen.query_one("#rigs-empty").render())
        app.keystore.unlock(PASSPHRASE)
        await add_rig(pilot, "rig-2", RIG_URL, RIG_TOKEN)
        await wait_for(pilot, lambda: "rig-2" in screen._panes, what="the tab")
        view = rig_view(screen, "rig-2")
        await wait_for(pilot, lambda: "MINING" in text_of(view, "#mv-state"), what="the rig's status")
        assert screen.query_one(TabbedContent).tab_count == 1
        await pilot.press("p")
        await wait_for(pilot, lambda: rig.controls == ["pause"], what="the pause on the rig")
    for path in Path(home).rglob("*"):
        if path.is_file():
            assert RIG_TOKEN.encode() not in path.read_bytes(), path


async def test_each_rig_has_its_own_disconnected_state_and_remove_forgets_it(home):
    from gonka_tui.core.rigs import RigBook

    fill(home)
    ks = keystore(home)
    ks.unlock(PASSPHRASE)
    book = RigBook(resolve_home(home).data_dir, ks)
    book.add("rig-2", RIG_URL, RIG_TOKEN)
    book.add("rig-3", RIG2_URL, "second-token")
    agents = Agents()
    agents.add(RIG_URL, RIG_TOKEN)
    down = agents.add(RIG2_URL, "second-token")
    down.up = False
    app = miner_app(home, agents)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_rigs(pilot)
        assert "The keystore is locked" in str(screen.query_one("#rigs-empty").render())
        app.keystore.unlock(PASSPHRASE)
        await pilot.press("u")
        await wait_for(pilot, lambda: len(screen._panes) == 2, what="two tabs")
        await wait_for(pilot, lambda: dict(app.rig_links)["rig-2"].connection == "online", what="rig-2")
        await wait_for(pilot, lambda: dict(app.rig_links)["rig-3"].connection == "offline", what="rig-3")
        await pilot.pause()
        assert not rig_view(screen, "rig-2").has_class("-disconnected")
        assert "Cannot reach the agent since" in text_of(rig_view(screen, "rig-3"), "#mv-notice")
        screen.query_one(TabbedContent).active = screen._panes["rig-3"]
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the confirmation")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: list(screen._panes) == ["rig-2"], what="the tab removed")
        assert [r.name for r in book.list()] == ["rig-2"] and list(app.rig_feeds) == ["rig-2"]


async def test_a_bad_rig_address_is_refused_in_the_modal(home):
    from gonka_tui.tui.screens.rigs import AddRigModal

    fill(home)
    app = miner_app(home, Agents())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rigs(pilot)
        await pilot.press("a")
        modal = await wait_screen(pilot, AddRigModal)
        modal.query_one("#rig-name", Input).value = "rig-2"
        modal.query_one("#rig-url", Input).value = "10.0.0.7:26680"
        modal.query_one("#rig-token", Input).value = RIG_TOKEN
        await pilot.click("#ok")
        await pilot.pause()
        assert isinstance(app.screen, AddRigModal)
        assert "http://127.0.0.1:26680" in str(modal.query_one("#problem").render())


async def test_a_device_row_updated_in_place_widens_its_columns_to_the_new_values(home):
    ready = status()
    ready = replace(ready, devices=tuple(replace(d, state="ready", memory_used_bytes=None) for d in ready.devices))
    app, agent = local_agent_app(home, ready)
    async with app.run_test(size=(160, 48)) as pilot:
        view = await open_online_miner(pilot, app)
        table = view.query_one("#mv-devices", DataTable)
        agent.snapshot = status()  # the same devices: their cells are updated, not the table rebuilt
        await wait_for(pilot, lambda: cell(table, "cuda:0", "state") == "generating", what="the new state")
        for key, value in (("state", "generating"), ("memory", "21.0/80.0 GiB")):
            assert table.columns[key].get_render_width(table) >= len(value) + 2, key  # shown whole, not cut
