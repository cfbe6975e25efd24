"""On-chain accounts and balances as the REST API returns them (base, module and vesting shapes)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from gonka_tui.core.errors import InputError
from gonka_tui.core.units import BASE_DENOM

VESTING_TYPES = (
    "/cosmos.vesting.v1beta1.ContinuousVestingAccount",
    "/cosmos.vesting.v1beta1.DelayedVestingAccount",
    "/cosmos.vesting.v1beta1.PeriodicVestingAccount",
    "/cosmos.vesting.v1beta1.PermanentLockedAccount",
)


@dataclass(frozen=True)
class Account:
    address: str
    account_number: int
    sequence: int
    pubkey: bytes | None
    type_url: str
    original_vesting: int = 0  # ngonka
    vesting_end: int | None = None  # unix seconds

    @property
    def is_vesting(self) -> bool:
        return self.type_url in VESTING_TYPES


def _find_base(obj: dict) -> dict:
    """The BaseAccount inside any account shape (vesting accounts nest it twice)."""
    for key in ("base_vesting_account", "base_account"):
        if isinstance(obj.get(key), dict):
            return _find_base(obj[key])
    return obj


def _uint(value, what: str) -> int:
    try:
        number = int(value or 0)
    except (TypeError, ValueError):
        raise InputError(f"the node sent a malformed {what}: {value!r}") from None
    if number < 0:
        raise InputError(f"the node sent a negative {what}")
    return number


def coins_amount(coins: list | None, denom: str = BASE_DENOM) -> int:
    total = 0
    for c in coins or []:
        if not isinstance(c, dict):
            raise InputError("the node sent a malformed coin list")
        if c.get("denom") == denom:
            total += _uint(c.get("amount"), "amount")
    return total


def parse_account(data: dict) -> Account:
    """Parse `{"account": {...}}` from /cosmos/auth/v1beta1/accounts/{addr}."""
    acc = data.get("account") if isinstance(data, dict) else None
    if not isinstance(acc, dict):
        raise InputError("the node sent an account reply without 'account'")
    type_url = str(acc.get("@type", ""))
    base = _find_base(acc)
    pub = base.get("pub_key")
    pubkey = None
    if isinstance(pub, dict) and pub.get("key"):
        try:
            pubkey = base64.b64decode(pub["key"], validate=True)
        except ValueError:
            raise InputError("the node sent a malformed public key") from None
    vesting = acc.get("base_vesting_account") if isinstance(acc.get("base_vesting_account"), dict) else {}
    return Account(
        address=str(base.get("address", "")),
        account_number=_uint(base.get("account_number"), "account number"),
        sequence=_uint(base.get("sequence"), "sequence"),
        pubkey=pubkey,
        type_url=type_url,
        original_vesting=coins_amount(vesting.get("original_vesting")),
        vesting_end=_uint(vesting.get("end_time"), "end time") if vesting.get("end_time") else None,
    )


@dataclass(frozen=True)
class Balances:
    """What an address holds, in ngonka: total in the bank, spendable now, and locked."""

    address: str
    total: int
    spendable: int
    reward_vesting: int | None = None  # Gonka streamvesting rewards not yet released (None: unknown)
    coins: tuple[tuple[str, int], ...] = field(default_factory=tuple)

    @property
    def locked(self) -> int:
        return max(0, self.total - self.spendable)

    def to_json(self) -> dict:
        return {
            "address": self.address,
            "balances": [{"denom": d, "amount": str(a)} for d, a in self.coins],
            "spendable": [{"denom": BASE_DENOM, "amount": str(self.spendable)}],
            "locked": [{"denom": BASE_DENOM, "amount": str(self.locked)}],
            "reward_vesting": None if self.reward_vesting is None
            else [{"denom": BASE_DENOM, "amount": str(self.reward_vesting)}],
        }


def parse_coins(data: dict, key: str = "balances") -> tuple[tuple[str, int], ...]:
    coins = data.get(key) if isinstance(data, dict) else None
    if not isinstance(coins, list):
        raise InputError(f"the node sent a balance reply without '{key}'")
    out = []
    for c in coins:
        if not isinstance(c, dict) or not isinstance(c.get("denom"), str):
            raise InputError("the node sent a malformed coin list")
        out.append((c["denom"], _uint(c.get("amount"), "amount")))
    return tuple(out)
