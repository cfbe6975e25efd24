"""Driving the real app with Pilot: a temporary home, waiting on conditions (never on time)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gonka_tui.config import load_config, resolve_home
from gonka_tui.core.keystore import Keystore
from gonka_tui.tui.app import GonkaApp
from tests.fake_node import FakeNode


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_app(home: Path, clock: FakeClock | None = None, config_text: str | None = None,
             node: FakeNode | None = None, client_factory=None) -> GonkaApp:
    """The real app on a temporary home; its node is a FakeNode (empty unless given) or client_factory's."""
    h = resolve_home(home)
    if config_text is not None:
        h.config_file.write_text(config_text)
    if client_factory is None:
        client_factory = (node if node is not None else FakeNode()).client
    return GonkaApp(h, load_config(h), clock=clock or FakeClock(), client_factory=client_factory)


def keystore(home: Path) -> Keystore:
    return Keystore(resolve_home(home).keystore_dir)


async def wait_for(pilot, predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Let the app process messages until predicate() holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; screen is {pilot.app.screen!r}")
        await pilot.pause(0.02)


async def wait_screen(pilot, cls, timeout: float = 10.0):
    # Pushed is not yet composed: wait until the screen is mounted, so its widgets can be queried.
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, cls) and pilot.app.screen.is_mounted, timeout,
                   cls.__name__)
    return pilot.app.screen


async def type_into(pilot, selector: str, text: str) -> None:
    widget = pilot.app.screen.query_one(selector)
    widget.focus()
    await pilot.pause()
    await pilot.press("end", *list(text))  # after what is there (focus selects it all)
