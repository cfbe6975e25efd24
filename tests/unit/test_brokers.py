"""core/brokers.py: brokers' API keys sealed under the keystore's key (the same sealing as rigs' tokens)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from gonka_tui.core.brokers import LOCKED, BrokerBook, BrokersError, validate_broker_url
from gonka_tui.core.errors import InputError, KeystoreError
from gonka_tui.core.keystore import Keystore
from gonka_tui.core.rigs import RigBook
from tests.conftest import PASSPHRASE

KEY = "sk-live-0123456789abcdef0123456789abcdef"
URL = "https://api.openbroker.gonka.gg/v1"


@pytest.fixture
def book(tmp_path, ks):
    return BrokerBook(tmp_path / "data", ks)


def test_a_broker_is_listed_locked_and_its_key_opens_only_unlocked(book, ks, tmp_path):
    book.add("openbroker", URL + "/", KEY)
    raw = book.file.read_bytes()
    assert KEY.encode() not in raw and b"sk-live" not in raw
    assert stat.S_IMODE(os.stat(book.file).st_mode) == 0o600
    ks.lock()
    fresh = BrokerBook(tmp_path / "data", Keystore(ks.root))
    [broker] = fresh.list()
    assert (broker.name, broker.url) == ("openbroker", URL)
    assert KEY not in repr(broker)
    with pytest.raises(KeystoreError) as err:
        fresh.api_key("openbroker")
    assert str(err.value) == LOCKED
    fresh.keystore.unlock(PASSPHRASE)
    assert fresh.api_key("openbroker") == KEY


def test_a_url_edited_in_the_file_does_not_get_the_key(book):
    book.add("openbroker", URL, KEY)
    data = json.loads(book.file.read_text())
    data["brokers"][0]["url"] = "https://evil.example/v1"
    book.file.write_text(json.dumps(data))
    with pytest.raises(BrokersError, match="does not open with this keystore") as err:
        book.api_key("openbroker")
    assert KEY not in str(err.value)


def test_a_file_from_another_keystore_or_a_rigs_token_is_refused(book, tmp_path, ks):
    book.add("openbroker", URL, KEY)
    other = Keystore(tmp_path / "other-keystore")
    other.initialize(PASSPHRASE)
    with pytest.raises(BrokersError, match="remove the broker and add it again"):
        BrokerBook(book.file.parent, other).api_key("openbroker")
    # A rig's sealed token moved into brokers.json does not open as an API key (another purpose).
    rigs = RigBook(tmp_path / "data", ks)
    rigs.add("openbroker", "https://api.openbroker.gonka.gg/v1", "rig-token-123")
    data = json.loads(book.file.read_text())
    data["brokers"][0]["api_key"] = json.loads(rigs.file.read_text())["rigs"][0]["token"]
    book.file.write_text(json.dumps(data))
    with pytest.raises(BrokersError, match="does not open"):
        book.api_key("openbroker")


@pytest.mark.parametrize("url, words", [
    ("https://api.example.com", "does not end in /v1"),
    ("ftp://api.example.com/v1", "not an http(s) URL"),
    ("https://user:pw@api.example.com/v1", "must not hold a user or password"),
    ("https://api.example.com/v1?key=x", "not a plain base URL"),
    ("api.example.com/v1", "not an http(s) URL"),
    ("https://api example.com/v1", "base_url"),
])
def test_a_url_must_be_an_openai_base_url(book, url, words):
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        book.add("b", url, KEY)
    assert not book.file.exists()


def test_good_urls_keep_their_path_without_the_trailing_slash():
    assert validate_broker_url(" http://127.0.0.1:26600/broker/v1/ ") == "http://127.0.0.1:26600/broker/v1"


def test_names_keys_and_duplicates_are_one_clear_error_that_never_echoes_the_key(book):
    with pytest.raises(InputError, match="broker name"):
        book.add("open broker", URL, KEY)
    with pytest.raises(InputError) as err:
        book.add("b", URL, "secret with spaces")
    assert "secret" not in str(err.value)
    with pytest.raises(InputError, match="empty"):
        book.add("b", URL, "  ")
    book.add("b", URL, KEY)
    with pytest.raises(InputError, match="already added"):
        book.add("b", "https://other.example/v1", KEY)
    with pytest.raises(InputError, match="already added as 'b'"):
        book.add("c", URL, KEY)


def test_remove_forgets_the_broker_and_its_key(book):
    book.add("a", URL, KEY)
    book.add("b", "http://127.0.0.1:26600/broker/v1", "other-key")
    book.remove("a")
    assert [b.name for b in book.list()] == ["b"] and book.api_key("b") == "other-key"
    assert KEY.encode() not in book.file.read_bytes()
    with pytest.raises(InputError, match="no broker named"):
        book.remove("a")
    with pytest.raises(InputError, match=r"brokers: b"):
        book.api_key("a")


def test_a_damaged_file_is_one_clear_error_and_is_left_alone(book):
    book.file.parent.mkdir(parents=True, exist_ok=True)
    book.file.write_bytes(b'{"format": "gonka-brokers", "version": 1, "brokers": [{"name": "a"}]}')
    with pytest.raises(BrokersError, match="remove it to start a new list of brokers"):
        book.list()
    with pytest.raises(BrokersError):
        book.add("b", URL, KEY)
    assert b'"name": "a"' in book.file.read_bytes()
