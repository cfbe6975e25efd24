"""The Inference screen's conversation: questions, answers rendered as Markdown and appended to as they
stream (never re-rendered per piece, at most MAX_RENDERS_PER_SECOND appends), a dim line of tokens and
cost under each answer, and the question input (Enter sends)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Markdown, Static, TextArea

MAX_RENDERS_PER_SECOND = 30  # a fast stream joins its pieces instead of flooding the UI


class AnswerMarkdown(Markdown):
    """An answer's Markdown; counts its appends and full updates (a stream must only append)."""

    def __init__(self, markdown: str = "", **kwargs) -> None:
        super().__init__(markdown, **kwargs)
        self.appends = 0
        self.updates = 0

    def append(self, markdown: str):
        self.appends += 1
        return super().append(markdown)

    def update(self, markdown: str):
        self.updates += 1
        return super().update(markdown)


class ThrottledAppend:
    """Feeds pieces to a Markdown widget with `append`, joining the pieces that arrive meanwhile so at most
    `max_per_second` appends happen; `close()` writes what is left and waits until it is shown."""

    def __init__(self, markdown: Markdown, *, max_per_second: float = MAX_RENDERS_PER_SECOND,
                 on_render: Callable[[], None] | None = None) -> None:
        self.markdown = markdown
        self._interval = 1.0 / max_per_second
        self._on_render = on_render
        self._pending: list[str] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None
        self.text = ""  # everything written so far

    def write(self, text: str) -> None:
        if not text:
            return
        self.text += text
        self._pending.append(text)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._pending:
                text = "".join(self._pending)
                self._pending.clear()
                try:
                    await asyncio.shield(self.markdown.append(text))
                except Exception:  # the widget went away (screen closed): nothing more to show
                    return
                if self._on_render is not None:
                    self._on_render()
            if self._closing and not self._pending:
                return
            await asyncio.sleep(self._interval)  # pieces arriving meanwhile join the next append

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task


@dataclass(frozen=True)
class AnswerInfo:
    """What the dim line under an answer says."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: str = ""  # "0.00019 GNK", "≈0.00019 GNK" or ""
    note: str = ""  # "stopped", "cut: …", "failed: …"

    def render(self) -> Text:
        parts = []
        if self.note:
            parts.append(f"({self.note})")
            if self.note == "stopped" and not self.cost:  # the node settles a stopped answer by what it made
                parts.append("charged for the tokens generated: History shows the amount")
        if self.prompt_tokens is not None or self.completion_tokens is not None:
            parts.append(f"{self.prompt_tokens or 0} prompt + {self.completion_tokens or 0} completion tokens")
        if self.cost:
            parts.append(self.cost)
        return Text(" · ".join(parts), style="dim")


class QuestionBox(Static):
    DEFAULT_CSS = """
    QuestionBox { height: auto; margin: 1 0 0 0; padding: 0 1; border-left: thick $accent; background: $boost; }
    """

    def __init__(self, text: str) -> None:
        super().__init__(Text(text), classes="question")
        self.text = text


class AnswerBox(Vertical):
    """One answer: its model above, its Markdown, then the dim line once it is finished."""

    DEFAULT_CSS = """
    AnswerBox { height: auto; margin: 1 0 0 0; padding: 0 1; border-left: thick $primary 50%; }
    AnswerBox > .answer-model { color: $text-muted; height: 1; }
    AnswerBox > AnswerMarkdown { margin: 0; padding: 0; background: transparent; }
    AnswerBox > .answer-info { height: auto; }
    AnswerBox.-partial { border-left: thick $warning 60%; }
    """

    def __init__(self, model: str, text: str = "", info: AnswerInfo | None = None) -> None:
        super().__init__(classes="answer")
        self.model = model
        self._text = text
        self._info = info

    def compose(self) -> ComposeResult:
        yield Static(Text(self.model or "answer"), classes="answer-model")
        yield AnswerMarkdown(self._text)
        yield Static(self._info.render() if self._info else "", classes="answer-info")

    @property
    def markdown(self) -> AnswerMarkdown:
        return self.query_one(AnswerMarkdown)

    def set_info(self, info: AnswerInfo) -> None:
        self._info = info
        self.query_one(".answer-info", Static).update(info.render())
        self.set_class(bool(info.note), "-partial")


class ChatView(VerticalScroll):
    """The messages of one conversation, or a text saying what to do when there are none."""

    DEFAULT_CSS = """
    ChatView { height: 1fr; padding: 0 1; }
    ChatView > .chat-empty { height: auto; padding: 1 2; border: round $primary 40%; margin-top: 1; }
    """

    def clear(self, empty_text: str | None = None) -> None:
        self.remove_children()
        if empty_text:
            self.mount(Static(empty_text, classes="chat-empty"))

    def show_empty(self, text: str) -> None:
        for empty in self.query(".chat-empty"):
            empty.update(text)

    def add_question(self, text: str) -> QuestionBox:
        self.query(".chat-empty").remove()
        box = QuestionBox(text)
        self.mount(box)
        return box

    def add_answer(self, model: str, text: str = "", info: AnswerInfo | None = None) -> AnswerBox:
        self.query(".chat-empty").remove()
        box = AnswerBox(model, text, info)
        self.mount(box)
        return box

    async def append_answer(self, model: str) -> AnswerBox:
        """A new, empty answer, mounted (so its Markdown can be appended to)."""
        self.query(".chat-empty").remove()
        box = AnswerBox(model)
        await self.mount(box)
        return box

    def answers(self) -> list[AnswerBox]:
        return list(self.query(AnswerBox))


class PromptInput(TextArea):
    """The question: Enter sends it; Shift+Enter or Ctrl+J starts a new line."""

    DEFAULT_CSS = """
    PromptInput { height: 4; }
    """

    class Submitted(Message):
        def __init__(self, prompt: "PromptInput", text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("placeholder", "Ask a question · Enter sends · Shift+Enter: a new line")
        super().__init__(soft_wrap=True, show_line_numbers=False, **kwargs)

    async def _on_key(self, event) -> None:
        # Only this class's handler runs for these keys (prevent_default stops TextArea's own).
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self, self.text))
        elif event.key in ("shift+enter", "ctrl+j"):
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
