"""Every action of the app, registered once with an id: keys, footer, palette and help come from here.

Users remap keys by id in config.toml's [keys] table (e.g. "wallet.create" = "n").
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from gonka_tui.tui.registry import SCREENS


@dataclass(frozen=True)
class ActionSpec:
    id: str
    key: str
    action: str  # the action method on the screen (or app) that carries it out
    label: str  # short, for the footer
    help: str  # one sentence, for F1 help and the command palette
    show: bool = True
    palette: bool = True


# One per screen of the registry, in its order.
NAV_ACTIONS = tuple(ActionSpec(s.action_id, s.key, f"goto('{s.mode}')", s.label, s.help) for s in SCREENS)

APP_ACTIONS = (
    ActionSpec("app.help", "f1", "help", "Help", "Show the keys and what this screen does"),
    *NAV_ACTIONS,
    ActionSpec("app.lock", "ctrl+l", "lock", "Lock", "Lock the keystore now and cover the screen"),
    ActionSpec("app.quit", "ctrl+q", "quit", "Quit", "Quit gonka", show=False),
)

WALLET_ACTIONS = (
    ActionSpec("wallet.create", "c", "create", "Create", "Create a new wallet (a new recovery phrase)"),
    ActionSpec("wallet.recover", "r", "recover", "Recover", "Recover a wallet from its recovery phrase"),
    ActionSpec("wallet.import", "i", "import_hex", "Import", "Import a raw private key (hex)"),
    ActionSpec("wallet.watch", "w", "watch", "Watch", "Watch an address (no secret stored)"),
    ActionSpec("wallet.receive", "v", "receive", "Receive", "Show the address and its QR code to receive funds"),
    ActionSpec("wallet.send", "s", "send", "Send", "Send from the selected account", show=False),
    ActionSpec("wallet.history", "h", "history", "History", "Show the selected account's transactions", show=False),
    ActionSpec("wallet.refresh", "ctrl+r", "refresh", "Refresh", "Fetch the balances again from the network"),
    ActionSpec("wallet.rename", "n", "rename", "Rename", "Rename the selected account", show=False),
    ActionSpec("wallet.delete", "delete", "delete", "Delete", "Delete the selected account from this machine", show=False),
    ActionSpec("wallet.quit", "q", "app.quit", "Quit", "Quit gonka", palette=False),
)


SEND_ACTIONS = (
    ActionSpec("send.review", "ctrl+s", "review", "Review", "Check the transaction and confirm it before it is signed"),
    ActionSpec("send.pick", "ctrl+b", "pick", "Pick", "Pick the recipient from contacts, your accounts and recent recipients"),
    ActionSpec("send.max", "ctrl+g", "max", "Max", "Send everything spendable, less the fee"),
    ActionSpec("send.clear", "ctrl+n", "clear", "Clear", "Start a new transfer: empty the recipient, amount and memo", show=False),
)

HISTORY_ACTIONS = (
    ActionSpec("history.refresh", "ctrl+r", "refresh", "Refresh", "Fetch the transactions again"),
    ActionSpec("history.more", "m", "more", "More", "Load older transactions"),
    ActionSpec("history.detail", "enter", "detail", "Details", "Show the selected transaction in full", show=False),
    ActionSpec("history.copy", "c", "copy", "Copy hash", "Copy the selected transaction's hash", show=False),
)

CONTACTS_ACTIONS = (
    ActionSpec("contacts.add", "a", "add", "Add", "Add a contact (name, address, note)"),
    ActionSpec("contacts.send", "s", "send", "Send to", "Send to the selected contact or recent recipient"),
    ActionSpec("contacts.save", "n", "save_recent", "Name it", "Save the selected recent recipient as a contact", show=False),
    ActionSpec("contacts.delete", "delete", "delete", "Delete", "Delete the selected contact"),
)


def bindings(specs: tuple[ActionSpec, ...]) -> list[Binding]:
    return [Binding(s.key, s.action, s.label, show=s.show, id=s.id) for s in specs]
