"""Issue 6, the same class of fault next to the keystore's: a hostile address book costs an error,
never a hang, a crash or the memory; two processes recording a use at once both count. And the
one strict JSON reader they (and the devnet) share refuses what later code would choke on."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gonka_tui.core import strict_json
from gonka_tui.core.address_book import AddressBook
from gonka_tui.core.errors import KeystoreError
from gonka_tui.config import resolve_home
from tests.conftest import ABANDON_1200

OK_BOOK = {"format": "gonka-address-book", "version": 1, "contacts": [], "recent": []}


def book_file(home: Path) -> Path:
    return resolve_home(str(home)).address_book_file


def hostile_books(path: Path):
    yield "6,000 digits", lambda: path.write_text('{"format": "gonka-address-book", "contacts": [], "n": ' + "9" * 6000 + "}")
    yield "200,000 brackets", lambda: path.write_text("[" * 200_000)
    yield "a contact as a number", lambda: path.write_text(json.dumps({**OK_BOOK, "contacts": [5]}))
    yield "a name as a list", lambda: path.write_text(json.dumps({**OK_BOOK, "contacts": [{"name": [], "address": "x"}]}))
    yield "a count as a float", lambda: path.write_text(json.dumps({**OK_BOOK, "recent": [
        {"address": ABANDON_1200, "last_used": 1.0, "count": 1.5}]}))
    yield "NaN", lambda: path.write_text('{"format": "gonka-address-book", "contacts": [], "x": NaN}')
    yield "not UTF-8", lambda: path.write_bytes(b'{"format": "\xff"}')
    yield "over 1 MiB", lambda: path.write_text(json.dumps({**OK_BOOK, "pad": "x" * (1024 * 1024)}))
    yield "a link to /dev/zero", lambda: path.symlink_to("/dev/zero")
    if hasattr(os, "mkfifo"):
        yield "a FIFO", lambda: os.mkfifo(path)


@pytest.mark.parametrize("case", [name for name, _ in hostile_books(Path("x"))])
def test_a_hostile_address_book_is_one_clear_error(home, case):
    path = book_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    dict(hostile_books(path))[case]()
    book = AddressBook(path)
    for call in (book.contacts, book.recent, lambda: book.lookup("bob"), lambda: book.record_use(ABANDON_1200)):
        with pytest.raises(KeystoreError, match="the address book .* is corrupt; move it away"):
            call()


def test_the_cli_says_the_book_is_corrupt_in_one_line(gonka, home):
    path = book_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    result = gonka("balance", "bob")  # a name: looked up in the book before any node is asked
    assert result.code == 1
    assert result.err.strip().count("\n") == 0 and "address book" in result.err and "corrupt" in result.err


def _record(path: str, address: str, times: int, barrier) -> None:
    barrier.wait()
    book = AddressBook(Path(path))
    for _ in range(times):
        book.record_use(address)


def test_uses_recorded_by_two_processes_at_once_all_count(home):
    path = book_file(home)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_record, args=(str(path), ABANDON_1200, 25, barrier)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    [recent] = AddressBook(path).recent()
    assert recent.count == 75


# ----- the shared strict reader -----

@pytest.mark.parametrize("text, why", [
    ("[" * 200_000, "nests deeper than 64 levels"),
    ("[" * 65 + "]" * 65, "nests deeper than 64 levels"),
    ("9" * 6000, "has a number of 6000 digits"),
    ("NaN", "has NaN, which is not a JSON number"),
    ("-Infinity", "has -Infinity"),
    ("1e999", "out of range"),
    ('"\\ud800"', "lone UTF-16 surrogate"),
    ('{"a": 1', "is not JSON"),
])
def test_strict_json_refuses_what_later_code_chokes_on(text, why):
    with pytest.raises(strict_json.JsonRefused, match=why):
        strict_json.loads(text)


def test_strict_json_takes_ordinary_documents():
    doc = {"a": [1, -2, 3.5, None, True, "é"], "b": {"c": "9" * 100}, "n": int("9" * 100)}
    assert strict_json.loads(json.dumps(doc).encode()) == doc
    assert strict_json.loads("[" * 64 + "]" * 64) is not None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_strict_json_fails_on_random_bytes_with_its_own_error_only(data):
    try:
        strict_json.loads(data)
    except strict_json.JsonRefused:
        pass
