"""Create wizard: name → the new recovery phrase (shown once) → backup quiz → save."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Button, ContentSwitcher, Input, Label, RadioButton, RadioSet, Static

from gonka_tui.core.backup_quiz import BackupQuiz, QuizState
from gonka_tui.core.keys import generate_mnemonic
from gonka_tui.tui.screens.base import GonkaScreen
from gonka_tui.tui.screens.dialogs import ConfirmModal
from gonka_tui.tui.widgets.name_field import ChecksName, name_field


class CreateWizard(ChecksName, GonkaScreen[str | None]):
    """Dismisses with the new key's name, or None when cancelled or the quiz failed."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    HELP = ("Creates a wallet: a new recovery phrase is generated and shown once; write it down, "
            "then prove it with a short quiz. Nothing is saved until the quiz passes (or you skip it "
            "explicitly).")

    def __init__(self) -> None:
        super().__init__()
        self.mnemonic: str | None = None
        self.quiz: BackupQuiz | None = None

    def compose_body(self) -> ComposeResult:
        with ContentSwitcher(initial="step-name", id="steps"):
            with Vertical(id="step-name", classes="step"):
                yield Label("Create a wallet · 1/3 · name", classes="step-title")
                yield from name_field("Name of the account (letters, digits, . _ -)")
                yield Label("Length of the recovery phrase")
                with RadioSet(id="words"):
                    yield RadioButton("24 words (recommended)", value=True, id="w24")
                    yield RadioButton("12 words", id="w12")
                with Horizontal(classes="buttons"):
                    yield Button("Cancel", id="cancel")
                    yield Button("Next", id="to-phrase", variant="primary")
            with Vertical(id="step-phrase", classes="step"):
                yield Label("Create a wallet · 2/3 · write down your recovery phrase", classes="step-title")
                yield Static("These words are the only backup of the wallet and are shown once. Write them "
                             "down in order and keep them offline. Anyone who has them controls the funds.",
                             classes="warning")
                yield Grid(id="phrase-grid")
                with Horizontal(classes="buttons"):
                    yield Button("Cancel", id="cancel-2")
                    yield Button("I wrote it down", id="to-quiz", variant="primary")
            with Vertical(id="step-quiz", classes="step"):
                yield Label("Create a wallet · 3/3 · check your backup", classes="step-title")
                yield Static("", id="quiz-intro")
                yield Horizontal(id="quiz-questions")
                yield Static("", id="quiz-problem", classes="problem", markup=False)
                with Horizontal(classes="buttons"):
                    yield Button("Skip check…", id="skip", variant="warning")
                    yield Button("Verify", id="verify", variant="primary")
            with Vertical(id="step-failed", classes="step"):
                yield Label("The backup check failed", classes="step-title")
                yield Static("The answers were wrong too many times, so the wallet was NOT created and "
                             "nothing was saved. Start again: a new recovery phrase will be shown; write "
                             "it down before you continue.", classes="warning")
                with Horizontal(classes="buttons"):
                    yield Button("Close", id="close-failed", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    @on(Input.Submitted, "#name")
    @on(Button.Pressed, "#to-phrase")
    async def _to_phrase(self) -> None:
        if self.checked_name() is None:
            return
        words = 12 if self.query_one("#w12", RadioButton).value else 24
        self.mnemonic = generate_mnemonic(words)
        grid = self.query_one("#phrase-grid", Grid)
        await grid.remove_children()
        await grid.mount_all(Static(f"{i:>2}. {w}", classes="phrase-word") for i, w in enumerate(self.mnemonic.split(), 1))
        self.query_one("#steps", ContentSwitcher).current = "step-phrase"
        self.query_one("#to-quiz", Button).focus()

    @on(Button.Pressed, "#to-quiz")
    async def _to_quiz(self) -> None:
        assert self.mnemonic
        self.quiz = BackupQuiz(self.mnemonic)
        # The phrase leaves the screen for good: no way back to it from the quiz.
        await self.query_one("#phrase-grid", Grid).remove_children()
        await self._show_questions()
        self.query_one("#steps", ContentSwitcher).current = "step-quiz"
        self.query_one("#quiz-questions RadioSet", RadioSet).focus()

    async def _show_questions(self) -> None:
        quiz = self.quiz
        assert quiz
        self.query_one("#quiz-intro", Static).update(
            f"Pick the right word for each position. Attempts left: {quiz.attempts_left}.")
        box = self.query_one("#quiz-questions", Horizontal)
        await box.remove_children()
        await box.mount_all(
            Vertical(Label(f"Word #{q.position}"),
                     RadioSet(*(RadioButton(c, name=c) for c in q.choices), id=f"q{q.position}"),
                     classes="quiz-column")
            for q in quiz.questions)

    @on(Button.Pressed, "#verify")
    async def _verify(self) -> None:
        quiz = self.quiz
        assert quiz
        answers: dict[int, str] = {}
        for q in quiz.questions:
            pressed = self.query_one(f"#q{q.position}", RadioSet).pressed_button
            if pressed is None:
                self.query_one("#quiz-problem", Static).update(f"Choose a word for position #{q.position}.")
                return
            answers[q.position] = str(pressed.name)
        state = quiz.answer(answers)
        if state is QuizState.PASSED:
            self._save()
        elif state is QuizState.FAILED:
            self.mnemonic = None
            self.query_one("#steps", ContentSwitcher).current = "step-failed"
            self.query_one("#close-failed", Button).focus()
        else:
            self.query_one("#quiz-problem", Static).update("Not right. New positions are asked; check your written copy.")
            await self._show_questions()
            self.query_one("#quiz-questions RadioSet", RadioSet).focus()

    @on(Button.Pressed, "#skip")
    @work(exclusive=True, group="create", exit_on_error=False)
    async def _skip(self) -> None:
        confirmed = await self.app.push_screen_wait(ConfirmModal(
            "Skip the backup check?",
            "If the recovery phrase was not written down correctly, losing this machine or the "
            "keystore passphrase loses the funds for good. Skip only if you are sure of your copy.",
            confirm="Skip and create", cancel="Back to the quiz", danger=True))
        if confirmed:
            self._save()

    @work(exclusive=True, group="create-save", exit_on_error=False)
    async def _save(self) -> None:
        assert self.mnemonic
        name = self.query_one("#name", Input).value.strip()
        if not await self.app.ensure_unlocked("Unlock the keystore to save the new wallet."):
            return
        record = self.app.keystore.add_mnemonic(name, self.mnemonic)
        self.mnemonic = None
        self.app.keys_changed(f"Created '{record.name}' {record.address}")
        self.dismiss(record.name)

    @on(Button.Pressed, "#cancel, #cancel-2")
    def action_cancel(self) -> None:
        self.mnemonic = None
        self.dismiss(None)

    @on(Button.Pressed, "#close-failed")
    def _close_failed(self) -> None:
        self.dismiss(None)
