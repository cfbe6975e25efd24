"""Other machines' miner agents that the app watches (the Rigs screen): a name and a URL each, kept in
`<home>/rigs.json`, with the agent's bearer token sealed under the keystore's key.

The names and URLs can be listed while the keystore is locked; a token is sealed and opened only with
it unlocked, with keystore.json's KDF parameters (as every key secret is), and the associated data binds
the keystore id, the rig's name and its URL: a file copied from another keystore, or one whose URL was
edited to send the token elsewhere, is refused instead of leaking it. A token never reaches a plain file,
a log or a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gonka_tui.core import sealed_book
from gonka_tui.core.errors import GonkaError
from gonka_tui.core.keystore import Keystore
from gonka_tui.miner.agent_client import AgentAddress, validate_agent_url

RIGS_FILE = "rigs.json"
FORMAT = "gonka-rigs"
VERSION = 1
MAX_FILE_BYTES = 256 * 1024
MAX_RIGS = 64
MAX_TOKEN_CHARS = 512
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
    return sealed_book.validate_name(KIND, name)


def validate_token(token: str) -> str:
    # Never echoed back, even when malformed: it is a secret.
    return sealed_book.validate_secret(token, MAX_TOKEN_CHARS, "the agent's token is empty: it is in "
                                       "<home>/miner/token on the rig", "the agent's token")


KIND = sealed_book.BookKind(RIGS_FILE, FORMAT, VERSION, items="rigs", secret_field="token", purpose="rig-token",
                            entry="rig", secret="token", locked=LOCKED, error=RigsError,
                            validate_url=validate_agent_url, max_items=MAX_RIGS, max_bytes=MAX_FILE_BYTES)


class RigBook:
    """The rigs of one home. Every change is written atomically under an inter-process lock."""

    def __init__(self, data_dir: Path, keystore: Keystore) -> None:
        self._book = sealed_book.SealedBook(data_dir, keystore, KIND)
        self.file = self._book.file
        self.keystore = keystore

    def list(self) -> list[Rig]:
        return [Rig(e.name, e.url, e.sealed) for e in self._book.entries()]

    def get(self, name: str) -> Rig:
        e = self._book.find(name)
        return Rig(e.name, e.url, e.sealed)

    def token(self, rig: Rig) -> str:
        return self._book.open_secret(sealed_book.Entry(rig.name, rig.url, rig.sealed))

    def address(self, rig: Rig) -> AgentAddress:
        return AgentAddress(rig.url, self.token(rig))

    def add(self, name: str, url: str, token: str) -> Rig:
        name, url, token = validate_rig_name(name), validate_agent_url(url), validate_token(token)
        e = self._book.add(name, url, token)
        return Rig(e.name, e.url, e.sealed)

    def remove(self, name: str) -> Rig:
        e = self._book.remove(name)
        return Rig(e.name, e.url, e.sealed)
