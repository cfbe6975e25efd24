"""Who a recipient is: an address, a contact or one of your accounts, and what to call it."""

from __future__ import annotations

from dataclasses import dataclass

from gonka_tui.core.address import HRP, normalize_address
from gonka_tui.core.address_book import Contact
from gonka_tui.core.errors import InputError
from gonka_tui.core.keystore import KeyRecord


@dataclass(frozen=True)
class Recipient:
    address: str
    label: str | None  # "contact 'bob'", "your account 'main'", None for a bare address


def label_for(address: str, records: list[KeyRecord], contacts: list[Contact]) -> str | None:
    for rec in records:
        if rec.address == address:
            return f"your account '{rec.name}'"
    for c in contacts:
        if c.address == address:
            return f"contact '{c.name}'"
    return None


def resolve_recipient(text: str, records: list[KeyRecord], contacts: list[Contact]) -> Recipient:
    """An account name, a contact name or an address; InputError says exactly what is wrong."""
    value = (text or "").strip()
    if not value:
        raise InputError("enter an address (gonka1…), a contact or one of your account names")
    for rec in records:
        if rec.name == value:
            return Recipient(rec.address, f"your account '{rec.name}'")
    for c in contacts:
        if c.name == value:
            return Recipient(c.address, f"contact '{c.name}'")
    try:
        address = normalize_address(value)
    except InputError as exc:
        if not value.lower().startswith(HRP) and len(value) < 30:  # a name, not an address attempt
            raise InputError(f"no contact or account is named '{value}', and it is not an address") from None
        raise exc
    return Recipient(address, label_for(address, records, contacts))


def known_addresses(records: list[KeyRecord], book) -> list[tuple[str, str]]:
    """(label, address) of every address the user knows, for the look-alike guard: contacts first,
    then your accounts, then the addresses sent to before."""
    contacts = [(f"contact '{c.name}'", c.address) for c in book.contacts()]
    own = [(f"your account '{r.name}'", r.address) for r in records]
    named = {a for _, a in contacts + own}
    recent = [("the address you sent to before", r.address) for r in book.recent() if r.address not in named]
    return contacts + own + recent
