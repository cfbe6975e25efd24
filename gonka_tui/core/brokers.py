"""The inference brokers of one home: a name and an OpenAI `base_url` each (ending in /v1), kept in
`<home>/brokers.json`, with the broker's API key sealed under the keystore's key exactly as rigs' tokens
are (core/sealed_book.py): listed while locked, opened only unlocked, refused when the file was copied
from another keystore or a URL was edited to send the key elsewhere. The key is never in a plain file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gonka_tui.core import sealed_book
from gonka_tui.core.errors import GonkaError, InputError, shown
from gonka_tui.core.keystore import Keystore

BROKERS_FILE = "brokers.json"
FORMAT = "gonka-brokers"
VERSION = 1
MAX_BROKERS = 64
MAX_KEY_CHARS = 4096
MAX_URL_CHARS = 300
LOCKED = "the keystore is locked: brokers' API keys are kept in it; unlock it to add or use a broker"
EXAMPLE = "https://api.openbroker.gonka.gg/v1"
_HOST_RE = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


class BrokersError(GonkaError):
    """brokers.json is damaged or refused; the message says what to do. Nothing was changed."""


@dataclass(frozen=True)
class Broker:
    """One broker as listed: safe to show (its API key stays sealed in the file)."""

    name: str
    url: str


def validate_broker_url(url: str) -> str:
    """The OpenAI base_url of a broker: http(s)://host[:port]/…/v1, no credentials, query or fragment."""
    text = url.strip().rstrip("/") if isinstance(url, str) else ""
    wrong = f"a broker's URL is its OpenAI base_url, ending in /v1, e.g. {EXAMPLE}"
    if not text or len(text) > MAX_URL_CHARS or any(c.isspace() or not c.isprintable() for c in text):
        raise InputError(wrong)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"{shown(text, 60)} is not an http(s) URL; {wrong}")
    if "@" in parts.netloc:  # user:password@host would put a secret into a plain file
        raise InputError("a broker's URL must not hold a user or password: the API key is asked for separately")
    if not _HOST_RE.fullmatch(parts.netloc) or parts.query or parts.fragment or "#" in text or "?" in text:
        raise InputError(f"{shown(text, 60)} is not a plain base URL; {wrong}")
    if not parts.path.endswith("/v1"):
        raise InputError(f"{shown(text, 60)} does not end in /v1; {wrong}")
    return text


def validate_broker_name(name: str) -> str:
    return sealed_book.validate_name(KIND, name)


def validate_api_key(key: str) -> str:
    # Never echoed back, even when malformed: it is a secret.
    return sealed_book.validate_secret(key, MAX_KEY_CHARS, "the broker's API key is empty", "the broker's API key")


KIND = sealed_book.BookKind(BROKERS_FILE, FORMAT, VERSION, items="brokers", secret_field="api_key",
                            purpose="broker-api-key", entry="broker", secret="API key", locked=LOCKED,
                            error=BrokersError, validate_url=validate_broker_url, max_items=MAX_BROKERS)


class BrokerBook:
    """The brokers of one home. Every change is written atomically under an inter-process lock."""

    def __init__(self, data_dir: Path, keystore: Keystore) -> None:
        self._book = sealed_book.SealedBook(data_dir, keystore, KIND)
        self.file = self._book.file
        self.keystore = keystore

    def list(self) -> list[Broker]:
        return [Broker(e.name, e.url) for e in self._book.entries()]

    def get(self, name: str) -> Broker:
        e = self._book.find(name)
        return Broker(e.name, e.url)

    def has(self, name: str) -> bool:
        return any(b.name == name for b in self.list())

    def api_key(self, name: str) -> str:
        """The broker's API key (the keystore must be unlocked)."""
        return self._book.open_secret(self._book.find(name))

    def add(self, name: str, url: str, api_key: str) -> Broker:
        name, url, api_key = validate_broker_name(name), validate_broker_url(url), validate_api_key(api_key)
        e = self._book.add(name, url, api_key)
        return Broker(e.name, e.url)

    def remove(self, name: str) -> Broker:
        e = self._book.remove(name)
        return Broker(e.name, e.url)
