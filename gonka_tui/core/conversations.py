"""The Inference screen's local history: conversations and their messages in SQLite (WAL) under the
home's data dir, with each answer's tokens and cost. Costs are kept as decimal text (exact ngonka,
never a float); a damaged or foreign file gives one ConversationsError and is never changed.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from gonka_tui.core.errors import GonkaError, InputError
from gonka_tui.core.fileio import create_private_file, ensure_private_dir

CONVERSATIONS_FILE = "conversations.sqlite3"
SCHEMA_VERSION = 1
MAX_TITLE_CHARS = 80
ROLES = ("system", "user", "assistant")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    cost_ngonka TEXT,
    cost_is_estimate INTEGER NOT NULL DEFAULT 0,
    partial INTEGER NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation, id);
"""


class ConversationsError(GonkaError):
    """The history file cannot be used; the message names it and says what to do. Nothing was changed."""


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    model: str  # the model last asked ("" before the first answer)
    mode: str  # who paid, e.g. "signed:demo" or "broker:devnet"
    created: float
    updated: float


@dataclass(frozen=True)
class StoredMessage:
    id: int
    conversation: int
    role: str
    content: str
    model: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_ngonka: int | None = None
    cost_is_estimate: bool = False
    partial: bool = False  # the answer did not finish (stopped or cut)
    note: str = ""  # why it is partial: "stopped", "cut: …", "failed: …"
    created: float = 0.0


