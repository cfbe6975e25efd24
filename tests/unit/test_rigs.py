"""core/rigs.py: the rigs the app watches, their tokens sealed under the keystore's key."""

from __future__ import annotations

import json
import os
import stat

import pytest

from gonka_tui.core.errors import InputError, KeystoreError
from gonka_tui.core.keystore import Keystore
from gonka_tui.core.rigs import LOCKED, RigBook, RigsError
from tests.conftest import PASSPHRASE

TOKEN = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
URL = "http://127.0.0.1:26681"


@pytest.fixture
def book(tmp_path, ks):
    return RigBook(tmp_path / "data", ks)


def raw(book: RigBook) -> bytes:
    return book.file.read_bytes()


def test_a_rig_is_listed_without_unlocking_and_its_token_opens_only_unlocked(book, ks, tmp_path):
    book.add("rig-2", URL + "/", TOKEN)
    assert TOKEN.encode() not in raw(book)
    assert stat.S_IMODE(os.stat(book.file).st_mode) == 0o600
    ks.lock()
    fresh = RigBook(tmp_path / "data", Keystore(ks.root))
    [rig] = fresh.list()
    assert (rig.name, rig.url) == ("rig-2", URL)  # the trailing slash is gone
    assert TOKEN not in repr(rig)
    with pytest.raises(KeystoreError) as err:
        fresh.token(rig)
    assert str(err.value) == LOCKED
    fresh.keystore.unlock(PASSPHRASE)
    address = fresh.address(rig)
    assert (address.url, address.token) == (URL, TOKEN)


def test_adding_needs_the_keystore_unlocked_and_changes_nothing_when_locked(book, ks):
    ks.lock()
    with pytest.raises(KeystoreError, match="locked"):
        book.add("rig-2", URL, TOKEN)
    assert not book.file.exists() and book.list() == []


def test_bad_input_is_one_clear_error_and_never_echoes_the_token(book):
    with pytest.raises(InputError, match="rig name"):
        book.add("rig two", URL, TOKEN)
    with pytest.raises(InputError, match="http://127.0.0.1:26680"):
        book.add("rig-2", "10.0.0.7:26680", TOKEN)
    with pytest.raises(InputError) as err:
        book.add("rig-2", URL, "secret with spaces")
    assert "secret" not in str(err.value)
    with pytest.raises(InputError, match="empty"):
        book.add("rig-2", URL, "  ")
    assert not book.file.exists()


def test_names_and_urls_are_unique(book):
    book.add("rig-2", URL, TOKEN)
    with pytest.raises(InputError, match="already added"):
        book.add("rig-2", "http://10.0.0.8:26680", TOKEN)
    with pytest.raises(InputError, match="already added as 'rig-2'"):
        book.add("rig-3", URL, TOKEN)
    assert [r.name for r in book.list()] == ["rig-2"]


def test_remove_forgets_the_rig_and_its_sealed_token(book):
    book.add("rig-2", URL, TOKEN)
    book.add("rig-3", "http://10.0.0.8:26680", "other-token")
    book.remove("rig-2")
    assert [r.name for r in book.list()] == ["rig-3"]
    assert book.token(book.get("rig-3")) == "other-token"
    with pytest.raises(InputError, match="no rig named"):
        book.remove("rig-2")


def test_a_url_edited_in_the_file_does_not_get_the_token(book):
    """Pointing a rig elsewhere by editing rigs.json must not send its token there."""
    book.add("rig-2", URL, TOKEN)
    data = json.loads(raw(book))
    data["rigs"][0]["url"] = "http://evil.example:26680"
    book.file.write_text(json.dumps(data))
    [rig] = book.list()
    with pytest.raises(RigsError, match="does not open with this keystore") as err:
        book.token(rig)
    assert TOKEN not in str(err.value)


def test_a_file_from_another_keystore_is_refused(book, tmp_path):
    book.add("rig-2", URL, TOKEN)
    other = Keystore(tmp_path / "other-keystore")
    other.initialize(PASSPHRASE)  # the same passphrase, another keystore (salt and id)
    stolen = RigBook(book.file.parent, other)
    with pytest.raises(RigsError, match="remove the rig and add it again"):
        stolen.token(stolen.get("rig-2"))


@pytest.mark.parametrize("content", [b"{not json", b'{"format": "gonka-rigs", "version": 1, "rigs": {}}',
                                     b'{"format": "other", "version": 1, "rigs": []}',
                                     b'{"format": "gonka-rigs", "version": 1, "rigs": [{"name": "a", "url": "x", '
                                     b'"token": {}}]}'])
def test_a_damaged_file_is_one_clear_error(book, content):
    book.file.parent.mkdir(parents=True, exist_ok=True)
    book.file.write_bytes(content)
    with pytest.raises(RigsError, match="remove it to start a new list"):
        book.list()
    with pytest.raises(RigsError):
        book.add("rig-2", URL, TOKEN)
    assert book.file.read_bytes() == content  # nothing was changed


def test_a_symlinked_file_is_refused(book, tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    book.file.parent.mkdir(parents=True, exist_ok=True)
    book.file.symlink_to(target)
    with pytest.raises(RigsError, match="symbolic link"):
        book.list()
