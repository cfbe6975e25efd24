"""Bech32 (BIP-173) account addresses: gonka1... = bech32('gonka', ripemd160(sha256(pubkey))).

Our own decoder rather than a library's so that each failure names its cause
(prefix, checksum, length, character) for the send screen's validation as you type.
"""

from __future__ import annotations

import functools

from gonka_tui.core.errors import InputError
from gonka_tui.core.network_constants import ADDRESS_HRP as HRP

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(CHARSET)}
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
ACCOUNT_ADDRESS_BYTES = 20  # ripemd160 of the pubkey's sha256
MAX_BECH32_LENGTH = 90


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GEN[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], frombits: int, tobits: int, pad: bool) -> list[int] | None:
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return out


def bech32_encode(hrp: str, data: bytes) -> str:
    five = _convert_bits(data, 8, 5, True)
    assert five is not None
    poly = _polymod(_hrp_expand(hrp) + five + [0] * 6) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in five + checksum)


def bech32_decode(text: str) -> tuple[str, bytes]:
    """Decode any bech32 string into (hrp, data bytes); InputError names what is wrong."""
    s = (text or "").strip()
    if not s:
        raise InputError("address is empty")
    if any(ord(c) < 33 or ord(c) > 126 for c in s):
        raise InputError("address contains a character that is not allowed (spaces or non-ASCII)")
    if s.lower() != s and s.upper() != s:
        raise InputError("address mixes upper and lower case")
    s = s.lower()
    pos = s.rfind("1")
    if pos < 1:
        raise InputError("address has no prefix (it should start with 'gonka1')")
    if len(s) > MAX_BECH32_LENGTH:
        raise InputError(f"address is too long ({len(s)} characters)")
    hrp, rest = s[:pos], s[pos + 1 :]
    bad = [c for c in rest if c not in _CHARSET_INDEX]
    if bad:  # before the length: "gonka1…12.5" (an amount pasted on) is a stray '.', not a short address
        raise InputError(f"address contains '{bad[0]}', which bech32 does not use (it never uses 1, b, i, o)")
    if pos + 7 > len(s):
        raise InputError("address is too short")
    values = [_CHARSET_INDEX[c] for c in rest]
    if _polymod(_hrp_expand(hrp) + values) != 1:
        raise InputError("address checksum is wrong: a character is mistyped or missing")
    data = _convert_bits(values[:-6], 5, 8, False)
    if data is None:
        raise InputError("address has invalid padding")
    return hrp, bytes(data)


@functools.lru_cache(maxsize=4096)
def decode_address(text: str, hrp: str = HRP) -> bytes:
    """Validate a gonka1... account address and return its 20 bytes (valid ones are cached)."""
    got_hrp, data = bech32_decode(text)
    if got_hrp != hrp:
        raise InputError(f"address prefix is '{got_hrp}', expected '{hrp}' (a Gonka address starts with '{hrp}1')")
    if len(data) != ACCOUNT_ADDRESS_BYTES:
        raise InputError(f"address holds {len(data)} bytes, an account address holds {ACCOUNT_ADDRESS_BYTES}")
    return data


def normalize_address(text: str, hrp: str = HRP) -> str:
    """The canonical lower-case form of a valid address (raises InputError otherwise)."""
    return bech32_encode(hrp, decode_address(text, hrp))


def is_valid_address(text: str, hrp: str = HRP) -> bool:
    try:
        decode_address(text, hrp)
    except InputError:
        return False
    return True


def address_from_pubkey(pubkey: bytes, hrp: str = HRP) -> str:
    """Cosmos account address of a 33-byte compressed secp256k1 public key."""
    if len(pubkey) != 33 or pubkey[0] not in (2, 3):
        raise InputError("public key must be 33 bytes, compressed secp256k1")
    return bech32_encode(hrp, hash160(pubkey))


def hash160(data: bytes) -> bytes:
    import hashlib

    sha = hashlib.sha256(data).digest()
    try:
        return hashlib.new("ripemd160", sha).digest()
    except ValueError:  # OpenSSL 3 builds may lack RIPEMD-160
        from Crypto.Hash import RIPEMD160  # pycryptodome, installed with bip-utils

        return RIPEMD160.new(sha).digest()


def short_address(address: str, keep: int = 8) -> str:
    """gonka1abcdefgh…wxyz1234 for narrow tables (the full address is shown where it matters)."""
    if len(address) <= 2 * keep + len(HRP) + 2:
        return address
    return f"{address[: len(HRP) + 1 + keep]}…{address[-keep:]}"
