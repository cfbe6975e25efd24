"""The accounts a screen offers in its account field, and which one it shows."""

from __future__ import annotations

from dataclasses import dataclass

from gonka_tui.core.address import short_address
from gonka_tui.core.keystore import KeyRecord


@dataclass(frozen=True)
class AccountList:
    records: tuple[KeyRecord, ...]

    def senders(self) -> "AccountList":
        """Only the accounts whose key is here (not watch-only)."""
        return AccountList(tuple(r for r in self.records if r.has_secret))

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.records]

    @property
    def options(self) -> list[tuple[str, str]]:
        """(shown, name) for a select: "main · gonka1…abcdef"."""
        return [(f"{r.name} · {short_address(r.address, 6)}", r.name) for r in self.records]


class AccountPick:
    """Which account a screen shows: the one chosen on the Wallet screen when that choice changed
    since the screen last looked, else the one it shows, else the configured default, else the first."""

    def __init__(self) -> None:
        self.wallet_pick: str | None = None  # the Wallet choice last applied

    def choose(self, names: list[str], current: str | None, wallet_pick: str | None,
               default: str | None) -> str | None:
        if not names:
            return None
        if wallet_pick != self.wallet_pick:
            self.wallet_pick = wallet_pick
            if wallet_pick in names:
                return wallet_pick
        if current in names:
            return current
        return default if default in names else names[0]