def title_from(text: str) -> str:
    """A conversation's title: the first non-empty line of its first question, cut to MAX_TITLE_CHARS."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= MAX_TITLE_CHARS else line[: MAX_TITLE_CHARS - 1] + "…"
    return "New conversation"


def _cost_text(cost: int | None) -> str | None:
    if cost is None:
        return None
    if isinstance(cost, bool) or not isinstance(cost, int) or cost < 0:
        raise InputError("a cost must be a whole number of ngonka, at least 0")
    return str(cost)


def _cost_int(text: object) -> int | None:
    if text is None:
        return None
    s = str(text)
    return int(s) if s.isascii() and s.isdigit() else None


def _count(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{what} must be a whole number, at least 0")
    return value


class ConversationStore:
    """One home's conversations. Each call is a short transaction; safe to share between threads."""

    def __init__(self, data_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.file = Path(data_dir) / CONVERSATIONS_FILE
        self._clock = clock
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    # ----- the file -----

    def _damaged(self, exc: BaseException) -> ConversationsError:
        return ConversationsError(
            f"the conversation history {self.file} cannot be used ({type(exc).__name__}: {exc}); if it is damaged, "
            "move it aside (gonka starts a new one) or restore it from a backup — nothing was changed")

    def _open(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        ensure_private_dir(self.file.parent)
        try:
            create_private_file(self.file)
        except OSError as exc:
            raise ConversationsError(f"cannot open the conversation history {self.file}: "
                                     f"{exc.strerror or exc}") from None
        db = sqlite3.connect(self.file, isolation_level=None, check_same_thread=False, timeout=10.0)
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "meta" not in tables:
                raise ConversationsError(f"{self.file} is not a gonka conversation history (another program's "
                                         "database?); move it aside — nothing was changed")
            if "meta" in tables:
                row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if row is None or row[0] != str(SCHEMA_VERSION):
                    found = row[0] if row else "none"
                    raise ConversationsError(
                        f"{self.file} was written by another version of gonka (schema {found}, this one reads "
                        f"{SCHEMA_VERSION}); use that version, or move the file aside — nothing was changed")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            if not tables:
                db.executescript("BEGIN;" + SCHEMA + f"INSERT INTO meta VALUES ('schema', '{SCHEMA_VERSION}');COMMIT;")
        except ConversationsError:
            db.close()
            raise
        except sqlite3.Error as exc:
            db.close()
            raise self._damaged(exc) from None
        self._db = db
        return db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _run(self, work: Callable[[sqlite3.Connection], object], *, write: bool = False):
        with self._lock:
            db = self._open()
            try:
                if not write:
                    return work(db)
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                raise self._damaged(exc) from None

    # ----- conversations -----

    @staticmethod
    def _conversation(row: tuple) -> Conversation:
        return Conversation(int(row[0]), str(row[1]), str(row[2]), str(row[3]), float(row[4]), float(row[5]))

    def list(self) -> list[Conversation]:
        """Newest first: the one with the latest message (or change) on top."""
        rows = self._run(lambda db: db.execute(
            "SELECT id, title, model, mode, created, updated FROM conversations ORDER BY updated DESC, id DESC"
        ).fetchall())
        return [self._conversation(r) for r in rows]

    def get(self, conversation_id: int) -> Conversation:
        row = self._run(lambda db: db.execute(
            "SELECT id, title, model, mode, created, updated FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone())
        if row is None:
            raise InputError(f"there is no conversation {conversation_id} (deleted meanwhile?)")
        return self._conversation(row)

    def create(self, *, model: str = "", mode: str = "", title: str = "") -> Conversation:
        now = float(self._clock())
        title = title_from(title) if title.strip() else ""

        def work(db: sqlite3.Connection) -> int:
            cur = db.execute("INSERT INTO conversations (title, model, mode, created, updated) VALUES (?, ?, ?, ?, ?)",
                             (title, model, mode, now, now))
            return int(cur.lastrowid)

        return self.get(self._run(work, write=True))

    def rename(self, conversation_id: int, title: str) -> Conversation:
        text = " ".join(title.split()) if isinstance(title, str) else ""
        if not text:
            raise InputError("a conversation's title cannot be empty")
        if len(text) > MAX_TITLE_CHARS or not text.isprintable():
            raise InputError(f"a conversation's title is up to {MAX_TITLE_CHARS} printable characters")

        def work(db: sqlite3.Connection) -> int:
            return db.execute("UPDATE conversations SET title = ? WHERE id = ?", (text, conversation_id)).rowcount

        if not self._run(work, write=True):
            raise InputError(f"there is no conversation {conversation_id} (deleted meanwhile?)")
        return self.get(conversation_id)

    def delete(self, conversation_id: int) -> None:
        def work(db: sqlite3.Connection) -> int:
            db.execute("DELETE FROM messages WHERE conversation = ?", (conversation_id,))
            return db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount

        if not self._run(work, write=True):
            raise InputError(f"there is no conversation {conversation_id} (deleted meanwhile?)")

    # ----- messages -----

    def add_message(self, conversation_id: int, role: str, content: str, *, model: str = "",
                    prompt_tokens: int | None = None, completion_tokens: int | None = None,
                    cost_ngonka: int | None = None, cost_is_estimate: bool = False, partial: bool = False,
                    note: str = "") -> StoredMessage:
        """Add a message; the first user message names the conversation, and each moves it to the top."""
        if role not in ROLES:
            raise InputError(f"a message's role is system, user or assistant, not {role!r}")
        if not isinstance(content, str):
            raise InputError("a message's content must be text")
        cost = _cost_text(cost_ngonka)
        prompt, completion = _count(prompt_tokens, "prompt_tokens"), _count(completion_tokens, "completion_tokens")
        now = float(self._clock())

        def work(db: sqlite3.Connection) -> int:
            row = db.execute("SELECT title FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            if row is None:
                raise InputError(f"there is no conversation {conversation_id} (deleted meanwhile?)")
            cur = db.execute(
                "INSERT INTO messages (conversation, role, content, model, prompt_tokens, completion_tokens, "
                "cost_ngonka, cost_is_estimate, partial, note, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, content, model, prompt, completion, cost, int(bool(cost_is_estimate)),
                 int(bool(partial)), note, now))
            if role == "user" and not row[0]:
                db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title_from(content), conversation_id))
            if model:
                db.execute("UPDATE conversations SET model = ? WHERE id = ?", (model, conversation_id))
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
            return int(cur.lastrowid)

        message_id = self._run(work, write=True)
        return StoredMessage(message_id, conversation_id, role, content, model, prompt, completion, cost_ngonka,
                             bool(cost_is_estimate), bool(partial), note, now)

    def set_model(self, conversation_id: int, model: str, mode: str | None = None) -> None:
        """The model (and payer) the next question of this conversation goes to."""
        def work(db: sqlite3.Connection) -> None:
            db.execute("UPDATE conversations SET model = ? WHERE id = ?", (model, conversation_id))
            if mode is not None:
                db.execute("UPDATE conversations SET mode = ? WHERE id = ?", (mode, conversation_id))

        self._run(work, write=True)

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        rows = self._run(lambda db: db.execute(
            "SELECT id, conversation, role, content, model, prompt_tokens, completion_tokens, cost_ngonka, "
            "cost_is_estimate, partial, note, created FROM messages WHERE conversation = ? ORDER BY id",
            (conversation_id,)).fetchall())
        return [StoredMessage(int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]),
                              r[5] if isinstance(r[5], int) else None, r[6] if isinstance(r[6], int) else None,
                              _cost_int(r[7]), bool(r[8]), bool(r[9]), str(r[10]), float(r[11])) for r in rows]

    def total_cost(self, conversation_id: int) -> tuple[int, bool]:
        """What this conversation's answers cost in all (ngonka, exact) and whether any part is an estimate."""
        total, estimate = 0, False
        for m in self.messages(conversation_id):
            if m.cost_ngonka is not None:
                total += m.cost_ngonka
                estimate = estimate or m.cost_is_estimate
        return total, estimate
