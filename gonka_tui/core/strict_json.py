"""JSON from places we do not trust (our own files, which anyone may edit, and request bodies).

`json.loads` alone lets through what later code chokes on: NaN and Infinity, 1e999 (a float
that is infinite), a 6,000-digit integer (int() is slow and then raises past 4,300 digits),
200,000 nested brackets (RecursionError), and "\\ud800" escapes (a str that cannot be encoded
back to UTF-8). `loads` refuses each with one `JsonRefused` whose message says what is wrong.
"""

from __future__ import annotations

import json
import math
import re

_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonRefused(ValueError):
    """Not JSON we accept; the message completes "the document …" ("nests deeper than 64 levels")."""


def loads(data: bytes | str, *, max_depth: int = 64, max_int_digits: int = 100) -> object:
    """The document in `data`: UTF-8, standard JSON only, nesting and integer length bounded."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRefused("is not UTF-8 text") from None

    def bounded_int(text: str) -> int:
        digits = len(text.lstrip("-"))
        if digits > max_int_digits:
            raise JsonRefused(f"has a number of {digits} digits; at most {max_int_digits} are allowed")
        return int(text)

    def finite_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise JsonRefused(f"has the number {text[:30]}, which is out of range")
        return value

    def no_constant(name: str) -> object:
        raise JsonRefused(f"has {name}, which is not a JSON number")

    try:
        doc = json.loads(data, parse_int=bounded_int, parse_float=finite_float, parse_constant=no_constant)
    except RecursionError:  # the C parser stops at the interpreter's recursion limit
        raise JsonRefused(f"nests deeper than {max_depth} levels") from None
    except JsonRefused:
        raise
    except ValueError as exc:
        raise JsonRefused(f"is not JSON: {exc}") from None
    _check_document(doc, max_depth)
    return doc


def _check_document(doc: object, max_depth: int) -> None:
    """Depth at most `max_depth` and no lone surrogate in a string, without recursion."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise JsonRefused("has a string with a lone UTF-16 surrogate (\\ud800-\\udfff)")
        elif isinstance(value, (list, dict)):
            if depth > max_depth:
                raise JsonRefused(f"nests deeper than {max_depth} levels")
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            stack.extend((v, depth + 1) for v in items if isinstance(v, (str, list, dict)))
