"""A small JSON book of named entries, each with a URL and one secret sealed under the keystore's key.

The rigs the app watches (core/rigs.py: an agent's bearer token) and the brokers inference is bought
from (core/brokers.py: an API key) are kept this way. Names and URLs can be listed while the keystore
is locked; a secret is sealed and opened only with it unlocked, with keystore.json's KDF parameters (as
every key secret is), and the associated data binds the keystore id, the entry's name and its URL: a
file copied from another keystore, or one whose URL was edited to send the secret elsewhere, is refused
instead of leaking it. A secret never reaches a plain file, a log or a message. Files are 0600 and
written atomically under an inter-process lock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gonka_tui.core import envelope, strict_json
from gonka_tui.core.errors import GonkaError, InputError, KeystoreError, shown
from gonka_tui.core.fileio import RefusedFile, ensure_private_dir, locked, read_regular_file, write_json_atomic
from gonka_tui.core.keystore import Keystore

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
SECRET_RE = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: what goes into a header


@dataclass(frozen=True)
class BookKind:
    """What one kind of book holds and how its messages name things."""

    file_name: str  # e.g. "rigs.json"
    format: str  # the file's "format" field
    version: int
    items: str  # the key of the list in the file, e.g. "rigs"
    secret_field: str  # the key of the sealed secret in an entry, e.g. "token"
    purpose: str  # bound into the associated data: a rig's token never opens as a broker's key
    entry: str  # one entry in messages, e.g. "rig"
    secret: str  # its secret in messages, e.g. "token"
    locked: str  # the message when the keystore is locked
    error: type[GonkaError]  # raised for a damaged or refused file
    validate_url: Callable[[str], str]  # the URL as kept (raises InputError)
    max_items: int = 64
    max_bytes: int = 256 * 1024

    @property
    def secrets(self) -> str:  # "rigs' tokens"
        return f"{self.entry}s' {self.secret}s"

    @property
    def fresh(self) -> str:
        return f"remove it to start a new list of {self.entry}s"


@dataclass(frozen=True)
class Entry:
    """One named entry as listed: safe to show (the secret stays sealed)."""

    name: str
    url: str
    sealed: dict = field(repr=False, compare=False)


def validate_name(kind: BookKind, name: str) -> str:
    text = name.strip() if isinstance(name, str) else name
    if not isinstance(text, str) or not NAME_RE.fullmatch(text):
        raise InputError(f"{kind.entry} name {shown(name, 40)} is not allowed: use 1-32 letters, digits, '.', '_' "
                         "or '-', starting with a letter or digit")
    return text


def validate_secret(secret: str, max_chars: int, empty: str, what: str) -> str:
    """A secret as a user pasted it, stripped; `empty` and `what` word the errors (which never echo it)."""
    text = secret.strip() if isinstance(secret, str) else ""
    if not text:
        raise InputError(empty)
    if len(text) > max_chars or not SECRET_RE.fullmatch(text):
        raise InputError(f"{what} must be up to {max_chars} printable characters without spaces")
    return text


class SealedBook:
    """The file of one kind of book; the books (RigBook, BrokerBook) add their own entry type on top."""

    def __init__(self, data_dir: Path, keystore: Keystore, kind: BookKind) -> None:
        self.file = Path(data_dir) / kind.file_name
        self.keystore = keystore
        self.kind = kind

    # ----- reading (no unlock needed) -----

    def entries(self) -> list[Entry]:
        kind = self.kind
        if not self.file.exists():
            return []
        try:
            raw = read_regular_file(self.file, kind.max_bytes)
        except RefusedFile as exc:
            raise kind.error(f"{self.file} {exc}; {kind.fresh}") from None
        except OSError as exc:
            raise kind.error(f"cannot read {self.file}: {exc.strerror}") from None
        try:
            return self._parse(strict_json.loads(raw, max_int_digits=20))
        except (ValueError, TypeError) as exc:
            raise kind.error(f"{self.file} is corrupt ({exc}); {kind.fresh}") from None

    def _parse(self, data: object) -> list[Entry]:
        kind = self.kind
        if not isinstance(data, dict) or data.get("format") != kind.format or data.get("version") != kind.version:
            raise ValueError(f"not a gonka {kind.items} file")
        items = data.get(kind.items)
        if not isinstance(items, list) or len(items) > kind.max_items:
            raise ValueError(f"'{kind.items}' is not a list of {kind.entry}s")
        entries: list[Entry] = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get(kind.secret_field), dict):
                raise ValueError(f"a {kind.entry} is malformed")
            name, url = item.get("name"), item.get("url")
            if not isinstance(name, str) or not NAME_RE.fullmatch(name) or not isinstance(url, str):
                raise ValueError(f"a {kind.entry}'s name or URL is malformed")
            try:
                if kind.validate_url(url) != url:
                    raise ValueError(f"a {kind.entry}'s URL is malformed")
            except InputError:
                raise ValueError(f"a {kind.entry}'s URL is malformed") from None
            if any(e.name == name for e in entries):
                raise ValueError(f"the {kind.entry} name '{name}' appears twice")
            entries.append(Entry(name, url, item[kind.secret_field]))
        return entries

    def find(self, name: str) -> Entry:
        entries = self.entries()
        for entry in entries:
            if entry.name == name:
                return entry
        raise InputError(f"no {self.kind.entry} named {shown(name, 40)} ({self.kind.entry}s: "
                         f"{', '.join(e.name for e in entries) or 'none yet'})")

    # ----- secrets (unlock needed) -----

    def _key(self) -> tuple[bytes, envelope.KdfParams, str]:
        """The keystore's verified key, its KDF parameters and id; one clear error when locked."""
        if not self.keystore.unlocked:
            raise KeystoreError(self.kind.locked)
        key, store_id = self.keystore.master_key(), self.keystore.store_id()
        if key is None or store_id is None:
            raise KeystoreError(f"the keystore opened for reading only (keystore.json is damaged): {self.kind.secrets} "
                                "cannot be sealed or opened until it is restored")
        try:
            check = strict_json.loads(read_regular_file(self.keystore.store_file, 64 * 1024), max_int_digits=20)
            kdf = envelope.kdf_of(check.get("check") if isinstance(check, dict) else None)
        except (OSError, RefusedFile, ValueError, envelope.EnvelopeCorrupt):
            raise KeystoreError(f"keystore.json cannot be read: {self.kind.secrets} cannot be sealed or opened") from None
        return key, kdf, store_id

    def _context(self, store_id: str, name: str, url: str) -> dict:
        return {"purpose": self.kind.purpose, "keystore": store_id, "name": name, "url": url}

    def open_secret(self, entry: Entry) -> str:
        key, kdf, store_id = self._key()
        env = entry.sealed
        try:
            if envelope.kdf_of(env) != kdf or env.get("context") != self._context(store_id, entry.name, entry.url):
                raise envelope.EnvelopeAuthFailed("sealed for another keystore, name or URL")
            return envelope.open_sealed(key, env).decode("utf-8")
        except (envelope.EnvelopeCorrupt, envelope.EnvelopeAuthFailed, UnicodeDecodeError):
            e = self.kind.entry
            raise self.kind.error(f"the {self.kind.secret} of {e} '{entry.name}' does not open with this keystore (the "
                                  f"file was copied from another machine or altered): remove the {e} and add it "
                                  "again") from None

    # ----- changes -----

    def add(self, name: str, url: str, secret: str) -> Entry:
        """Add an entry whose name and URL the caller validated; both must be new."""
        key, kdf, store_id = self._key()
        e = self.kind.entry
        with self._locked():
            entries = self.entries()
            for entry in entries:
                if entry.name == name:
                    raise InputError(f"a {e} named '{name}' is already added")
                if entry.url == url:
                    raise InputError(f"{url} is already added as '{entry.name}'")
            if len(entries) >= self.kind.max_items:
                raise InputError(f"at most {self.kind.max_items} {e}s can be added")
            added = Entry(name, url, envelope.seal(key, kdf, secret.encode("utf-8"), self._context(store_id, name, url)))
            self._write([*entries, added])
        return added

    def remove(self, name: str) -> Entry:
        with self._locked():
            entries = self.entries()
            entry = next((x for x in entries if x.name == name), None)
            if entry is None:
                raise InputError(f"no {self.kind.entry} named {shown(name, 40)}")
            self._write([x for x in entries if x.name != name])
        return entry

    def _write(self, entries: list[Entry]) -> None:
        k = self.kind
        write_json_atomic(self.file, {"format": k.format, "version": k.version,
                                      k.items: [{"name": x.name, "url": x.url, k.secret_field: x.sealed}
                                                for x in entries]})

    def _locked(self):
        ensure_private_dir(self.file.parent)
        return _Held(self.file.with_name(f".{self.kind.items}.lock"), self.kind)


class _Held:
    """The lock around a change, with one clear error when another process keeps it."""

    def __init__(self, path: Path, kind: BookKind) -> None:
        self._cm = locked(path)
        self._kind = kind

    def __enter__(self):
        try:
            return self._cm.__enter__()
        except TimeoutError:
            raise self._kind.error(f"the list of {self._kind.entry}s is busy: another gonka process is changing "
                                   "it") from None

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)
