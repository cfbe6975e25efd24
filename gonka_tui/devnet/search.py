"""The CometBFT tx_search query language: `key op value` conditions joined by AND.

    tx.hash='ABC…'  tx.height=5  tx.height>=3  message.sender='gonka1…'
    transfer.recipient='gonka1…' AND message.action='/cosmos.bank.v1beta1.MsgSend'
    message.memo CONTAINS 'x'   transfer.amount EXISTS

Values are 'quoted strings' or numbers; operators =, <, <=, >, >=, CONTAINS, EXISTS. A query has at
most MAX_CONDITIONS conditions and MAX_QUERY_CHARS characters; integers fit in 64 bits (SQLite's).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from gonka_tui.core.errors import InputError

from .limits import INT64_MAX, INT64_MIN

# Each condition is one SELECT of an INTERSECT, and SQLite allows at most 500 of those.
MAX_CONDITIONS = 64
MAX_QUERY_CHARS = 16 * 1024
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")  # ASCII digits only, as in the grammar above

_CONDITION = re.compile(
    r"\s*(?P<key>[A-Za-z0-9_][A-Za-z0-9_.\-/]*)\s*(?:"
    r"(?P<op><=|>=|=|<|>)\s*(?P<value>'[^']*'|-?[0-9]+(?:\.[0-9]+)?)"
    r"|\s(?P<contains>CONTAINS)\s+(?P<cvalue>'[^']*')"
    r"|\s(?P<exists>EXISTS)(?=\s|$))\s*")
_AND = re.compile(r"AND\s", re.I)


class QuerySyntaxError(InputError):
    """A tx_search query that does not parse."""


@dataclass(frozen=True)
class Condition:
    key: str
    op: str  # = < <= > >= CONTAINS EXISTS
    value: str | int | float | None


def parse_query(text: str) -> list[Condition]:
    s = (text or "").strip()
    if not s:
        raise QuerySyntaxError("failed to parse query: the query is empty (e.g. message.sender='gonka1…')")
    if len(s) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"failed to parse query: it has {len(s)} characters; at most {MAX_QUERY_CHARS}")
    out: list[Condition] = []
    pos = 0
    while True:
        m = _CONDITION.match(s, pos)
        if not m:
            raise QuerySyntaxError(f"failed to parse query: unexpected input at position {pos}: {s[pos:pos + 30]!r}")
        if len(out) == MAX_CONDITIONS:
            raise QuerySyntaxError(f"failed to parse query: more than {MAX_CONDITIONS} conditions")
        if m["op"]:
            raw = m["value"]
            value = raw[1:-1] if raw.startswith("'") else _number(raw, m["key"])
            out.append(Condition(m["key"], m["op"], value))
        elif m["contains"]:
            out.append(Condition(m["key"], "CONTAINS", m["cvalue"][1:-1]))
        else:
            out.append(Condition(m["key"], "EXISTS", None))
        pos = m.end()
        if pos >= len(s):
            return out
        a = _AND.match(s, pos)
        if not a:
            raise QuerySyntaxError(f"failed to parse query: expected AND at position {pos}: {s[pos:pos + 30]!r}")
        pos = a.end()


def _number(text: str, key: str) -> int | float:
    """A number in a condition: ASCII digits, an integer within int64 (what SQLite can bind), finite."""
    if not _NUMBER.fullmatch(text):
        raise QuerySyntaxError(f"{key} needs a number, got {text[:30]!r}")
    if "." in text:
        value = float(text)
        if math.isfinite(value):
            return value
    elif len(text) <= 20 and INT64_MIN <= (value := int(text)) <= INT64_MAX:
        return value
    raise QuerySyntaxError(f"the number {text[:30]} in the {key} condition is out of range "
                           f"(integers are 64-bit: at most {INT64_MAX})")


def condition_sql(c: Condition) -> tuple[str, list]:
    """A SELECT of (height, idx) for the txs matching one condition."""
    numeric_ops = ("<", "<=", ">", ">=")
    if c.key == "tx.hash":
        if c.op == "EXISTS":
            return "SELECT height, idx FROM txs", []
        if c.op != "=":
            raise QuerySyntaxError("tx.hash supports only = and EXISTS")
        return "SELECT height, idx FROM txs WHERE hash = ?", [str(c.value).upper()]
    if c.key == "tx.height":
        if c.op == "EXISTS":
            return "SELECT height, idx FROM txs", []
        if c.op == "CONTAINS":
            raise QuerySyntaxError("tx.height does not support CONTAINS")
        height = _number(c.value, c.key) if isinstance(c.value, str) else c.value
        return f"SELECT height, idx FROM txs WHERE height {c.op} ?", [height]
    if c.op == "EXISTS":
        return "SELECT height, idx FROM tx_events WHERE key = ?", [c.key]
    if c.op == "CONTAINS":
        return "SELECT height, idx FROM tx_events WHERE key = ? AND instr(value, ?) > 0", [c.key, c.value]
    if c.op in numeric_ops:
        number = _number(c.value, c.key) if isinstance(c.value, str) else c.value
        return (f"SELECT height, idx FROM tx_events WHERE key = ? AND value GLOB '[0-9-]*' "
                f"AND CAST(value AS REAL) {c.op} ?", [c.key, number])
    return "SELECT height, idx FROM tx_events WHERE key = ? AND value = ?", [c.key, str(c.value)]
