"""Passphrase encryption: Argon2id derives a key, AES-256-GCM seals the secret.

The whole header (format, KDF parameters, nonce, context) is the GCM associated data, so
changing any of it makes decryption fail instead of silently using weaker parameters.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass

from gonka_tui.core.errors import KeystoreError

FORMAT = "gonka-envelope"
VERSION = 1
# engineering.md: t=3, m=64 MiB, p=4 (about 0.1 s here; see scripts/bench).
DEFAULT_ITERATIONS = 3
DEFAULT_MEMORY_KIB = 64 * 1024
DEFAULT_LANES = 4
# Parameters read from a file are never weaker than today's defaults (a tampered file must not
# weaken new keys) nor above a ceiling (nor make Argon2 take gigabytes or minutes).
MAX_ITERATIONS = 16
MAX_MEMORY_KIB = 1024 * 1024
KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
MAX_SALT_BYTES = 64


class EnvelopeCorrupt(KeystoreError):
    pass


class EnvelopeAuthFailed(KeystoreError):
    """AES-GCM refused the ciphertext: wrong key, or the file was altered."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise EnvelopeCorrupt(f"{what} is missing")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise EnvelopeCorrupt(f"{what} is not base64") from exc


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters; the constructor refuses any outside the floor and ceiling above."""

    salt: bytes
    iterations: int = DEFAULT_ITERATIONS
    memory_kib: int = DEFAULT_MEMORY_KIB
    lanes: int = DEFAULT_LANES

    def __post_init__(self) -> None:
        for name in ("iterations", "memory_kib", "lanes"):
            if type(getattr(self, name)) is not int:  # not a bool, a float, Infinity or a string
                raise EnvelopeCorrupt(f"key-derivation parameter '{name}' is not a whole number")
        t, m, p = self.iterations, self.memory_kib, self.lanes
        given = f"Argon2id t={t}, m={m} KiB, p={p}"
        if t < DEFAULT_ITERATIONS or m < DEFAULT_MEMORY_KIB or p != DEFAULT_LANES:
            raise EnvelopeCorrupt(f"key-derivation parameters {given} are weaker than allowed (at least "
                                  f"t={DEFAULT_ITERATIONS}, m={DEFAULT_MEMORY_KIB} KiB, p={DEFAULT_LANES})")
        if t > MAX_ITERATIONS or m > MAX_MEMORY_KIB:
            raise EnvelopeCorrupt(f"key-derivation parameters {given} exceed the maximum "
                                  f"(t={MAX_ITERATIONS}, m={MAX_MEMORY_KIB} KiB)")
        if not isinstance(self.salt, bytes) or not SALT_BYTES <= len(self.salt) <= MAX_SALT_BYTES:
            raise EnvelopeCorrupt("the key-derivation salt has the wrong length")

    @classmethod
    def new(cls) -> "KdfParams":
        return cls(salt=os.urandom(SALT_BYTES))

    def to_json(self) -> dict:
        return {
            "name": "argon2id",
            "salt": _b64(self.salt),
            "iterations": self.iterations,
            "memory_kib": self.memory_kib,
            "lanes": self.lanes,
        }

    @classmethod
    def from_json(cls, obj: object) -> "KdfParams":
        if not isinstance(obj, dict) or obj.get("name") != "argon2id":
            raise EnvelopeCorrupt("unknown key-derivation function")
        return cls(salt=_unb64(obj.get("salt"), "salt"), iterations=obj.get("iterations"),
                   memory_kib=obj.get("memory_kib"), lanes=obj.get("lanes"))

    def derive(self, passphrase: str) -> bytes:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

        return Argon2id(
            salt=self.salt,
            length=KEY_BYTES,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_kib,
        ).derive(passphrase.encode("utf-8"))


def _aad(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def seal(key: bytes, kdf: KdfParams, plaintext: bytes, context: dict) -> dict:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = {
        "format": FORMAT,
        "version": VERSION,
        "kdf": kdf.to_json(),
        "cipher": {"name": "aes-256-gcm", "nonce": _b64(os.urandom(NONCE_BYTES))},
        "context": context,
    }
    nonce = base64.b64decode(header["cipher"]["nonce"])
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _aad(header))
    return {**header, "ciphertext": _b64(ciphertext)}


def kdf_of(envelope: object) -> KdfParams:
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise EnvelopeCorrupt("not an encrypted gonka secret")
    if envelope.get("version") != VERSION:
        raise EnvelopeCorrupt(f"unsupported secret version {envelope.get('version')!r}")
    return KdfParams.from_json(envelope.get("kdf"))


def open_sealed(key: bytes, envelope: dict) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kdf_of(envelope)
    cipher = envelope.get("cipher")
    if not isinstance(cipher, dict) or cipher.get("name") != "aes-256-gcm":
        raise EnvelopeCorrupt("unknown cipher")
    nonce = _unb64(cipher.get("nonce"), "nonce")
    if len(nonce) != NONCE_BYTES:
        raise EnvelopeCorrupt("nonce has the wrong length")
    if not isinstance(envelope.get("context"), dict):
        raise EnvelopeCorrupt("context is missing")
    ciphertext = _unb64(envelope.get("ciphertext"), "ciphertext")
    header = {k: v for k, v in envelope.items() if k != "ciphertext"}
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, _aad(header))
    except InvalidTag:
        raise EnvelopeAuthFailed("authentication failed") from None
