"""Whole numbers typed by a user (CLI options, devnet flags, faucet fields): ASCII digits and a range.

int() alone is too lenient for input: it takes '+12', '1_000', ' 12 ' and other scripts' digits
('١٢' is 12), and raises on more than 4,300 digits. Here the text is checked first, and its length
is bounded before any conversion.
"""

from __future__ import annotations

import re

from gonka_tui.core.errors import InputError, shown

UINT64_MAX = 2**64 - 1  # gas, account numbers and sequences are uint64 on chain
_DIGITS = re.compile(r"[0-9]+")  # an explicit range: \d would take any script's digits


def parse_uint(text: str, *, what: str, minimum: int = 0, maximum: int = UINT64_MAX) -> int:
    """`text` as a whole number from `minimum` to `maximum`, else InputError naming `what`."""
    if isinstance(text, str) and _DIGITS.fullmatch(text):
        digits = text.lstrip("0") or "0"
        if len(digits) <= len(str(maximum)):  # longer cannot be in range; never convert it
            value = int(digits)
            if minimum <= value <= maximum:
                return value
    raise InputError(f"{what} must be a whole number from {minimum} to {maximum}, not {shown(text)}")
