"""Amounts: ngonka (the only on-chain denom) and GNK (1 GNK = 10^9 ngonka), with exact decimals.

Amounts are ints of ngonka everywhere inside the program; text only at the edges.
"""

from __future__ import annotations

import re

from gonka_tui.core.errors import InputError, shown
from gonka_tui.core.network_constants import BASE_DENOM

DISPLAY_DENOM = "GNK"
DECIMALS = 9
NGONKA_PER_GNK = 10**DECIMALS
# Cosmos math.Int is bounded by 256 bits; nothing larger can exist on chain.
MAX_AMOUNT = 2**256 - 1

# Exponent of each accepted denom (the chain's denom metadata: ngonka 0, ugonka 3,
# mgonka 6, gonka 9; GNK is the display symbol of gonka).
_EXPONENTS = {"ngonka": 0, "ugonka": 3, "mgonka": 6, "gonka": 9, "gnk": 9}
_AMOUNT_RE = re.compile(r"(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?[ \t]*(?P<denom>[A-Za-z]*)")
_EXAMPLE = "write it with a denom, e.g. 1.5gnk or 1500000000ngonka"
# More whole digits than MAX_AMOUNT has cannot be an amount: refused before any int() on them.
_MAX_DIGITS = len(str(MAX_AMOUNT))
_LIMIT = "; the chain holds at most 2^256 - 1 ngonka"


def parse_amount(text: str, *, allow_zero: bool = False, what: str = "amount") -> int:
    """Parse '1.5gnk', '1.5 GNK' or '1500000000ngonka' into ngonka.

    A bare number, a negative amount, more decimals than the denom allows, and (unless
    `allow_zero`, as for fees) zero are refused with one clear message.
    """
    s = (text or "").strip()
    if not s:
        raise InputError(f"{what} is empty; {_EXAMPLE}")
    if s.startswith("-"):
        raise InputError(f"{what} {shown(s)} is negative; amounts must be positive")
    m = _AMOUNT_RE.fullmatch(s)
    if not m:
        raise InputError(f"{what} {shown(s)} is not an amount; {_EXAMPLE}")
    whole, frac, denom = m["int"].lstrip("0"), m["frac"] or "", m["denom"].lower()
    if len(whole) > _MAX_DIGITS:
        raise InputError(f"{what} {shown(s)} is too large{_LIMIT}")
    if not denom:
        hint = f"write {s}gnk or {s}ngonka" if len(s) <= 40 else _EXAMPLE
        raise InputError(f"{what} {shown(s)} has no denom; {hint}")
    if denom not in _EXPONENTS:
        raise InputError(f"{what} {shown(s)} has an unknown denom {shown(m['denom'])}; use gnk or ngonka")
    exp = _EXPONENTS[denom]
    if len(frac) > exp:
        if exp == 0:
            raise InputError(f"{what} {shown(s)}: ngonka is the smallest unit and takes no decimals")
        raise InputError(
            f"{what} {shown(s)} has more than {exp} decimals; "
            f"1 ngonka (0.{'0' * (exp - 1)}1{denom}) is the smallest unit"
        )
    value = int(whole or "0") * 10**exp + (int(frac.ljust(exp, "0")) if frac else 0)
    if value > MAX_AMOUNT:
        raise InputError(f"{what} {shown(s)} is too large{_LIMIT}")
    if value == 0 and not allow_zero:
        raise InputError(f"{what} must be more than zero")
    return value


def format_gnk(ngonka: int, *, denom: bool = True, group: bool = True) -> str:
    """1500000000 -> '1.5 GNK': exact, trailing zeros dropped, thousands grouped."""
    sign = "-" if ngonka < 0 else ""
    whole, frac = divmod(abs(int(ngonka)), NGONKA_PER_GNK)
    text = f"{whole:,}" if group else str(whole)
    if frac:
        text += "." + str(frac).rjust(DECIMALS, "0").rstrip("0")
    return f"{sign}{text}{' ' + DISPLAY_DENOM if denom else ''}"


def format_ngonka(ngonka: int) -> str:
    """The on-chain coin string, e.g. '1500000000ngonka'."""
    return f"{int(ngonka)}{BASE_DENOM}"
