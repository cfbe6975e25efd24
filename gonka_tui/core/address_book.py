"""The address book, the addresses sent to before, and the look-alike guard.

Address poisoning sends dust from an address that shares the first and last characters of
one the victim uses, hoping it gets copied from history. So a recipient that resembles, but
is not, an address used before (same head and tail, or a few characters apart) is flagged.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gonka_tui.core.address import HRP, normalize_address
from gonka_tui.core.errors import InputError, KeystoreError
from gonka_tui.core import strict_json
from gonka_tui.core.fileio import ensure_private_dir, locked, read_regular_file, write_json_atomic
from gonka_tui.core.keystore import validate_name

FORMAT = "gonka-address-book"
HEAD, TAIL = 4, 4  # characters after "gonka1" and at the end that poisoning copies
MAX_DISTANCE = 3
MAX_FILE_BYTES = 1024 * 1024  # ~5,000 contacts; the file is read whole on every look-up


def _check_shape(data: object) -> None:
    """ValueError unless `data` is an address book whose entries have the fields and types we use."""
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("contacts"), list):
        raise ValueError("not an address book")
    for c in data["contacts"]:
        if not (isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("address"), str)
                and isinstance(c.get("note", ""), str)):
            raise ValueError("a malformed contact")
    recent = data.get("recent", [])
    if not isinstance(recent, list):
        raise ValueError("a malformed recent list")
    for r in recent:
        if not (isinstance(r, dict) and isinstance(r.get("address"), str)
                and type(r.get("count")) is int and type(r.get("last_used")) in (int, float)):
            raise ValueError("a malformed recent recipient")


@dataclass(frozen=True)
class Contact:
    name: str
    address: str
    note: str = ""


@dataclass(frozen=True)
class Recent:
    address: str
    last_used: float
    count: int


class AddressBook:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _load(self) -> dict:
        if not os.path.lexists(self.path):
            return {"format": FORMAT, "version": 1, "contacts": [], "recent": []}
        try:  # a hostile file (a FIFO, a link to /dev/zero, 200,000 brackets) is an error, not a hang
            data = strict_json.loads(read_regular_file(self.path, MAX_FILE_BYTES), max_int_digits=20)
            _check_shape(data)
            return data
        except (ValueError, OSError):
            raise KeystoreError(f"the address book {self.path} is corrupt; move it away to start a new one") from None

    @contextmanager
    def _changing(self):
        """The book, read under an inter-process lock and saved when the block ends: two processes
        recording a use at once both count."""
        ensure_private_dir(self.path.parent)
        with locked(self.path.with_name(f".{self.path.name}.lock")):
            data = self._load()
            yield data
            write_json_atomic(self.path, data)

    def contacts(self) -> list[Contact]:
        return sorted((Contact(c["name"], c["address"], c.get("note", "")) for c in self._load()["contacts"]),
                      key=lambda c: c.name.lower())

    def recent(self) -> list[Recent]:
        return sorted((Recent(r["address"], r["last_used"], r["count"]) for r in self._load().get("recent", [])),
                      key=lambda r: -r.last_used)

    def add(self, name: str, address: str, note: str = "") -> Contact:
        validate_name(name)
        address = normalize_address(address)
        with self._changing() as data:
            for c in data["contacts"]:
                if c["name"] == name:
                    raise InputError(f"the address book already has '{name}'")
                if c["address"] == address:
                    raise InputError(f"{address} is already in the address book as '{c['name']}'")
            data["contacts"].append({"name": name, "address": address, "note": note})
        return Contact(name, address, note)

    def remove(self, name: str) -> None:
        with self._changing() as data:
            kept = [c for c in data["contacts"] if c["name"] != name]
            if len(kept) == len(data["contacts"]):
                raise InputError(f"no contact named '{name}'")
            data["contacts"] = kept

    def lookup(self, name: str) -> Contact | None:
        return next((c for c in self.contacts() if c.name == name), None)

    def record_use(self, address: str, now: float | None = None) -> None:
        with self._changing() as data:
            recent = data.setdefault("recent", [])
            for r in recent:
                if r["address"] == address:
                    r["last_used"], r["count"] = now or time.time(), r["count"] + 1
                    break
            else:
                recent.append({"address": address, "last_used": now or time.time(), "count": 1})
            data["recent"] = sorted(recent, key=lambda r: -r["last_used"])[:200]


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, stopping early once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def lookalikes(candidate: str, known: list[tuple[str, str]], hrp: str = HRP) -> list[tuple[str, str]]:
    """Known (label, address) pairs that resemble `candidate` without being it."""
    body = candidate[len(hrp) + 1:]
    hits = []
    for label, address in known:
        if address == candidate:
            continue
        other = address[len(hrp) + 1:]
        same_ends = body[:HEAD] == other[:HEAD] and body[-TAIL:] == other[-TAIL:]
        if same_ends or _distance(body, other, MAX_DISTANCE) <= MAX_DISTANCE:
            hits.append((label, address))
    return hits
