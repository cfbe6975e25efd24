"""Account state in memory: the committed state (persisted block by block) and the check state.

The check state is what CheckTx runs against, as in a Cosmos node: the committed state plus
the effects of the transactions already accepted into the mempool. It is a copy-on-write
overlay, cleared when a block commits (the block takes the whole mempool).

Both expose the same small interface to the chain rules (`ante.py`): `get(address)` returns
a LedgerAccount that must not be mutated (copy it first), `put(account)` / `put_many(accounts)` store
new versions, `create(address)` makes an account with the next account number, and `block_time_s`
is the time vesting is measured at. A transaction applies in a scratch Overlay that is `commit`ted
into its base in one step, so it lands all or nothing.

The write path holds the ledger's invariant: no account is stored with a negative balance
(`InvariantError`), whatever a rule computed; the committed state refuses such an account when
it is loaded, too.
"""

from __future__ import annotations

from gonka_tui.core.errors import InputError

from .accounts import LedgerAccount
from .poc_state import PocOverlay, PocState


class InvariantError(Exception):
    """An account the ledger refuses to hold (a bug in a rule, or a damaged state file)."""


def check_account(account: LedgerAccount) -> None:
    if not isinstance(account.balance, int) or account.balance < 0:
        raise InvariantError(f"account {account.address} with a balance of {account.balance}ngonka, below zero")


def _check_all(accounts) -> list[LedgerAccount]:
    accounts = list(accounts)
    for account in accounts:
        check_account(account)
    return accounts


class Ledger:
    """The committed state."""

    def __init__(self, accounts: dict[str, LedgerAccount], next_number: int, *, height: int, block_time_ns: int,
                 last_block_hash: bytes, app_hash: bytes) -> None:
        _check_all(accounts.values())
        self.accounts = accounts
        self.next_number = next_number
        self.height = height
        self.block_time_ns = block_time_ns
        self.last_block_hash = last_block_hash
        self.app_hash = app_hash
        self.dirty: set[str] = set()
        self.poc = PocState()  # PoC records (participants, batches, epochs, rewards)

    @property
    def block_time_s(self) -> int:
        return self.block_time_ns // 1_000_000_000

    def get(self, address: str) -> LedgerAccount | None:
        return self.accounts.get(address)

    def put(self, account: LedgerAccount) -> None:
        self.put_many([account])

    def put_many(self, accounts) -> None:
        """Store every account or, if one breaks the invariant, none."""
        for account in _check_all(accounts):
            self.accounts[account.address] = account
            self.dirty.add(account.address)

    def create(self, address: str) -> LedgerAccount:
        if address in self.accounts:
            raise InputError(f"account {address} already exists")
        account = LedgerAccount(address, self.next_number)
        self.next_number += 1
        return account

    def take_dirty(self) -> list[LedgerAccount]:
        changed = [self.accounts[a] for a in sorted(self.dirty)]
        self.dirty.clear()
        return changed


class Overlay:
    """A copy-on-write layer over another state. The check state is an Overlay over the committed
    Ledger (`reset` after each commit); a simulation runs in a throwaway Overlay over the check state."""

    def __init__(self, base: Ledger | Overlay) -> None:
        self.base = base
        self.accounts: dict[str, LedgerAccount] = {}
        self.next_number = base.next_number
        self.poc = PocOverlay(base.poc)

    @property
    def block_time_s(self) -> int:
        return self.base.block_time_s

    @property
    def height(self) -> int:
        return self.base.height

    def get(self, address: str) -> LedgerAccount | None:
        account = self.accounts.get(address)
        return account if account is not None else self.base.get(address)

    def put(self, account: LedgerAccount) -> None:
        self.put_many([account])

    def put_many(self, accounts) -> None:
        """Store every account or, if one breaks the invariant, none."""
        for account in _check_all(accounts):
            self.accounts[account.address] = account

    def commit(self) -> None:
        """Write this layer into its base in one step (the base checks every account before writing any)."""
        self.base.put_many(self.accounts.values())
        self.base.next_number = self.next_number
        self.poc.commit()

    def create(self, address: str) -> LedgerAccount:
        if self.get(address) is not None:
            raise InputError(f"account {address} already exists")
        account = LedgerAccount(address, self.next_number)
        self.next_number += 1
        return account

    def reset(self) -> None:
        self.accounts.clear()
        self.next_number = self.base.next_number
        self.poc.reset()
