"""A QR code drawn with half blocks: two modules per character cell, dark on light."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

_DARK, _LIGHT = "#000000", "#ffffff"


def qr_rows(data: str, border: int = 2) -> list[list[bool]]:
    """The module matrix (True = dark) with a quiet zone, its height padded to even."""
    import segno

    qr = segno.make(data, error="L", boost_error=True, micro=False)
    rows = [[bool(m) for m in row] for row in qr.matrix_iter(scale=1, border=border)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    return rows


def qr_text(data: str, border: int = 2) -> Text:
    rows = qr_rows(data, border)
    text = Text(no_wrap=True, overflow="crop")
    for top, bottom in zip(rows[0::2], rows[1::2]):
        for t, b in zip(top, bottom):
            text.append("▀", Style(color=_DARK if t else _LIGHT, bgcolor=_DARK if b else _LIGHT))
        text.append("\n")
    text.rstrip()
    return text


class QRCode(Widget):
    DEFAULT_CSS = "QRCode { width: auto; height: auto; }"

    def __init__(self, data: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = qr_text(data)
        self._width = len(qr_rows(data)[0])

    def render(self) -> Text:
        return self._text

    def get_content_width(self, container, viewport) -> int:
        return self._width

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._text.split("\n"))
