"""Typed messages of one-shot work that the app turns into state its screens watch (the feeds'
messages live with the feeds)."""

from __future__ import annotations

from textual.message import Message

from gonka_tui.core.transfer import SentTransfer


class TransferSent(Message):
    """A send landed (or was included and failed): balances, history and recent recipients change."""

    def __init__(self, sent: SentTransfer) -> None:
        super().__init__()
        self.sent = sent
