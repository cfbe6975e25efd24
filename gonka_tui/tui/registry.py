"""The screens of the app, each declared once: its mode, the key and action id that go to it, its label
and how it is made. The app's MODES, the navigation actions and the tab strip are generated from here.

A new screen: subclass `screens.base.GonkaScreen` (MODE, ACTIONS, HELP, compose_body) and add one
`ScreenEntry` below; its key is remappable by the entry's id in config.toml's [keys] table.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.screen import Screen


@dataclass(frozen=True)
class ScreenEntry:
    mode: str
    action_id: str  # the id of the action that goes to it ("app.wallet"): users remap its key by this id
    key: str
    label: str  # the tab's and the footer's word
    help: str  # one sentence, for F1 help and the command palette
    factory: str  # "module:Class", imported when first opened: the first frame stays fast

    def make(self) -> "Screen":
        module, _, name = self.factory.partition(":")
        return getattr(import_module(module), name)()


SCREENS = (
    ScreenEntry("wallet", "app.wallet", "f2", "Wallet", "Go to the Wallet: accounts and balances",
                "gonka_tui.tui.screens.wallet:WalletScreen"),
    ScreenEntry("send", "app.send", "f3", "Send", "Go to Send: send GNK to an address or contact",
                "gonka_tui.tui.screens.send:SendScreen"),
    ScreenEntry("history", "app.history", "f4", "History", "Go to History: the transactions of an account",
                "gonka_tui.tui.screens.history:HistoryScreen"),
    ScreenEntry("contacts", "app.contacts", "f6", "Contacts", "Go to the Address book: contacts and recent recipients",
                "gonka_tui.tui.screens.contacts:AddressBookScreen"),
    ScreenEntry("miner", "app.miner", "f7", "Miner", "Go to the Miner: mine on this machine, live",
                "gonka_tui.tui.screens.miner:MinerScreen"),
    ScreenEntry("rigs", "app.rigs", "f8", "Rigs", "Go to Rigs: watch the miner agents of other machines",
                "gonka_tui.tui.screens.rigs:RigsScreen"),
    ScreenEntry("inference", "app.inference", "f9", "Inference",
                "Go to Inference: ask the network's models, see each request's cost",
                "gonka_tui.tui.screens.inference:InferenceScreen"),
)


def modes() -> dict[str, object]:
    """The App's MODES: mode -> a callable that makes its screen."""
    return {entry.mode: entry.make for entry in SCREENS}
