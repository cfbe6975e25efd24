"""The keystore: one file per key, one passphrase for all.

<root>/keystore.json      the keystore id and a passphrase check: an envelope of a known value whose
                          associated data holds the id and the KDF parameters
<root>/keys/<id>.json     the public record (name, address, pubkey, path, kind), readable
                          without unlocking, plus the secret sealed in an envelope (none for watch)
                          whose associated data holds the keystore id and the key's id, kind, address
<root>/.lock              held (flock) around every write, so two processes never interleave

One file per key means a corrupt, truncated or hostile file costs that key alone; every file is
written atomically with mode 0600. Every secret is sealed with keystore.json's KDF parameters, so
one Argon2id derivation, verified against this keystore's check, unlocks them all; a file sealed
for another keystore is refused for what it is. Format 1 files (no keystore id in the associated
data) open only under this keystore's verified key, and are re-sealed as format 2 on unlock.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from gonka_tui.core import envelope, strict_json
from gonka_tui.core.address import HRP, address_from_pubkey, normalize_address
from gonka_tui.core.errors import GonkaError, InputError, KeystoreError, WrongPassphrase, shown
from gonka_tui.core.fileio import (RefusedFile, ensure_private_dir, is_temp_file, locked, read_regular_file,
                                  write_json_atomic)
from gonka_tui.core.keys import DerivedKey, HDPath, derive_key, key_from_private, normalize_mnemonic

KIND_MNEMONIC = "mnemonic"
KIND_HEX = "hex"
KIND_WATCH = "watch"
KINDS = (KIND_MNEMONIC, KIND_HEX, KIND_WATCH)
KEY_FORMAT = "gonka-key"
STORE_FORMAT = "gonka-keystore"
# Version 2 binds the keystore id into the associated data of the check and of every secret.
STORE_VERSION = 2
KEY_VERSION = 2
MAX_FILE_BYTES = 64 * 1024
LOCK_FILE = ".lock"
_CHECK_VALUE = b"gonka keystore passphrase check v1"
_CHECK_PURPOSE = "passphrase-check"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # fullmatch: '$' would let "name\n" through
_STORE_ID_RE = re.compile(r"[0-9a-f]{32}")
_KEY_ID_RE = re.compile(r"[0-9a-f]{16}")
_PUBKEY_RE = re.compile(r"0[23][0-9a-f]{64}")
_PRIVATE_KEY_RE = re.compile(r"[0-9a-f]{64}")
_MAX_INT_DIGITS = 20  # no number in our files needs more
MIN_PASSPHRASE_LENGTH = 8


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InputError(
            f"key name {shown(name, 64)} is not allowed: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
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
    keystore: str | None = field(default=None, compare=False, repr=False)  # the id it claims (format 2)
    version: int = field(default=KEY_VERSION, compare=False, repr=False)

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


@dataclass(frozen=True)
class _Store:
    """keystore.json, parsed and checked except for the authentication of its check."""

    id: str
    version: int
    kdf: envelope.KdfParams
    check: dict


def _parse_json(raw: bytes) -> object:
    """JSON as our files hold it (no number there needs more than 20 digits); ValueError otherwise."""
    return strict_json.loads(raw, max_int_digits=_MAX_INT_DIGITS)


def _shown(path: Path) -> str:
    """A file name safe to print: a hostile name may hold newlines or terminal escapes."""
    name = path.name
    return name if name.isascii() and name.isprintable() and " " not in name else shown(name, 80)


def _text(data: dict, name: str, pattern: re.Pattern | None = None) -> str:
    value = data.get(name)
    if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
        raise ValueError(f"'{name}' is missing or malformed")
    return value


def _check_context(store_id: str, version: int) -> dict:
    return {"purpose": _CHECK_PURPOSE, "keystore": store_id} if version >= 2 else {"purpose": _CHECK_PURPOSE}


def _secret_context(rec: KeyRecord, store_id: str | None, version: int) -> dict:
    context = {"id": rec.id, "kind": rec.kind, "address": rec.address}
    return {**context, "keystore": store_id} if version >= 2 else context


class Keystore:
    def __init__(self, root: Path, hrp: str = HRP) -> None:
        self.root = Path(root)
        self.keys_dir = self.root / "keys"
        self.store_file = self.root / "keystore.json"
        self.hrp = hrp
        # Unlocked: the derived key, its KDF parameters and the keystore id it was verified for.
        self._key: bytes | None = None
        self._kdf: envelope.KdfParams | None = None
        self._store_id: str | None = None
        # Why no change is allowed although unlocked (keystore.json unusable), or None.
        self._read_only: str | None = None
        self._lock_owner: int | None = None  # the thread holding the lock
        self.problems: list[Problem] = []
        self.notes: list[str] = []  # what the last unlock did or found (an upgrade, a refused file)

    # ----- reading (no unlock needed) -----

    def list(self) -> list[KeyRecord]:
        return [rec for rec, _data in self._load_all()]

    def _load_all(self) -> list[tuple[KeyRecord, dict]]:
        found: list[tuple[KeyRecord, dict]] = []
        self.problems = []
        if not self.keys_dir.is_dir():
            return found
        store_id = self.store_id()
        for path in sorted(self.keys_dir.glob("*.json")):
            if is_temp_file(path):
                continue
            try:
                rec, data = self._load_key(path)
            except KeystoreError as exc:
                self.problems.append(Problem(path, str(exc)))
                continue
            if store_id and rec.keystore not in (None, store_id):
                self.problems.append(Problem(path, (
                    f"key file {_shown(path)} ('{rec.name}') belongs to another keystore (id {rec.keystore}): it was "
                    f"copied here and is not used; the other keys are unaffected")))
                continue
            found.append((rec, data))
        return sorted(found, key=lambda item: item[0].name.lower())

    def get(self, name: str) -> KeyRecord:
        records = self.list()
        for rec in records:
            if rec.name == name:
                return rec
        known = ", ".join(r.name for r in records) or "none yet"
        unread = f"; also: {self.problems[0].message}" if self.problems else ""
        raise KeystoreError(f"no key named '{name}' (keys: {known}){unread}")

    def has_secrets(self) -> bool:
        return self.initialized or any(r.has_secret for r in self.list())

    def _load_key(self, path: Path) -> tuple[KeyRecord, dict]:
        data = self._load_json(path, "key file")
        try:
            return self._record(path, data), data
        except (TypeError, ValueError) as exc:  # InputError is a ValueError
            raise KeystoreError(f"key file {_shown(path)} is corrupt ({exc}); the other keys are unaffected") from None

    def _record(self, path: Path, data: dict) -> KeyRecord:
        version = data.get("version")
        if data.get("format") != KEY_FORMAT or type(version) is not int or version not in (1, KEY_VERSION):
            raise ValueError("not a gonka key file")
        kind = _text(data, "kind")
        if kind not in KINDS:
            raise ValueError("'kind' is unknown")
        secret = data.get("secret")
        if (kind == KIND_WATCH) != (secret is None) or not isinstance(secret, (dict, type(None))):
            raise ValueError("secret missing or unexpected")
        name = _text(data, "name", _NAME_RE)
        address = normalize_address(_text(data, "address"), self.hrp)
        pubkey = path_text = store_id = None
        if kind != KIND_WATCH:
            pubkey = _text(data, "pubkey", _PUBKEY_RE)
            if address_from_pubkey(bytes.fromhex(pubkey), self.hrp) != address:
                raise ValueError("'pubkey' does not match 'address'")
            if version >= 2:
                store_id = _text(data, "keystore", _STORE_ID_RE)
        if kind == KIND_MNEMONIC:
            try:
                path_text = str(HDPath.parse(_text(data, "path")))
            except ValueError:  # InputError quotes the text, which may be hostile
                raise ValueError("'path' is missing or malformed") from None
        elif data.get("path") is not None:
            raise ValueError("'path' is unexpected")
        created = data.get("created", "")
        return KeyRecord(id=_text(data, "id", _KEY_ID_RE), name=name, kind=kind, address=address, pubkey=pubkey,
                         path=path_text, created=created if isinstance(created, str) else "", file=path,
                         keystore=store_id, version=version)

    @staticmethod
    def _load_json(path: Path, what: str) -> dict:
        try:
            data = _parse_json(read_regular_file(path, MAX_FILE_BYTES))
        except FileNotFoundError:
            raise KeystoreError(f"{what} {_shown(path)} is missing") from None
        except OSError as exc:
            raise KeystoreError(f"cannot read {what} {_shown(path)}: {exc.strerror}") from None
        except RefusedFile as exc:
            raise KeystoreError(f"{what} {_shown(path)} {exc}{_unaffected(what)}") from None
        except ValueError as exc:
            raise KeystoreError(f"{what} {_shown(path)} is corrupt or truncated ({exc}){_unaffected(what)}") from None
        if not isinstance(data, dict):
            raise KeystoreError(f"{what} {_shown(path)} is corrupt (not a JSON object){_unaffected(what)}")
        return data

    # ----- keystore.json -----

    @property
    def initialized(self) -> bool:
        return os.path.lexists(self.store_file)

    @property
    def unlocked(self) -> bool:
        return self._key is not None

    def store_id(self) -> str | None:
        """The id keystore.json claims (unauthenticated: what the OS keyring entry is named by)."""
        try:
            value = self._load_json(self.store_file, "keystore file").get("id")
        except KeystoreError:
            return None
        return value if isinstance(value, str) and _STORE_ID_RE.fullmatch(value) else None

    def _read_store(self) -> _Store:
        data = self._load_json(self.store_file, "keystore file")
        version, check = data.get("version"), data.get("check")
        if data.get("format") != STORE_FORMAT or type(version) is not int or version not in (1, STORE_VERSION):
            raise KeystoreError("keystore.json is not a gonka keystore file")
        store_id = data.get("id")
        if not isinstance(store_id, str) or not _STORE_ID_RE.fullmatch(store_id):
            raise KeystoreError("keystore.json is corrupt (its id is malformed)")
        try:
            kdf = envelope.kdf_of(check)
        except envelope.EnvelopeCorrupt as exc:
            raise KeystoreError(f"keystore.json is refused: {exc}") from None
        if check.get("context") != _check_context(store_id, version):
            raise KeystoreError("keystore.json is corrupt (its check is not this keystore's)")
        return _Store(store_id, version, kdf, check)

    def _check_opens(self, store: _Store, key: bytes) -> bool:
        """True when `key` authenticates keystore.json's check (the passphrase is this keystore's)."""
        try:
            return envelope.open_sealed(key, store.check) == _CHECK_VALUE
        except envelope.EnvelopeAuthFailed:
            return False
        except envelope.EnvelopeCorrupt as exc:
            raise KeystoreError(f"keystore.json is corrupt ({exc})") from None

    # ----- locking and unlocking -----

    @contextmanager
    def _locked(self):
        """The inter-process lock around every write; re-entrant within one thread of this object
        (flock also keeps this process's other threads out: each takes it on its own descriptor)."""
        if self._lock_owner == threading.get_ident():
            yield
            return
        ensure_private_dir(self.root)
        lock_path = self.root / LOCK_FILE
        with ExitStack() as stack:
            try:
                stack.enter_context(locked(lock_path))
            except TimeoutError:
                raise KeystoreError(f"the keystore is busy: another gonka process holds {lock_path}") from None
            except OSError as exc:
                raise KeystoreError(f"cannot lock the keystore ({lock_path}: {exc.strerror})") from None
            self._lock_owner = threading.get_ident()
            try:
                yield
            finally:
                self._lock_owner = None

    def initialize(self, passphrase: str) -> None:
        """Create keystore.json with a new salt; the passphrase becomes the keystore's."""
        validate_new_passphrase(passphrase)
        with self._locked():
            if self.initialized:
                raise KeystoreError("the keystore already has a passphrase")
            self._create(passphrase)

    def create_or_unlock(self, passphrase: str) -> None:
        """Give a keystore without one its passphrase; if another process just did, this must be it.

        Under the lock, so that of two first-time processes one creates keystore.json and the
        other is held to the passphrase it chose.
        """
        validate_new_passphrase(passphrase)
        with self._locked():
            if not self.has_secrets():
                self._create(passphrase)
                return
            try:
                self.unlock(passphrase)
            except WrongPassphrase:
                raise KeystoreError("another gonka process gave the keystore a different passphrase just now; "
                                    "nothing was changed") from None

    def _create(self, passphrase: str) -> None:
        ensure_private_dir(self.root)
        kdf = envelope.KdfParams.new()
        key, store_id = kdf.derive(passphrase), secrets.token_hex(16)
        self._write_store(store_id, kdf, key)
        self._set_unlocked(key, kdf, store_id)

    def _write_store(self, store_id: str, kdf: envelope.KdfParams, key: bytes) -> None:
        check = envelope.seal(key, kdf, _CHECK_VALUE, _check_context(store_id, STORE_VERSION))
        write_json_atomic(self.store_file, {"format": STORE_FORMAT, "version": STORE_VERSION, "id": store_id,
                                            "check": check})

    def _set_unlocked(self, key: bytes | None, kdf: envelope.KdfParams | None, store_id: str | None) -> None:
        self._key, self._kdf, self._store_id, self._read_only = key, kdf, store_id, None

    def unlock(self, passphrase: str) -> None:
        """Verify the passphrase against keystore.json's check and keep the derived key.

        With keystore.json unusable (missing, damaged, refused parameters, a check that does not
        authenticate), a key file of this keystore that the passphrase opens unlocks for reading
        only: secrets can be exported, nothing is changed.
        """
        self.lock()
        self.notes = []
        key = store = None
        try:
            store = self._read_store()
            key = store.kdf.derive(passphrase)
            if self._check_opens(store, key):
                self._set_unlocked(key, store.kdf, store.id)
                self._upgrade(store)
                return
            problem = "keystore.json's check does not authenticate with this passphrase"
        except KeystoreError as exc:
            problem = str(exc)
        if not self._unlock_read_only(passphrase, problem, store, key):
            if store is None and not self._secret_files():
                raise KeystoreError(problem if self.initialized
                                    else "the keystore has no passphrase yet (no key with a secret was added)")
            raise WrongPassphrase()

    def unlock_with_key(self, key: bytes) -> bool:
        """Unlock with a remembered derived key (OS keyring); False if it no longer fits."""
        self.lock()
        self.notes = []
        try:
            store = self._read_store()
            if not self._check_opens(store, key):
                return False
        except KeystoreError:
            return False
        self._set_unlocked(key, store.kdf, store.id)
        self._upgrade(store)
        return True

    def _secret_files(self) -> list[tuple[KeyRecord, dict]]:
        return [(rec, data) for rec, data in self._load_all() if rec.has_secret]

    def _unlock_read_only(self, passphrase: str, problem: str, store: _Store | None, key: bytes | None) -> bool:
        """Fall back to the key files of this keystore; True when the passphrase opens one."""
        derived = {store.kdf: key} if store and key else {}
        for rec, data in self._secret_files():
            try:
                kdf = envelope.kdf_of(data["secret"])
                if store and kdf.salt != store.kdf.salt:
                    continue  # another keystore's file: its passphrase is not this keystore's
                if kdf not in derived and len(derived) >= 2:
                    continue  # yet other parameters: not one Argon2 run per hostile file
                derived[kdf] = derived.get(kdf) or kdf.derive(passphrase)
                self._set_unlocked(derived[kdf], kdf, rec.keystore)
                self._unseal(rec, data["secret"])
            except KeystoreError:
                self.lock()
                continue
            self._read_only = f"{problem} (key '{rec.name}' opens with this passphrase)"
            self.notes.append(f"{self._read_only}: the keys open for reading and export only")
            return True
        return False

    def master_key(self) -> bytes | None:
        """The derived key verified against keystore.json (what the OS keyring may remember)."""
        return self._key if self._read_only is None else None

    def lock(self) -> None:
        self._set_unlocked(None, None, None)

    def take_notes(self) -> list[str]:
        notes, self.notes = self.notes, []
        return notes

    def _require_unlocked(self) -> None:
        if not self.unlocked:
            raise KeystoreError("the keystore is locked; unlock it with its passphrase")

    def _require_verified(self) -> None:
        """Held under the lock before a change that needs the passphrase: it must be this keystore's."""
        self._require_unlocked()
        if self._read_only:
            raise KeystoreError(f"{self._read_only}: no key is added or deleted until keystore.json is restored "
                                f"from a backup; nothing was changed")
        try:
            store = self._read_store()
            same = store.id == self._store_id and store.kdf == self._kdf and self._check_opens(store, self._key)
        except KeystoreError:
            same = False
        if not same:
            raise KeystoreError("keystore.json changed since the keystore was unlocked (by another process?); "
                                "unlock again; nothing was changed")

    # ----- format 1 -> 2 -----

    def _upgrade(self, store: _Store) -> None:
        """Re-seal format-1 files with the keystore id bound in; only files this key opens."""
        if store.version >= STORE_VERSION and all(rec.version >= KEY_VERSION for rec, _ in self._secret_files()):
            return
        try:
            with self._locked():
                self._require_verified()
                resealed = []
                if self._read_store().version < STORE_VERSION:
                    self._write_store(self._store_id, self._kdf, self._key)
                    resealed.append("keystore.json")
                for rec, data in self._secret_files():
                    if rec.version >= KEY_VERSION:
                        continue
                    try:
                        plain = self._unseal(rec, data["secret"])
                    except KeystoreError as exc:
                        self.notes.append(f"not upgraded: {exc}")
                        continue
                    write_json_atomic(rec.file, self._key_file(rec, plain))
                    resealed.append(_shown(rec.file))
        except (OSError, GonkaError) as exc:  # a read-only disk: the old format still opens
            self.notes.append(f"the keystore could not be upgraded to format {STORE_VERSION} "
                              f"({getattr(exc, 'strerror', None) or exc}); it opens as before")
            return
        if resealed:
            self.notes.append(f"upgraded the keystore to format {STORE_VERSION}, which seals the keystore id into "
                              f"keystore.json and every key file: re-sealed {', '.join(resealed)}")

    def _key_file(self, rec: KeyRecord, plaintext: bytes | None) -> dict:
        """The format-2 file of `rec`, its secret (if any) sealed for this keystore."""
        data: dict = {"format": KEY_FORMAT, "version": KEY_VERSION, "id": rec.id, "name": rec.name,
                      "kind": rec.kind, "address": rec.address, "pubkey": rec.pubkey, "path": rec.path,
                      "created": rec.created}
        if plaintext is not None:
            data["keystore"] = self._store_id
            context = _secret_context(rec, self._store_id, KEY_VERSION)
            data["secret"] = envelope.seal(self._key, self._kdf, plaintext, context)
        return data

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
        validate_name(name)
        with self._locked():
            if secret is not None:
                self._require_verified()
            self._check_new(name, address)  # under the lock: what another process added counts
            ensure_private_dir(self.keys_dir)
            rec = KeyRecord(id=secrets.token_hex(8), name=name, kind=kind, address=address,
                            pubkey=pubkey.hex() if pubkey else None, path=str(path) if path else None,
                            created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), file=Path())
            file = self.keys_dir / f"{rec.id}.json"
            plaintext = json.dumps(secret).encode("utf-8") if secret is not None else None
            write_json_atomic(file, self._key_file(rec, plaintext))
            return self._load_key(file)[0]

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
        """A new label; no passphrase, as the name is public and not sealed (nor is add-watch's)."""
        with self._locked():
            rec = self.get(old)
            if new == old:
                return rec
            self.ensure_name_free(new)
            data = self._load_json(rec.file, "key file")
            data["name"] = new
            write_json_atomic(rec.file, data)
            return self._load_key(rec.file)[0]

    def delete(self, name: str) -> KeyRecord:
        """Remove a key; one with a secret only with this keystore's passphrase verified."""
        with self._locked():
            rec = self.get(name)
            if rec.has_secret:
                self._require_verified()
            rec.file.unlink()
            return rec

    # ----- secrets (unlock needed) -----

    def _unseal(self, rec: KeyRecord, env: dict) -> bytes:
        """The plaintext of `rec`'s secret, only if it was sealed for this keystore under its key."""
        label = f"'{rec.name}' ({_shown(rec.file)})"
        if rec.version >= KEY_VERSION and rec.keystore != self._store_id:
            raise KeystoreError(f"{label} belongs to another keystore (id {rec.keystore}): it was copied here "
                                f"and is not used")
        try:
            kdf = envelope.kdf_of(env)
        except envelope.EnvelopeCorrupt as exc:
            raise KeystoreError(f"the secret of {label} is refused ({exc}); the other keys are unaffected") from None
        if kdf != self._kdf:
            # Every secret is sealed with keystore.json's parameters and salt; another salt is
            # another keystore's file (or an altered one), whatever passphrase would open it.
            raise KeystoreError(f"the secret of {label} was sealed under another keystore's key-derivation "
                                f"parameters: the file belongs to another keystore or was altered; it is not used")
        if env.get("context") != _secret_context(rec, self._store_id, rec.version):
            raise KeystoreError(f"the secret of {label} is not sealed for this key: the file was altered")
        try:
            return envelope.open_sealed(self._key, env)
        except envelope.EnvelopeAuthFailed:
            raise KeystoreError(
                f"the secret of {label} does not decrypt although the passphrase is right: its file is corrupt or was altered"
            ) from None
        except envelope.EnvelopeCorrupt as exc:
            raise KeystoreError(f"the secret of {label} is corrupt ({exc}); the other keys are unaffected") from None

    def secret(self, name: str) -> KeySecret:
        rec = self.get(name)
        if not rec.has_secret:
            raise KeystoreError(f"'{name}' is watch-only: the keystore holds its address, not its key")
        self._require_unlocked()
        rec, data = self._load_key(rec.file)
        plain = self._unseal(rec, data["secret"])
        try:
            payload = _parse_json(plain)
            if rec.kind == KIND_MNEMONIC:
                secret = KeySecret(KIND_MNEMONIC, mnemonic=normalize_mnemonic(_text(payload, "mnemonic")),
                                   path=HDPath.parse(rec.path))
            else:
                secret = KeySecret(KIND_HEX, private_key=bytes.fromhex(_text(payload, "private_key", _PRIVATE_KEY_RE)))
            derived = self._derive(secret)
        except (ValueError, TypeError, AttributeError):
            raise KeystoreError(f"the secret of '{name}' is corrupt; the other keys are unaffected") from None
        if (derived.address, derived.pubkey.hex()) != (rec.address, rec.pubkey):
            raise KeystoreError(f"the secret of '{name}' does not match its address; the key file was altered")
        return secret

    def _derive(self, secret: KeySecret) -> DerivedKey:
        if secret.mnemonic is not None:
            return derive_key(secret.mnemonic, secret.path or HDPath(), self.hrp)
        return key_from_private(secret.private_key, self.hrp)

    def signing_key(self, name: str) -> DerivedKey:
        return self._derive(self.secret(name))


def _unaffected(what: str) -> str:
    return "; the other keys are unaffected" if what == "key file" else ""
