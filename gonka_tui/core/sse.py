"""Server-sent events as OpenAI-compatible servers stream chat completions.

`SSEParser` turns bytes, split anywhere (inside a UTF-8 character, between CR and LF), into the data of
each event (the WHATWG rules: CR, LF or CRLF end a line, `:` starts a comment or keep-alive, several
`data:` lines join with LF, a blank line ends the event). `ChatChunks` reads the data of a
`chat.completion.chunk` stream: the text pieces in order, the model, usage (with a broker's
`cost_ngonka`), the finish reason, an `{"error": …}` chunk and the closing `[DONE]`. Neither raises for
what the server meant (an error chunk is kept in `.error`); only malformed input raises SSEError.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass

MAX_EVENT_CHARS = 1 << 20  # one event's data; a server streaming more without a break is broken
MAX_MESSAGE_CHARS = 300  # of a server's error message, as shown


class SSEError(ValueError):
    """The stream is not server-sent events of chat chunks (the message says what is wrong)."""


class SSEParser:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line: list[str] = []
        self._line_len = 0
        self._data: list[str] = []
        self._data_len = 0
        self._after_cr = False  # the last character was CR: a LF right after it ends nothing more
        self._started = False

    def feed(self, chunk: bytes) -> list[str]:
        """The data of every event that `chunk` completes."""
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        events: list[str] = []
        start = 0
        for i, ch in enumerate(text):
            if ch not in "\r\n":
                continue
            if ch == "\n" and self._after_cr and i == start and not self._line:
                self._after_cr = False
                start = i + 1
                continue
            self._append(text[start:i])
            self._end_line(events)
            self._after_cr = ch == "\r"
            start = i + 1
        if start < len(text):
            self._after_cr = False
            self._append(text[start:])
        return events

    def close(self) -> list[str]:
        """At the end of the stream: data lines that ended but whose event did not (a lenient reading;
        an unfinished last line is dropped, as it may be cut)."""
        self._decoder.decode(b"", final=True)
        events = ["\n".join(self._data)] if self._data else []
        self._data, self._data_len, self._line, self._line_len = [], 0, [], 0
        return events

    def _append(self, piece: str) -> None:
        if piece:
            self._line.append(piece)
            self._line_len += len(piece)
            if self._line_len > MAX_EVENT_CHARS:
                raise SSEError(f"the server sent a line of more than {MAX_EVENT_CHARS} characters")

    def _end_line(self, events: list[str]) -> None:
        line = "".join(self._line)
        self._line, self._line_len = [], 0
        if not line:
            if self._data:
                events.append("\n".join(self._data))
            self._data, self._data_len = [], 0
            return
        if line.startswith(":"):  # a comment: servers send them as keep-alives
            return
        name, _, value = line.partition(":")
        if name != "data":  # event, id, retry: nothing a chat stream needs
            return
        value = value.removeprefix(" ")
        self._data_len += len(value) + 1
        if self._data_len > MAX_EVENT_CHARS:
            raise SSEError(f"the server sent an event of more than {MAX_EVENT_CHARS} characters")
        self._data.append(value)


@dataclass(frozen=True)
class ChunkUsage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_ngonka: int | None  # a broker's own price, when it reports one


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SSEError(f"the server sent a malformed usage ({what})")
    return value


def parse_usage(usage: object) -> ChunkUsage:
    """An OpenAI usage object (with an optional `cost_ngonka` string of ngonka)."""
    if not isinstance(usage, dict):
        raise SSEError("the server sent a malformed usage")
    prompt = _count(usage.get("prompt_tokens", 0), "prompt_tokens")
    completion = _count(usage.get("completion_tokens", 0), "completion_tokens")
    total = _count(usage.get("total_tokens", prompt + completion), "total_tokens")
    cost = usage.get("cost_ngonka")
    if cost is not None:
        text = str(cost) if isinstance(cost, (str, int)) and not isinstance(cost, bool) else ""
        if not text.isascii() or not text.isdigit() or len(text) > 40:
            raise SSEError("the server sent a malformed cost_ngonka")
        cost = int(text)
    return ChunkUsage(prompt, completion, total, cost)


def clean_message(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A server's message as one printable line, cut to `limit`."""
    line = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return line[:limit] + ("…" if len(line) > limit else "")


def error_message(error: object) -> str:
    """The message of an OpenAI error object (or of whatever the server put there)."""
    if isinstance(error, dict):
        error = error.get("message") or error.get("type") or "unknown error"
    return clean_message(error) or "unknown error"


class ChatChunks:
    """The state of one chat stream, fed the data of each event."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.model: str | None = None
        self.id: str | None = None
        self.usage: ChunkUsage | None = None
        self.finish_reason: str | None = None
        self.error: str | None = None  # the message of an {"error": …} chunk
        self.done = False  # [DONE] arrived

    @property
    def content(self) -> str:
        return "".join(self.pieces)

    def feed(self, data: str) -> list[str]:
        """The text pieces of one event, in order."""
        if self.done:
            return []
        if data.strip() == "[DONE]":
            self.done = True
            return []
        try:
            chunk = json.loads(data)
        except (ValueError, RecursionError):
            raise SSEError("the server sent a chunk that is not JSON") from None
        if not isinstance(chunk, dict):
            raise SSEError("the server sent a chunk that is not a JSON object")
        if "error" in chunk:
            self.error = error_message(chunk["error"])
            return []
        if self.model is None and isinstance(chunk.get("model"), str):
            self.model = clean_message(chunk["model"], 200)
        if self.id is None and isinstance(chunk.get("id"), str):
            self.id = clean_message(chunk["id"], 200)
        if chunk.get("usage") is not None:
            self.usage = parse_usage(chunk["usage"])
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise SSEError("the server sent a chunk whose choices are not a list")
        out: list[str] = []
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # we ask for one answer
            delta = choice.get("delta") or {}
            text = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(text, str) and text:
                out.append(text)
            if isinstance(choice.get("finish_reason"), str):
                self.finish_reason = choice["finish_reason"]
        self.pieces.extend(out)
        return out
