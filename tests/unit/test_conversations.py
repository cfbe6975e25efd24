"""core/conversations.py: the Inference screen's local history in SQLite."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from gonka_tui.core.conversations import (CONVERSATIONS_FILE, MAX_TITLE_CHARS, ConversationsError,
                                          ConversationStore, title_from)
from gonka_tui.core.errors import InputError


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def store(tmp_path):
    s = ConversationStore(tmp_path / "data", clock=Clock())
    yield s
    s.close()


def test_newest_first_and_the_first_question_names_the_conversation(store, tmp_path):
    a = store.create(model="m", mode="signed:demo")
    b = store.create(model="m", mode="signed:demo")
    store.add_message(a.id, "user", "\n  What is   Gonka?\nSecond line")
    store.add_message(a.id, "assistant", "A network.", model="m")
    store.add_message(b.id, "user", "Hello")
    assert [c.id for c in store.list()] == [b.id, a.id]
    store.add_message(a.id, "user", "And more?")  # a new message moves it to the top; the title stays
    titles = [(c.id, c.title) for c in store.list()]
    assert titles == [(a.id, "What is Gonka?"), (b.id, "Hello")]
    assert stat.S_IMODE(os.stat(tmp_path / "data" / CONVERSATIONS_FILE).st_mode) == 0o600
    mode = store._open().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_messages_keep_tokens_costs_and_partial_marks_exactly(store, tmp_path):
    c = store.create(model="m")
    big = 2**70 + 12345  # beyond a float's exact range: must come back to the digit
    store.add_message(c.id, "user", "q")
    store.add_message(c.id, "assistant", "answer", model="m", prompt_tokens=12, completion_tokens=7,
                      cost_ngonka=big, cost_is_estimate=True)
    store.add_message(c.id, "assistant", "half", partial=True, note="stopped")
    again = ConversationStore(tmp_path / "data")  # another process, the same file
    msgs = again.messages(c.id)
    again.close()
    assert [(m.role, m.content) for m in msgs] == [("user", "q"), ("assistant", "answer"), ("assistant", "half")]
    assert (msgs[1].prompt_tokens, msgs[1].completion_tokens, msgs[1].cost_ngonka, msgs[1].cost_is_estimate) == (
        12, 7, big, True)
    assert (msgs[2].partial, msgs[2].note, msgs[2].cost_ngonka) == (True, "stopped", None)
    assert store.total_cost(c.id) == (big, True)


def test_rename_and_delete(store):
    a = store.create()
    b = store.create()
    store.add_message(a.id, "user", "first")
    store.add_message(a.id, "assistant", "x")
    assert store.rename(a.id, "  My   chat ").title == "My chat"
    with pytest.raises(InputError):
        store.rename(a.id, "   ")
    with pytest.raises(InputError):
        store.rename(a.id, "x" * (MAX_TITLE_CHARS + 1))
    store.delete(a.id)
    assert [c.id for c in store.list()] == [b.id]
    assert store.messages(a.id) == []
    with pytest.raises(InputError):
        store.delete(a.id)
    with pytest.raises(InputError):
        store.add_message(a.id, "user", "into a deleted one")


def test_bad_input_changes_nothing(store):
    c = store.create()
    for kw in ({"cost_ngonka": -1}, {"cost_ngonka": 1.5}, {"prompt_tokens": True}):
        with pytest.raises(InputError):
            store.add_message(c.id, "assistant", "x", **kw)
    with pytest.raises(InputError):
        store.add_message(c.id, "robot", "x")
    assert store.messages(c.id) == []


def test_a_damaged_file_gives_one_clear_error_and_is_left_alone(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = data / CONVERSATIONS_FILE
    junk = b"this is not a database at all" * 200
    path.write_bytes(junk)
    store = ConversationStore(data)
    with pytest.raises(ConversationsError) as err:
        store.list()
    assert str(path) in str(err.value) and "move it aside" in str(err.value)
    assert path.read_bytes() == junk


def test_another_schema_or_another_programs_database_is_refused(tmp_path):
    data = tmp_path / "data"
    store = ConversationStore(data)
    store.create()
    store.close()
    with sqlite3.connect(data / CONVERSATIONS_FILE) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(ConversationsError, match="schema 99"):
        ConversationStore(data).list()
    other = tmp_path / "other"
    other.mkdir()
    with sqlite3.connect(other / CONVERSATIONS_FILE) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(ConversationsError, match="not a gonka conversation history"):
        ConversationStore(other).list()


def test_title_from():
    assert title_from("\n\n  hi  there \n") == "hi there"
    assert title_from("   ") == "New conversation"
    assert len(title_from("y" * 500)) == MAX_TITLE_CHARS
