"""Account records (number, sequence, pubkey, ngonka balance, vesting) and the SDK vesting math.

ngonka is the only denom that exists on the devnet, so a balance is one int.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction

from gonka_tui.core.address import bech32_encode
from gonka_tui.core.network_constants import ADDRESS_HRP

FEE_COLLECTOR = "fee_collector"


def module_address(name: str, hrp: str = ADDRESS_HRP) -> str:
    """The SDK's module account address: the first 20 bytes of sha256(name)."""
    return bech32_encode(hrp, hashlib.sha256(name.encode()).digest()[:20])


FEE_COLLECTOR_ADDRESS = module_address(FEE_COLLECTOR)


@dataclass(frozen=True, slots=True)
class Vesting:
    """A ContinuousVestingAccount's schedule: `original` ngonka unlock linearly from start to end (unix s)."""

    original: int
    start_time: int
    end_time: int

    def vested(self, now: int) -> int:
        """SDK ContinuousVestingAccount.GetVestedCoins: original × (now − start) / (end − start), rounded."""
        if now <= self.start_time:
            return 0
        if now >= self.end_time:
            return self.original
        fraction = Fraction(now - self.start_time, self.end_time - self.start_time)
        return round(self.original * fraction)  # half to even, as LegacyDec.RoundInt

    def locked(self, now: int) -> int:
        """Still-vesting coins (nothing is delegated on the devnet, so all of them are locked)."""
        return self.original - self.vested(now)


@dataclass(slots=True)
class LedgerAccount:
    """An account as the devnet's ledger holds it (the client's view is core.accounts.Account)."""

    address: str
    number: int
    sequence: int = 0
    pubkey: bytes | None = None
    balance: int = 0
    vesting: Vesting | None = None
    module: str | None = None  # module account name (fee_collector), else None

    def copy(self) -> LedgerAccount:
        return LedgerAccount(self.address, self.number, self.sequence, self.pubkey, self.balance, self.vesting,
                             self.module)

    def spendable(self, now: int) -> int:
        """Balance minus vesting-locked coins, never negative (SDK SpendableCoins)."""
        if self.vesting is None:
            return self.balance
        return max(self.balance - self.vesting.locked(now), 0)

    def record(self) -> tuple:
        """The canonical tuple the app hash and the store use."""
        v = self.vesting
        return (self.address, self.number, self.sequence, self.pubkey or b"", self.balance,
                (v.original, v.start_time, v.end_time) if v else None, self.module or "")
