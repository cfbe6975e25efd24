"""SVG snapshots of the Miner and Rigs screens at 80×24 and 160×48: mining, paused, disconnected, not
running, and Rigs with two tabs. The agents are fakes with fixed figures and times (UTC), so nothing
moves. Update after an intended change with:
    scripts/test tests/app/test_miner_snapshots.py --snapshot-update
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from gonka_tui.config import resolve_home
from gonka_tui.core.rigs import RigBook
from tests.app.test_miner_screens import (LOCAL_URL, OTHER, RIG2_URL, RIG_TOKEN, RIG_URL, TOKEN, Agents,
                                          announce_local_agent, fill, miner_app, status,
                                          utc)  # noqa: F401 (utc: the autouse fixture, for these tests too)
from tests.conftest import PASSPHRASE
from tests.tui_helpers import keystore, wait_for

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}


async def miner_shown(pilot, connection: str = "online"):
    from gonka_tui.tui.screens.miner import MinerScreen
    from gonka_tui.tui.widgets.miner_view import MinerView

    app = pilot.app
    await pilot.press("f7")
    await wait_for(pilot, lambda: isinstance(app.screen, MinerScreen) and app.screen.is_mounted, what="miner")
    await wait_for(pilot, lambda: app.miner.connection == connection, what=connection)
    view = app.screen.query_one(MinerView)
    await wait_for(pilot, lambda: view.link == app.miner, what="the view showing it")
    await pilot.pause()
    return view


def local(home, snapshot=None):
    fill(home)
    agents = Agents()
    agent = agents.add(LOCAL_URL, TOKEN, snapshot)
    announce_local_agent(home)
    return agents, agent


@pytest.mark.parametrize("size", SIZES)
def test_miner_mining(snap_compare, home, size):
    agents, _ = local(home)

    async def run_before(pilot):
        await miner_shown(pilot)

    assert snap_compare(miner_app(home, agents), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_miner_paused(snap_compare, home, size):
    paused = status(state="paused", phase="PoCGenerate", throughput=replace(status().throughput, s10=0.0),
                    devices=tuple(replace(d, state="ready", nonces_per_second=0.0) for d in status().devices))
    agents, _ = local(home, paused)

    async def run_before(pilot):
        await miner_shown(pilot)

    assert snap_compare(miner_app(home, agents), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_miner_disconnected(snap_compare, home, size):
    agents, agent = local(home)

    async def run_before(pilot):
        view = await miner_shown(pilot)
        agent.up = False
        await wait_for(pilot, lambda: view.has_class("-disconnected"), what="disconnected")
        await pilot.pause()

    assert snap_compare(miner_app(home, agents), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_miner_not_running(snap_compare, home, size):
    fill(home)

    async def run_before(pilot):
        await miner_shown(pilot, "none")

    assert snap_compare(miner_app(home, Agents()), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_rigs_two_tabs(snap_compare, home, size):
    fill(home)
    ks = keystore(home)
    ks.unlock(PASSPHRASE)
    book = RigBook(resolve_home(home).data_dir, ks)
    book.add("rig-2", RIG_URL, RIG_TOKEN)
    book.add("garage", RIG2_URL, "second-token")
    agents = Agents()
    agents.add(RIG_URL, RIG_TOKEN, status(account=OTHER))
    agents.add(RIG2_URL, "second-token", status(state="waiting", phase="Inference", phase_ends_in_seconds=412.0))

    async def run_before(pilot):
        from gonka_tui.tui.screens.rigs import RigsScreen

        app = pilot.app
        app.keystore.unlock(PASSPHRASE)
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, RigsScreen) and len(app.screen._panes) == 2,
                       what="two tabs")
        links = lambda: dict(app.rig_links)  # noqa: E731
        await wait_for(pilot, lambda: all(links().get(n) and links()[n].connection == "online"
                                          for n in ("rig-2", "garage")), what="both rigs")
        await pilot.pause()

    assert snap_compare(miner_app(home, agents), terminal_size=SIZES[size], run_before=run_before)
