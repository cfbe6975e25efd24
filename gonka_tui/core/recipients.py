"""Who an address is: your accounts and your contacts, for every front end.

One lookup serves the CLI's address arguments, the Send screen's To field, the names in
History and the look-alike guard (`address_book.lookalikes`), so they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from gonka_tui.core.address import HRP, normalize_address
from gonka_tui.core.address_book import AddressBook, Contact, Recent
from gonka_tui.core.errors import GonkaError, InputError
from gonka_tui.core.keystore import KeyRecord, Keystore

EMPTY = "enter an address (gonka1…), a contact or one of your account names"


@dataclass(frozen=True)
class Recipient:
    address: str
    label: str | None  # "contact 'bob'", "your account 'main'", None for a bare address


@dataclass(frozen=True)
class Known:
    """An address the user knows, for the look-alike guard."""

    address: str
    kind: str  # "contact", "account" or "recent"
    name: str = ""  # empty for an address sent to before

    @property
    def label(self) -> str:
        return {"contact": f"contact '{self.name}'", "account": f"your account '{self.name}'"}.get(
            self.kind, "the address you sent to before")


class UnknownRecipient(InputError):
    """Neither a name we know nor a valid address; `address_error` says what is wrong with it as an
    address, for a front end that words the refusal its own way (the CLI)."""

    def __init__(self, text: str, address_error: InputError) -> None:
        self.text, self.address_error = text, address_error
        if not text:
            message = EMPTY
        elif not text.lower().startswith(HRP) and len(text) < 30:  # a name, not an address attempt
            message = f"no contact or account is named '{text}', and it is not an address"
        else:
            message = str(address_error)
        super().__init__(message)


class Recipients:
    """Your accounts as they are now; the book is read when a lookup first needs it, so a damaged
    book stops only what needs it. With `damaged_book_ok` (labels), a damaged book counts as empty."""

    def __init__(self, keystore: Keystore, book: AddressBook, *, damaged_book_ok: bool = False) -> None:
        self.accounts: tuple[KeyRecord, ...] = tuple(keystore.list())
        self._book, self._damaged_book_ok = book, damaged_book_ok

    def _read(self, what):
        try:
            return tuple(what())
        except GonkaError:
            if not self._damaged_book_ok:
                raise
            return ()

    @cached_property
    def contacts(self) -> tuple[Contact, ...]:
        return self._read(self._book.contacts)

    @cached_property
    def recent(self) -> tuple[Recent, ...]:
        return self._read(self._book.recent)

    def resolve(self, text: str) -> Recipient:
        """An account name, a contact name or an address; InputError says exactly what is wrong."""
        value = (text or "").strip()
        for rec in self.accounts:
            if value and rec.name == value:
                return Recipient(rec.address, Known(rec.address, "account", rec.name).label)
        for c in self.contacts:
            if value and c.name == value:
                return Recipient(c.address, Known(c.address, "contact", c.name).label)
        try:
            address = normalize_address(value)
        except InputError as exc:
            raise UnknownRecipient(value, exc) from None
        return Recipient(address, self.label_for(address))

    def _owner(self, address: str) -> Known | None:
        """Whose the address is: your account's first, else the contact's."""
        for rec in self.accounts:
            if rec.address == address:
                return Known(address, "account", rec.name)
        for c in self.contacts:
            if c.address == address:
                return Known(address, "contact", c.name)
        return None

    def name_for(self, address: str) -> str | None:
        owner = self._owner(address)
        return owner.name if owner else None

    def label_for(self, address: str) -> str | None:
        """"your account 'main'" or "contact 'bob'"; None for an address we have no name for."""
        owner = self._owner(address)
        return owner.label if owner else None

    def known(self) -> list[Known]:
        """Every address the user knows: contacts first, then your accounts, then the addresses
        sent to before."""
        named = [Known(c.address, "contact", c.name) for c in self.contacts]
        named += [Known(r.address, "account", r.name) for r in self.accounts]
        seen = {k.address for k in named}
        return named + [Known(r.address, "recent") for r in self.recent if r.address not in seen]
