"""Every action of the app, registered once with an id: keys, footer, palette and help come from here.

Users remap keys by id in config.toml's [keys] table (e.g. "wallet.create" = "n").
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class ActionSpec:
    id: str
    key: str
    action: str  # the action method on the screen (or app) that carries it out
    label: str  # short, for the footer
    help: str  # one sentence, for F1 help and the command palette
    show: bool = True
    palette: bool = True


APP_ACTIONS = (
    ActionSpec("app.help", "f1", "help", "Help", "Show the keys and what this screen does"),
    ActionSpec("app.lock", "ctrl+l", "lock", "Lock", "Lock the keystore now and cover the screen"),
    ActionSpec("app.quit", "ctrl+q", "quit", "Quit", "Quit gonka", show=False),
)

WALLET_ACTIONS = (
    ActionSpec("wallet.create", "c", "create", "Create", "Create a new wallet (a new recovery phrase)"),
    ActionSpec("wallet.recover", "r", "recover", "Recover", "Recover a wallet from its recovery phrase"),
    ActionSpec("wallet.import", "i", "import_hex", "Import", "Import a raw private key (hex)"),
    ActionSpec("wallet.watch", "w", "watch", "Watch", "Watch an address (no secret stored)"),
    ActionSpec("wallet.receive", "v", "receive", "Receive", "Show the address and its QR code to receive funds"),
    ActionSpec("wallet.rename", "n", "rename", "Rename", "Rename the selected account", show=False),
    ActionSpec("wallet.delete", "delete", "delete", "Delete", "Delete the selected account from this machine", show=False),
    ActionSpec("wallet.quit", "q", "app.quit", "Quit", "Quit gonka", palette=False),
)


def bindings(specs: tuple[ActionSpec, ...]) -> list[Binding]:
    return [Binding(s.key, s.action, s.label, show=s.show, id=s.id) for s in specs]
