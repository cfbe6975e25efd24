"""Recover wizard: name and recovery phrase (word completion, live checks) → pick the address → save.

The same phrase gives different addresses at coin types 1200 (Gonka), 118 (Cosmos Hub) and
60 (Ethereum path); the user picks the one their old wallet used.
"""

from __future__ import annotations

import asyncio

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.suggester import Suggester
from textual.widgets import Button, ContentSwitcher, Input, Label, RadioButton, RadioSet, Static

from gonka_tui.core.keys import COIN_TYPES, DerivedKey, HDPath, candidate_addresses, check_mnemonic, complete_word
from gonka_tui.tui.screens.base import GonkaScreen
from gonka_tui.tui.widgets.name_field import ChecksName, name_field


class WordSuggester(Suggester):
    """Completes the word being typed from the BIP39 list (Tab or → accepts)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=False)

    async def get_suggestion(self, value: str) -> str | None:
        if not value or value.endswith(" "):
            return None
        head, _, last = value.rpartition(" ")
        matches = complete_word(last, limit=2)
        if not matches or matches[0] == last.lower():
            return None
        return f"{head} {matches[0]}".lstrip() if head else matches[0]


class RecoverWizard(ChecksName, GonkaScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    HELP = ("Recovers a wallet from its 12 or 24 words. Words complete as you type (Tab or → "
            "accepts); a wrong word or checksum is pointed out. Then pick the address your old "
            "wallet showed: Gonka uses coin type 1200, some wallets used 118 or 60.")

    def __init__(self) -> None:
        super().__init__()
        self.candidates: list[DerivedKey] = []

    def compose_body(self) -> ComposeResult:
        with ContentSwitcher(initial="step-phrase", id="steps"):
            with Vertical(id="step-phrase", classes="step"):
                yield Label("Recover a wallet · 1/2 · recovery phrase", classes="step-title")
                yield from name_field("Name of the account")
                yield Label("Recovery phrase (words separated by spaces)")
                yield Input(placeholder="word1 word2 …", id="phrase", suggester=WordSuggester())
                yield Static("Type the words in order.", id="phrase-status", classes="muted")
                with Horizontal(classes="buttons"):
                    yield Button("Cancel", id="cancel")
                    yield Button("Next", id="to-pick", variant="primary")
            with Vertical(id="step-pick", classes="step"):
                yield Label("Recover a wallet · 2/2 · which address did you use?", classes="step-title")
                yield Static("The same words give a different address per derivation path. Pick the one "
                             "your previous wallet showed (Gonka wallets use 1200).", classes="dialog-body")
                yield RadioSet(id="pick")
                with Horizontal(classes="buttons"):
                    yield Button("Back", id="back")
                    yield Button("Recover", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    @on(Input.Submitted, "#name")
    def _name_submitted(self) -> None:
        self.query_one("#phrase", Input).focus()

    @on(Input.Changed, "#phrase")
    def _phrase_changed(self, event: Input.Changed) -> None:
        status = self.query_one("#phrase-status", Static)
        check = check_mnemonic(event.value)
        n = len(check.words)
        if not n:
            status.update("Type the words in order.")
        elif check.unknown:
            pos, word, sugg = check.unknown[0]
            if pos == n and not event.value.endswith(" ") and complete_word(word):
                status.update(f"{n} words · typing word {n}…")
            else:
                status.update(f"[b red]✗[/] {escape(check.hint or '')}")
        elif check.ok:
            status.update(f"[b green]✓[/] {n} words, checksum OK")
        elif n in (12, 15, 18, 21, 24):
            status.update(f"[b red]✗[/] {escape(check.error or '')}")
        else:
            status.update(f"{n} words")

    @on(Input.Submitted, "#phrase")
    @on(Button.Pressed, "#to-pick")
    async def _to_pick(self) -> None:
        if self.checked_name() is None:
            self.query_one("#name", Input).focus()
            return
        check = check_mnemonic(self.query_one("#phrase", Input).value)
        if not check.ok:
            self.query_one("#phrase-status", Static).update(f"[b red]✗[/] {escape(check.hint or '')}")
            return
        self.candidates = await asyncio.to_thread(candidate_addresses, " ".join(check.words))
        pick = self.query_one("#pick", RadioSet)
        await pick.remove_children()
        await pick.mount_all(
            RadioButton(f"{k.address}  {k.path.coin_type:>4} {COIN_TYPES[k.path.coin_type]}", value=(i == 0), id=f"c{k.path.coin_type}")
            for i, k in enumerate(self.candidates))
        self.query_one("#steps", ContentSwitcher).current = "step-pick"
        pick.focus()

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.query_one("#steps", ContentSwitcher).current = "step-phrase"
        self.query_one("#phrase", Input).focus()

    def chosen(self) -> DerivedKey:
        pressed = self.query_one("#pick", RadioSet).pressed_button
        coin = int(str(pressed.id)[1:]) if pressed is not None else 1200
        return next(k for k in self.candidates if k.path.coin_type == coin)

    @on(Button.Pressed, "#save")
    @work(exclusive=True, group="recover-save", exit_on_error=False)
    async def _save(self) -> None:
        key = self.chosen()
        name = self.query_one("#name", Input).value.strip()
        phrase = " ".join(check_mnemonic(self.query_one("#phrase", Input).value).words)
        if not await self.app.ensure_unlocked("Unlock the keystore to save the recovered wallet."):
            return
        record = self.app.keystore.add_mnemonic(name, phrase, HDPath(coin_type=key.path.coin_type))
        self.app.keys_changed(f"Recovered '{record.name}' {record.address}")
        self.dismiss(record.name)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
