"""Other machines' miner agents that the app watches (the Rigs screen): a name and a URL each, kept in
`<home>/rigs.json`, with the agent's bearer token sealed under the keystore's key.

The names and URLs can be listed while the keystore is locked; a token is sealed and opened only with
it unlocked, with keystore.json's KDF parameters (as every key secret is), and the associated data binds
the keystore id, the rig's name and its URL: a file copied from another keystore, or one whose URL was
edited to send the token elsewhere, is refused instead of leaking it. A token never reaches a plain file,
a log or a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from gonka_tui.core import envelope, strict_json
from gonka_tui.core.errors import GonkaError, InputError, KeystoreError, shown
from gonka_tui.core.fileio import RefusedFile, ensure_private_dir, locked, read_regular_file, write_json_atomic
from gonka_tui.core.keystore import Keystore
from gonka_tui.miner.agent_client import AgentAddress, validate_agent_url

RIGS_FILE = "rigs.json"
FORMAT = "gonka-rigs"
VERSION = 1
MAX_FILE_BYTES = 256 * 1024
MAX_RIGS = 64
MAX_TOKEN_CHARS = 512
_PURPOSE = "rig-token"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: what goes into a header
LOCKED = "the keystore is locked: rigs' tokens are kept in it; unlock it to add or watch rigs"


class RigsError(GonkaError):
    """rigs.json is damaged or refused; the message says what to do. Nothing was changed."""


@dataclass(frozen=True)
class Rig:
    """One watched agent, as listed: safe to show (the token stays sealed)."""

    name: str
    url: str
    sealed: dict = field(repr=False, compare=False)


def validate_rig_name(name: str) -> str:
    text = name.strip() if isinstance(name, str) else name
    if not isinstance(text, str) or not _NAME_RE.fullmatch(text):
        raise InputError(f"rig name {shown(name, 40)} is not allowed: use 1-32 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return text


def validate_token(token: str) -> str:
    text = token.strip() if isinstance(token, str) else ""
    if not text:
        raise InputError("the agent's token is empty: it is in <home>/miner/token on the rig")
    if len(text) > MAX_TOKEN_CHARS or not _TOKEN_RE.fullmatch(text):
        # Never echo it back: it is a secret, even when malformed.
        raise InputError(f"the agent's token must be up to {MAX_TOKEN_CHARS} printable characters without spaces")
    return text


class RigBook:
    """The rigs of one home. Every change is written atomically under an inter-process lock."""

    def __init__(self, data_dir: Path, keystore: Keystore) -> None:
        self.file = Path(data_dir) / RIGS_FILE
        self.keystore = keystore

    # ----- reading (no unlock needed) -----

    def list(self) -> list[Rig]:
        if not self.file.exists():
            return []
        try:
            raw = read_regular_file(self.file, MAX_FILE_BYTES)
        except RefusedFile as exc:
            raise RigsError(f"{self.file} {exc}; remove it to start a new list of rigs") from None
        except OSError as exc:
            raise RigsError(f"cannot read {self.file}: {exc.strerror}") from None
        try:
            data = strict_json.loads(raw, max_int_digits=20)
            return self._parse(data)
        except (ValueError, TypeError) as exc:
            raise RigsError(f"{self.file} is corrupt ({exc}); remove it to start a new list of rigs") from None

    @staticmethod
    def _parse(data: object) -> list[Rig]:
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ValueError("not a gonka rigs file")
        items = data.get("rigs")
        if not isinstance(items, list) or len(items) > MAX_RIGS:
            raise ValueError("'rigs' is not a list of rigs")
        rigs: list[Rig] = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("token"), dict):
                raise ValueError("a rig is malformed")
            name, url = item.get("name"), item.get("url")
            if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or not isinstance(url, str):
                raise ValueError("a rig's name or URL is malformed")
            try:
                if validate_agent_url(url) != url:
                    raise ValueError("a rig's URL is malformed")
            except InputError:
                raise ValueError("a rig's URL is malformed") from None
            if any(r.name == name for r in rigs):
                raise ValueError(f"the rig name '{name}' appears twice")
            rigs.append(Rig(name, url, item["token"]))
        return rigs

    def get(self, name: str) -> Rig:
        rigs = self.list()
        for rig in rigs:
            if rig.name == name:
                return rig
        raise InputError(f"no rig named {shown(name, 40)} (rigs: {', '.join(r.name for r in rigs) or 'none yet'})")

    # ----- tokens (unlock needed) -----

    def _key(self) -> tuple[bytes, envelope.KdfParams, str]:
        """The keystore's verified key, its KDF parameters and id; one clear error when locked."""
        if not self.keystore.unlocked:
            raise KeystoreError(LOCKED)
        key, store_id = self.keystore.master_key(), self.keystore.store_id()
        if key is None or store_id is None:
            raise KeystoreError("the keystore opened for reading only (keystore.json is damaged): rigs' tokens "
                                "cannot be sealed or opened until it is restored")
        try:
            check = strict_json.loads(read_regular_file(self.keystore.store_file, 64 * 1024), max_int_digits=20)
            kdf = envelope.kdf_of(check.get("check") if isinstance(check, dict) else None)
        except (OSError, RefusedFile, ValueError, envelope.EnvelopeCorrupt):
            raise KeystoreError("keystore.json cannot be read: rigs' tokens cannot be sealed or opened") from None
        return key, kdf, store_id

    @staticmethod
    def _context(store_id: str, name: str, url: str) -> dict:
        return {"purpose": _PURPOSE, "keystore": store_id, "name": name, "url": url}

    def token(self, rig: Rig) -> str:
        key, kdf, store_id = self._key()
        env = rig.sealed
        try:
            if envelope.kdf_of(env) != kdf or env.get("context") != self._context(store_id, rig.name, rig.url):
                raise envelope.EnvelopeAuthFailed("sealed for another keystore, name or URL")
            return envelope.open_sealed(key, env).decode("utf-8")
        except (envelope.EnvelopeCorrupt, envelope.EnvelopeAuthFailed, UnicodeDecodeError):
            raise RigsError(f"the token of rig '{rig.name}' does not open with this keystore (the file was copied "
                            "from another machine or altered): remove the rig and add it again") from None

    def address(self, rig: Rig) -> AgentAddress:
        return AgentAddress(rig.url, self.token(rig))

    # ----- changes -----

    def add(self, name: str, url: str, token: str) -> Rig:
        name, url, token = validate_rig_name(name), validate_agent_url(url), validate_token(token)
        key, kdf, store_id = self._key()
        with self._locked():
            rigs = self.list()
            for rig in rigs:
                if rig.name == name:
                    raise InputError(f"a rig named '{name}' is already added")
                if rig.url == url:
                    raise InputError(f"{url} is already added as '{rig.name}'")
            if len(rigs) >= MAX_RIGS:
                raise InputError(f"at most {MAX_RIGS} rigs can be added")
            sealed = envelope.seal(key, kdf, token.encode("utf-8"), self._context(store_id, name, url))
            added = Rig(name, url, sealed)
            self._write([*rigs, added])
        return added

    def remove(self, name: str) -> Rig:
        with self._locked():
            rigs = self.list()
            rig = next((r for r in rigs if r.name == name), None)
            if rig is None:
                raise InputError(f"no rig named {shown(name, 40)}")
            self._write([r for r in rigs if r.name != name])
        return rig

    def _write(self, rigs: list[Rig]) -> None:
        write_json_atomic(self.file, {"format": FORMAT, "version": VERSION,
                                      "rigs": [{"name": r.name, "url": r.url, "token": r.sealed} for r in rigs]})

    def _locked(self):
        ensure_private_dir(self.file.parent)
        return _held(self.file.with_name(".rigs.lock"))


class _held:
    """The lock around a change, with one clear error when another process keeps it."""

    def __init__(self, path: Path) -> None:
        self._cm = locked(path)

    def __enter__(self):
        try:
            return self._cm.__enter__()
        except TimeoutError:
            raise RigsError("the list of rigs is busy: another gonka process is changing it") from None

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)
