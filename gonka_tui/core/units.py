"""Amounts: ngonka (the only on-chain denom) and GNK (1 GNK = 10^9 ngonka), with exact decimals.

Amounts are ints of ngonka everywhere inside the program; text only at the edges.
"""

from __future__ import annotations

import re

from gonka_tui.core.errors import InputError

BASE_DENOM = "ngonka"
DISPLAY_DENOM = "GNK"
DECIMALS = 9
NGONKA_PER_GNK = 10**DECIMALS
# Cosmos math.Int is bounded by 256 bits; nothing larger can exist on chain.
MAX_AMOUNT = 2**256 - 1

# Exponent of each accepted denom (the chain's denom metadata: ngonka 0, ugonka 3,
# mgonka 6, gonka 9; GNK is the display symbol of gonka).
_EXPONENTS = {"ngonka": 0, "ugonka": 3, "mgonka": 6, "gonka": 9, "gnk": 9}
_AMOUNT_RE = re.compile(r"^(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?[ \t]*(?P<denom>[A-Za-z]+)$")
_EXAMPLE = "write it with a denom, e.g. 1.5gnk or 1500000000ngonka"


def parse_amount(text: str, *, allow_zero: bool = False, what: str = "amount") -> int:
    """Parse '1.5gnk', '1.5 GNK' or '1500000000ngonka' into ngonka.

    A bare number, a negative amount, more decimals than the denom allows, and (unless
    `allow_zero`, as for fees) zero are refused with one clear message.
    """
    s = (text or "").strip()
    if not s:
        raise InputError(f"{what} is empty; {_EXAMPLE}")
    if s.startswith("-"):
        raise InputError(f"{what} '{s}' is negative; amounts must be positive")
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", s):
        raise InputError(f"{what} '{s}' has no denom; write {s}gnk or {s}ngonka")
    m = _AMOUNT_RE.match(s)
    if not m:
        raise InputError(f"{what} '{s}' is not an amount; {_EXAMPLE}")
    denom = m["denom"].lower()
    if denom not in _EXPONENTS:
        raise InputError(f"{what} '{s}' has an unknown denom '{m['denom']}'; use gnk or ngonka")
    exp = _EXPONENTS[denom]
    frac = m["frac"] or ""
    if len(frac) > exp:
        if exp == 0:
            raise InputError(f"{what} '{s}': ngonka is the smallest unit and takes no decimals")
        raise InputError(
            f"{what} '{s}' has more than {exp} decimals; 1 ngonka (0.{'0' * (exp - 1)}1{denom}) is the smallest unit"
        )
    value = int(m["int"]) * 10**exp + (int(frac.ljust(exp, "0")) if frac else 0)
    if value > MAX_AMOUNT:
        raise InputError(f"{what} '{s}' is too large")
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
