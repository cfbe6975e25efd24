"""BIP39 mnemonics, BIP32/44 derivation at m/44'/<coin>'/<account>'/0/<index>, raw hex keys.

Gonka's coin type is 1200 (inferenced's config.go); 118 (Cosmos Hub) and 60 (Ethereum
path) exist because other wallets used them for the same mnemonic.
"""

from __future__ import annotations

import difflib
import functools
import re
import secrets
from dataclasses import dataclass

from gonka_tui.core.address import HRP, address_from_pubkey
from gonka_tui.core.errors import InputError

GONKA_COIN_TYPE = 1200
COIN_TYPES = {1200: "Gonka (default)", 118: "Cosmos Hub", 60: "Ethereum"}
MNEMONIC_LENGTHS = (12, 15, 18, 21, 24)
NEW_MNEMONIC_LENGTHS = (12, 24)
_HARDENED_LIMIT = 2**31
HD_INDEX_MAX = _HARDENED_LIMIT - 1  # the largest coin type, account or address index
# Order of secp256k1's base point: a private key must lie in [1, N-1].
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class HDPath:
    coin_type: int = GONKA_COIN_TYPE
    account: int = 0
    index: int = 0

    def __post_init__(self) -> None:
        for name in ("coin_type", "account", "index"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < _HARDENED_LIMIT:
                raise InputError(f"{name.replace('_', ' ')} must be a whole number from 0 to {_HARDENED_LIMIT - 1}")

    def __str__(self) -> str:
        return f"m/44'/{self.coin_type}'/{self.account}'/0/{self.index}"

    @classmethod
    def parse(cls, text: str) -> "HDPath":
        m = re.fullmatch(r"m/44'/([0-9]+)'/([0-9]+)'/0/([0-9]+)", text.strip())
        if not m:
            raise InputError(f"'{text}' is not a path of the form m/44'/COIN'/ACCOUNT'/0/INDEX")
        return cls(int(m[1]), int(m[2]), int(m[3]))


@dataclass(frozen=True)
class DerivedKey:
    """A private key with its public parts. repr hides the secret."""

    private_key: bytes
    pubkey: bytes
    address: str
    path: HDPath | None

    def __repr__(self) -> str:
        return f"DerivedKey(address={self.address!r}, path={str(self.path) if self.path else None!r})"


@functools.cache
def bip39_wordlist() -> tuple[str, ...]:
    from importlib import resources

    text = resources.files("bip_utils").joinpath("bip/bip39/wordlist/english.txt").read_text("utf-8")
    words = tuple(w.strip() for w in text.splitlines() if w.strip())
    assert len(words) == 2048
    return words


@functools.cache
def _word_index() -> dict[str, int]:
    return {w: i for i, w in enumerate(bip39_wordlist())}


def complete_word(prefix: str, limit: int = 8) -> list[str]:
    """BIP39 words starting with `prefix` (the first 4 letters identify a word)."""
    prefix = prefix.strip().lower()
    if not prefix:
        return []
    return [w for w in bip39_wordlist() if w.startswith(prefix)][:limit]


def split_words(text: str) -> list[str]:
    return [w for w in re.split(r"\s+", (text or "").strip().lower()) if w]


@dataclass(frozen=True)
class MnemonicCheck:
    """What is wrong with a typed mnemonic; `error` is None when valid.

    `error` names positions only, so it is safe in logs and on stderr; `hint` may quote the
    mistyped word and suggest real ones, for the screen where the user is typing anyway.
    """

    words: tuple[str, ...]
    unknown: tuple[tuple[int, str, tuple[str, ...]], ...]  # (1-based position, word, suggestions)
    error: str | None
    hint: str | None = None

    def __repr__(self) -> str:
        return f"MnemonicCheck(words=<{len(self.words)} hidden>, error={self.error!r})"

    @property
    def ok(self) -> bool:
        return self.error is None


def check_mnemonic(text: str) -> MnemonicCheck:
    words = tuple(split_words(text))
    index = _word_index()
    unknown = tuple(
        (i + 1, w, tuple(difflib.get_close_matches(w, bip39_wordlist(), n=3, cutoff=0.6)))
        for i, w in enumerate(words)
        if w not in index
    )
    error: str | None = None
    hint: str | None = None
    if not words:
        error = "the recovery phrase is empty"
    elif unknown:
        pos, word, sugg = unknown[0]
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        error = f"word {pos} is not in the BIP39 English word list{more}"
        hint = f"word {pos} '{word}' is not in the BIP39 English word list" + (
            f"; did you mean {' or '.join(sugg)}?" if sugg else "")
    elif len(words) not in MNEMONIC_LENGTHS:
        error = f"a recovery phrase has 12, 15, 18, 21 or 24 words; this one has {len(words)}"
    elif not _checksum_ok(words):
        error = "the checksum does not match: a word is wrong or the words are out of order"
    return MnemonicCheck(words, unknown, error, hint or error)


def _checksum_ok(words: tuple[str, ...]) -> bool:
    index = _word_index()
    bits = "".join(format(index[w], "011b") for w in words)
    cs_len = len(bits) // 33
    entropy_bits, checksum = bits[: len(bits) - cs_len], bits[len(bits) - cs_len :]
    entropy = int(entropy_bits, 2).to_bytes(len(entropy_bits) // 8, "big")
    import hashlib

    digest = format(hashlib.sha256(entropy).digest()[0], "08b")
    return digest[:cs_len] == checksum


def normalize_mnemonic(text: str) -> str:
    """The canonical mnemonic (lower case, single spaces); InputError says which word is wrong."""
    result = check_mnemonic(text)
    if result.error:
        raise InputError(result.error)
    return " ".join(result.words)


def generate_mnemonic(words: int = 24) -> str:
    if words not in NEW_MNEMONIC_LENGTHS:
        raise InputError("a new recovery phrase has 12 or 24 words")
    from bip_utils import Bip39MnemonicEncoder

    entropy = secrets.token_bytes(words * 11 * 32 // 33 // 8)
    return str(Bip39MnemonicEncoder().Encode(entropy))


def mnemonic_to_seed(mnemonic: str, passphrase: str = "") -> bytes:
    from bip_utils import Bip39SeedGenerator

    return Bip39SeedGenerator(normalize_mnemonic(mnemonic)).Generate(passphrase)


def derive_from_seed(seed: bytes, path: HDPath, hrp: str = HRP) -> DerivedKey:
    from bip_utils import Bip32Slip10Secp256k1

    node = Bip32Slip10Secp256k1.FromSeed(seed).DerivePath(str(path))
    priv = node.PrivateKey().Raw().ToBytes()
    pub = node.PublicKey().RawCompressed().ToBytes()
    return DerivedKey(priv, pub, address_from_pubkey(pub, hrp), path)


def derive_key(mnemonic: str, path: HDPath = HDPath(), hrp: str = HRP) -> DerivedKey:
    return derive_from_seed(mnemonic_to_seed(mnemonic), path, hrp)


def candidate_addresses(mnemonic: str, coin_types=(1200, 118, 60), hrp: str = HRP) -> list[DerivedKey]:
    """The account-0 keys a mnemonic gives at each coin type other wallets used."""
    seed = mnemonic_to_seed(mnemonic)
    return [derive_from_seed(seed, HDPath(coin_type=c), hrp) for c in coin_types]


def public_key_of(private_key: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256K1())
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


def parse_private_key_hex(text: str) -> bytes:
    s = (text or "").strip().lower()
    if s.startswith("0x"):
        s = s[2:]
    if not s:
        raise InputError("private key is empty")
    if len(s) != 64:
        raise InputError(f"a private key is 64 hex characters (32 bytes); got {len(s)} characters")
    if not re.fullmatch(r"[0-9a-f]{64}", s):
        raise InputError("private key must be hexadecimal (0-9, a-f)")
    value = int(s, 16)
    if not 0 < value < SECP256K1_N:
        raise InputError("private key is outside the secp256k1 range")
    return bytes.fromhex(s)


def key_from_private(private_key: bytes, hrp: str = HRP) -> DerivedKey:
    pub = public_key_of(private_key)
    return DerivedKey(private_key, pub, address_from_pubkey(pub, hrp), None)
