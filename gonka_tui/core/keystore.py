"""The keystore: one file per key, one passphrase for all.

<root>/keystore.json      a passphrase check (an envelope of a known value) and the keystore id
<root>/keys/<id>.json     the public record (name, address, pubkey, path, kind), readable
                          without unlocking, plus the secret sealed in an envelope (none for watch)

One file per key means a corrupt or truncated file costs that key alone; every file is
written atomically with mode 0600. New secrets share keystore.json's KDF salt so one
Argon2id derivation unlocks them all.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from gonka_tui.core import envelope
from gonka_tui.core.address import HRP, normalize_address
from gonka_tui.core.errors import InputError, KeystoreError, WrongPassphrase
from gonka_tui.core.fileio import ensure_private_dir, is_temp_file, write_json_atomic
from gonka_tui.core.keys import DerivedKey, HDPath, derive_key, key_from_private, normalize_mnemonic

KIND_MNEMONIC = "mnemonic"
KIND_HEX = "hex"
KIND_WATCH = "watch"
KINDS = (KIND_MNEMONIC, KIND_HEX, KIND_WATCH)
KEY_FORMAT = "gonka-key"
STORE_FORMAT = "gonka-keystore"
_CHECK_VALUE = b"gonka keystore passphrase check v1"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSPHRASE_LENGTH = 8


def validate_name(name: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise InputError(
            f"key name '{name}' is not allowed: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def validate_new_passphrase(passphrase: str) -> str:
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise InputError(f"the passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters")
    return passphrase


@dataclass(frozen=True)
class KeyRecord:
    """The public part of a key: safe to print, log and show."""

    id: str
    name: str
    kind: str
    address: str
    pubkey: str | None  # compressed hex
    path: str | None
    created: str
    file: Path = field(compare=False, repr=False)

    def to_json(self) -> dict:
        return {"name": self.name, "address": self.address, "pubkey": self.pubkey, "path": self.path, "kind": self.kind}

    @property
    def has_secret(self) -> bool:
        return self.kind != KIND_WATCH


@dataclass(frozen=True)
class KeySecret:
    kind: str
    mnemonic: str | None = None
    private_key: bytes | None = None
    path: HDPath | None = None

    def __repr__(self) -> str:
        return f"KeySecret(kind={self.kind!r}, <hidden>)"

    def export_text(self) -> str:
        return self.mnemonic if self.mnemonic is not None else self.private_key.hex()


@dataclass(frozen=True)
class Problem:
    """A key file that could not be read; shown to the user, never hides the other keys."""

    file: Path
    message: str


class Keystore:
    def __init__(self, root: Path, hrp: str = HRP) -> None:
        self.root = Path(root)
        self.keys_dir = self.root / "keys"
        self.store_file = self.root / "keystore.json"
        self.hrp = hrp
        self._passphrase: str | None = None
        self._derived: dict[tuple, bytes] = {}
        self.problems: list[Problem] = []

    # ----- reading (no unlock needed) -----

    def list(self) -> list[KeyRecord]:
        records: list[KeyRecord] = []
        self.problems = []
        if not self.keys_dir.is_dir():
            return records
        for path in sorted(self.keys_dir.glob("*.json")):
            if is_temp_file(path):
                continue
            try:
                records.append(self._read_record(path))
            except KeystoreError as exc:
                self.problems.append(Problem(path, str(exc)))
        return sorted(records, key=lambda r: r.name.lower())

    def get(self, name: str) -> KeyRecord:
        records = self.list()
        for rec in records:
            if rec.name == name:
                return rec
        known = ", ".join(r.name for r in records) or "none yet"
        raise KeystoreError(f"no key named '{name}' (keys: {known})")

    def find_by_address(self, address: str) -> KeyRecord | None:
        return next((r for r in self.list() if r.address == address), None)

    def has_secrets(self) -> bool:
        return self.store_file.exists() or any(r.has_secret for r in self.list())

    def _read_record(self, path: Path) -> KeyRecord:
        data = self._load_json(path, "key file")
        try:
            if data.get("format") != KEY_FORMAT or data.get("version") != 1:
                raise ValueError("not a gonka key file")
            kind = data["kind"]
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r}")
            if (kind == KIND_WATCH) != ("secret" not in data):
                raise ValueError("secret missing or unexpected")
            return KeyRecord(
                id=str(data["id"]),
                name=validate_name(str(data["name"])),
                kind=kind,
                address=normalize_address(str(data["address"]), self.hrp),
                pubkey=data.get("pubkey"),
                path=data.get("path"),
                created=str(data.get("created", "")),
                file=path,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise KeystoreError(f"{path.name} is corrupt ({exc}); the other keys are unaffected") from None

    @staticmethod
    def _load_json(path: Path, what: str) -> dict:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise KeystoreError(f"cannot read {what} {path}: {exc.strerror}") from None
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise KeystoreError(f"{what} {path.name} is corrupt or truncated; the other keys are unaffected") from None
        if not isinstance(data, dict):
            raise KeystoreError(f"{what} {path.name} is corrupt; the other keys are unaffected")
        return data

    # ----- locking -----

    @property
    def initialized(self) -> bool:
        return self.store_file.exists()

    @property
    def unlocked(self) -> bool:
        return bool(self._derived)

    def store_id(self) -> str | None:
        try:
            return str(self._load_json(self.store_file, "keystore file")["id"])
        except (KeystoreError, KeyError):
            return None

    def initialize(self, passphrase: str) -> None:
        """Create keystore.json with a new salt; the passphrase becomes the keystore's."""
        if self.initialized:
            raise KeystoreError("the keystore already has a passphrase")
        validate_new_passphrase(passphrase)
        ensure_private_dir(self.root)
        kdf = envelope.KdfParams.new()
        key = kdf.derive(passphrase)
        check = envelope.seal(key, kdf, _CHECK_VALUE, {"purpose": "passphrase-check"})
        write_json_atomic(self.store_file, {"format": STORE_FORMAT, "version": 1, "id": secrets.token_hex(16), "check": check})
        self._passphrase = passphrase
        self._derived = {kdf.fingerprint(): key}

    def unlock(self, passphrase: str) -> None:
        """Verify the passphrase (keystore.json, else any key file) and keep the derived key."""
        derived: dict[tuple, bytes] = {}
        checks = self._check_envelopes()
        if not checks:
            raise KeystoreError("the keystore has no passphrase yet (no key with a secret was added)")
        for env in checks:
            try:
                kdf = envelope.kdf_of(env)
                key = derived.get(kdf.fingerprint()) or kdf.derive(passphrase)
                envelope.open_sealed(key, env)
            except envelope.EnvelopeCorrupt:
                continue
            except envelope.EnvelopeAuthFailed:
                derived.setdefault(kdf.fingerprint(), key)
                continue
            self._passphrase = passphrase
            self._derived = {kdf.fingerprint(): key}
            return
        raise WrongPassphrase()

    def unlock_with_key(self, key: bytes) -> bool:
        """Unlock with a remembered derived key (OS keyring); False if it no longer fits."""
        try:
            env = self._load_json(self.store_file, "keystore file")["check"]
            kdf = envelope.kdf_of(env)
            envelope.open_sealed(key, env)
        except (KeystoreError, KeyError):
            return False
        self._derived = {kdf.fingerprint(): key}
        return True

    def master_key(self) -> bytes | None:
        """The derived key of keystore.json's parameters (what the OS keyring may remember)."""
        try:
            kdf = envelope.kdf_of(self._load_json(self.store_file, "keystore file")["check"])
        except (KeystoreError, KeyError):
            return None
        return self._derived.get(kdf.fingerprint())

    def lock(self) -> None:
        self._passphrase = None
        self._derived = {}

    def _check_envelopes(self) -> list[dict]:
        envs: list[dict] = []
        if self.store_file.exists():
            try:
                envs.append(self._load_json(self.store_file, "keystore file")["check"])
            except (KeystoreError, KeyError):
                pass  # keystore.json damaged: fall back to the key files
        for rec in self.list():
            if rec.has_secret:
                try:
                    envs.append(self._load_json(rec.file, "key file")["secret"])
                except (KeystoreError, KeyError):
                    pass
        return envs

    def _key_for(self, kdf: envelope.KdfParams) -> bytes:
        fp = kdf.fingerprint()
        if fp not in self._derived:
            if self._passphrase is None:
                raise KeystoreError("the keystore is locked; unlock it with its passphrase")
            self._derived[fp] = kdf.derive(self._passphrase)
        return self._derived[fp]

    def _require_unlocked(self) -> None:
        if not self.unlocked:
            raise KeystoreError("the keystore is locked; unlock it with its passphrase")

    def _store_kdf(self) -> envelope.KdfParams:
        data = self._load_json(self.store_file, "keystore file")
        try:
            return envelope.kdf_of(data["check"])
        except KeyError:
            raise KeystoreError("keystore.json is corrupt") from None

    # ----- adding and changing keys -----

    def ensure_name_free(self, name: str) -> None:
        validate_name(name)
        if any(rec.name == name for rec in self.list()):
            raise KeystoreError(f"a key named '{name}' already exists")

    def _check_new(self, name: str, address: str) -> None:
        self.ensure_name_free(name)
        for rec in self.list():
            if rec.address == address:
                raise KeystoreError(f"address {address} is already in the keystore as '{rec.name}'")

    def _write_new(self, name: str, kind: str, address: str, pubkey: bytes | None, path: HDPath | None,
                   secret: dict | None) -> KeyRecord:
        self._check_new(name, address)
        ensure_private_dir(self.root)
        ensure_private_dir(self.keys_dir)
        key_id = secrets.token_hex(8)
        data: dict = {
            "format": KEY_FORMAT,
            "version": 1,
            "id": key_id,
            "name": name,
            "kind": kind,
            "address": address,
            "pubkey": pubkey.hex() if pubkey else None,
            "path": str(path) if path else None,
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if secret is not None:
            self._require_unlocked()
            kdf = self._store_kdf()
            context = {"id": key_id, "kind": kind, "address": address}
            plaintext = json.dumps(secret).encode("utf-8")
            data["secret"] = envelope.seal(self._key_for(kdf), kdf, plaintext, context)
        file = self.keys_dir / f"{key_id}.json"
        write_json_atomic(file, data)
        return self._read_record(file)

    def add_mnemonic(self, name: str, mnemonic: str, path: HDPath = HDPath()) -> KeyRecord:
        mnemonic = normalize_mnemonic(mnemonic)
        derived = derive_key(mnemonic, path, self.hrp)
        return self._write_new(name, KIND_MNEMONIC, derived.address, derived.pubkey, path, {"mnemonic": mnemonic})

    def add_private_key(self, name: str, private_key: bytes) -> KeyRecord:
        derived = key_from_private(private_key, self.hrp)
        return self._write_new(name, KIND_HEX, derived.address, derived.pubkey, None, {"private_key": private_key.hex()})

    def add_watch(self, name: str, address: str) -> KeyRecord:
        return self._write_new(name, KIND_WATCH, normalize_address(address, self.hrp), None, None, None)

    def derive_from(self, source: str, name: str, path: HDPath) -> KeyRecord:
        secret = self.secret(source)
        if secret.mnemonic is None:
            raise KeystoreError(f"'{source}' holds a raw private key, not a recovery phrase; nothing can be derived from it")
        return self.add_mnemonic(name, secret.mnemonic, path)

    def rename(self, old: str, new: str) -> KeyRecord:
        rec = self.get(old)
        if new == old:
            return rec
        self.ensure_name_free(new)
        data = self._load_json(rec.file, "key file")
        data["name"] = new
        write_json_atomic(rec.file, data)
        return self._read_record(rec.file)

    def delete(self, name: str) -> KeyRecord:
        rec = self.get(name)
        rec.file.unlink()
        return rec

    # ----- secrets (unlock needed) -----

    def secret(self, name: str) -> KeySecret:
        rec = self.get(name)
        if not rec.has_secret:
            raise KeystoreError(f"'{name}' is watch-only: the keystore holds its address, not its key")
        self._require_unlocked()
        data = self._load_json(rec.file, "key file")
        env = data.get("secret")
        try:
            kdf = envelope.kdf_of(env)
            plain = envelope.open_sealed(self._key_for(kdf), env)
            if env.get("context") != {"id": rec.id, "kind": rec.kind, "address": rec.address}:
                raise envelope.EnvelopeCorrupt("context does not match the key")
            payload = json.loads(plain)
        except envelope.EnvelopeAuthFailed:
            raise KeystoreError(
                f"the secret of '{name}' does not decrypt although the passphrase is right: its file is corrupt or was altered"
            ) from None
        except (envelope.EnvelopeCorrupt, ValueError, AttributeError):
            raise KeystoreError(f"the secret of '{name}' is corrupt; the other keys are unaffected") from None
        if rec.kind == KIND_MNEMONIC:
            secret = KeySecret(KIND_MNEMONIC, mnemonic=payload.get("mnemonic"), path=HDPath.parse(rec.path or ""))
        else:
            secret = KeySecret(KIND_HEX, private_key=bytes.fromhex(payload.get("private_key", "")))
        if self._derive(secret).address != rec.address:
            raise KeystoreError(f"the secret of '{name}' does not match its address; the key file was altered")
        return secret

    def _derive(self, secret: KeySecret) -> DerivedKey:
        if secret.mnemonic is not None:
            return derive_key(secret.mnemonic, secret.path or HDPath(), self.hrp)
        return key_from_private(secret.private_key, self.hrp)

    def signing_key(self, name: str) -> DerivedKey:
        return self._derive(self.secret(name))


def secret_files_mode_ok(root: Path) -> bool:
    """True when every keystore file is private to its owner (0600)."""
    files = [Path(root) / "keystore.json", *(Path(root) / "keys").glob("*.json")]
    return all((os.stat(f).st_mode & 0o077) == 0 for f in files if f.exists())
