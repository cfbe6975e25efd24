"""Inference: chat with the network's models and see what each request costs. Conversations on the left
(kept in SQLite under the home), the answer streaming into one Markdown widget, a dim line of tokens and
cost under each, the model picker with prices, who pays (an account signing each request, or a broker)
with the conversation's running total and the balance after the last request."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from gonka_tui.core.address import short_address
from gonka_tui.core.brokers import validate_api_key, validate_broker_name, validate_broker_url
from gonka_tui.core.conversations import Conversation, ConversationStore, StoredMessage
from gonka_tui.core.errors import GonkaError, NodeUnreachable
from gonka_tui.core.inference_types import Delta, Done, InferenceError, StreamCut
from gonka_tui.tui.actions import ActionSpec
from gonka_tui.tui.inference_session import (ERROR, FUNDS, NO_MODELS, OFFLINE, InferenceSession, Payer, classify,
                                             cost_text, history, price_text)
from gonka_tui.tui.screens.base import GonkaScreen
from gonka_tui.tui.screens.dialogs import ConfirmModal, FormModal
from gonka_tui.tui.widgets.chat_view import (AnswerBox, AnswerInfo, ChatView, PromptInput, ThrottledAppend)

INFERENCE_ACTIONS = (
    ActionSpec("inference.stop", "escape", "stop", "Stop",
               "Stop the answer being written (it is kept, marked stopped)"),
    ActionSpec("inference.leave", "escape", "leave_input", "Leave input",
               "Leave the question input, so n, d, c, m, b and r act", show=False, palette=False),
    ActionSpec("inference.ask", "i", "ask", "Ask", "Go to the question input"),
    ActionSpec("inference.new", "n", "new", "New", "Start a new conversation"),
    ActionSpec("inference.delete", "d", "delete", "Delete", "Delete the selected conversation (asks first)"),
    ActionSpec("inference.copy", "c", "copy", "Copy", "Copy the last answer to the clipboard"),
    ActionSpec("inference.model", "m", "model", "Model", "Pick the model (each with its price per 1M tokens)"),
    ActionSpec("inference.pay", "b", "brokers", "Pay with",
               "Brokers and who pays: sign with an account, or buy through a broker (add one here)"),
    ActionSpec("inference.retry", "r", "retry", "Retry", "Ask again: the models, and the last unanswered question"),
)

SETTLE_SECONDS = 2.0  # after an answer, the balance is read again this much later

STYLE = """
#inf-body { height: 1fr; }
#inf-side { width: 26; height: 1fr; border-right: solid $primary 30%; }
#inf-side.-narrow { width: 20; }
#inf-side-title { text-style: bold; color: $accent; height: 1; padding: 0 1; }
#inf-list { height: 1fr; border: none; }
#inf-side-keys { height: auto; padding: 0 1; }
#inf-main { width: 1fr; height: 1fr; }
#inf-top { height: 1; padding: 0 1; }
#inf-model { width: 1fr; }
#inf-status { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
#inf-banner { display: none; height: auto; padding: 0 1; margin: 0 1; border-left: thick $warning;
              background: $warning 15%; }
#inf-banner.-shown { display: block; }
#inf-banner.-funds, #inf-banner.-error { border-left: thick $error; background: $error 15%; }
#inf-input { margin: 0 1; }
#brokers-dialog { width: 84; max-width: 100%; height: auto; max-height: 90%; }
#brokers-choices { height: auto; max-height: 14; margin-bottom: 1; }
#add-broker { width: 84; max-width: 100%; }
"""


def _node(screen: GonkaScreen) -> str:
    nodes = screen.app.session.network.nodes
    return nodes[0] if nodes else "the node"


class BrokersDialog(ModalScreen[tuple | None]):
    """Who pays for this screen's requests: an account (signed mode) or a broker; add or remove brokers.
    Dismisses ("pick", Payer), ("add",), ("remove", name) or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("a", "add", "Add broker"),
                Binding("delete", "remove", "Remove broker")]

    def __init__(self, signers: list[str], brokers: list, current: Payer | None, problem: str = "") -> None:
        super().__init__()
        self.signers, self.brokers, self.current, self.problem = signers, brokers, current, problem
        self.payers = [Payer("signed", n) for n in signers] + [Payer("broker", b.name) for b in brokers]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="brokers-dialog"):
            yield Label("Who pays for inference", classes="dialog-title")
            yield Static("Signed: your account signs each request and pays the network's price. Broker: an "
                         "OpenAI-compatible gateway bills its API key (on mainnet inference is bought this way).",
                         classes="dialog-body")
            options = []
            for i, payer in enumerate(self.payers):
                mark = "● " if payer == self.current else "  "
                line = Text(mark)
                if payer.mode == "signed":
                    line.append("signed as ", style="dim").append(payer.name, style="bold")
                else:
                    broker = self.brokers[i - len(self.signers)]
                    line.append("broker ", style="dim").append(payer.name, style="bold")
                    line.append(f"  {broker.url}", style="dim")
                options.append(Option(line, id=str(i)))
            if not options:
                options.append(Option(Text("No account with a key and no broker yet: press a to add a broker, or "
                                           "create an account on the Wallet (F2).", style="dim"), disabled=True))
            yield OptionList(*options, id="brokers-choices")
            yield Static(self.problem, id="problem", classes="problem", markup=False)
            yield Static("Enter uses it · a adds a broker · Delete removes the broker · Esc closes", classes="muted")
            with Horizontal(classes="buttons"):
                yield Button("Add broker…", id="add")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.current in self.payers:
            options.highlighted = self.payers.index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(("pick", self.payers[int(event.option.id)]))

    def action_add(self) -> None:
        self.dismiss(("add",))

    def action_remove(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is None or index >= len(self.payers) or self.payers[index].mode != "broker":
            self.query_one("#problem", Static).update("Highlight a broker to remove it (accounts stay).")
            return
        self.dismiss(("remove", self.payers[index].name))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(("add",) if event.button.id == "add" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AddBrokerModal(FormModal[tuple]):
    """A broker's name, its OpenAI base_url and its API key (a password field; never shown again)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="add-broker"):
            yield Label("Add a broker", classes="dialog-title")
            yield Static("Its API key is kept encrypted in the keystore and never shown again.", classes="dialog-body")
            yield Input(placeholder="name, e.g. devnet", id="broker-name")
            yield Input(placeholder="base URL ending in /v1, e.g. http://127.0.0.1:26600/broker/v1", id="broker-url")
            yield Input(password=True, placeholder="API key", id="broker-key")
            yield Static("", id="problem", classes="problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#broker-name", Input).focus()

    def _values(self) -> tuple[str, str, str]:
        return tuple(self.query_one(f"#broker-{f}", Input).value for f in ("name", "url", "key"))  # type: ignore

    def problem(self) -> str | None:
        name, url, key = self._values()
        try:
            validate_broker_name(name)
            validate_broker_url(url)
            validate_api_key(key)
        except GonkaError as exc:
            return str(exc)
        return None

    def result(self) -> tuple:
        return self._values()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "broker-key":
            self.submit()
        else:
            self.focus_next()


class InferenceScreen(GonkaScreen):
    MODE = "inference"
    ACTIONS = INFERENCE_ACTIONS
    DEFAULT_CSS = STYLE
    HELP = ("Ask the network's models and see what each request costs. Type a question in the input at the "
            "bottom and press Enter (Shift+Enter or Ctrl+J: a new line); the answer streams in as Markdown and a "
            "dim line under it gives its tokens (prompt + completion) and its cost in GNK (≈: the broker reports "
            "no price, so it is the network's price × tokens). Esc stops an answer (what came is kept, marked "
            "stopped) or leaves the input, so the keys act: n a new conversation, d deletes the highlighted one, "
            "c copies the last answer, m picks the model (each with its price per 1M tokens), b chooses who pays "
            "— your account signing each request, or a broker, which you can add there with its API key — and r "
            "asks again after a failure. The line above the answers shows who pays, this conversation's total "
            "and the account's balance after the last request. Conversations are kept on this machine.")

    def __init__(self) -> None:
        super().__init__()
        self.store: ConversationStore | None = None
        self.inference: InferenceSession | None = None
        self.conversation: Conversation | None = None
        self.messages: list[StoredMessage] = []
        self.generating = False
        self._request = None  # the worker of the request being answered
        self._stop_requested = False
        self.state: str | None = None  # OFFLINE, FUNDS, NO_MODELS, ERROR or None
        self.state_text = ""
        self.balance: int | None = None
        self.balance_problem = ""
        self._model: str | None = None  # the model chosen (also while the list cannot be read)
        self._store_problem = ""

    # ----- layout -----

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="inf-body"):
            with Vertical(id="inf-side"):
                yield Static("Conversations", id="inf-side-title")
                yield OptionList(id="inf-list")
                yield Static("[b]n[/] new  [b]d[/] delete", id="inf-side-keys", classes="muted")
            with Vertical(id="inf-main"):
                with Horizontal(id="inf-top"):
                    yield Select([], prompt="loading the models…", allow_blank=True, compact=True, id="inf-model")
                yield Static("", id="inf-status", markup=False)
                yield Static("", id="inf-banner", markup=False)
                yield ChatView(id="inf-chat")
                yield PromptInput(id="inf-input")

    def on_mount(self) -> None:
        self.query_one("#inf-side").set_class(self.app.size.width < 100, "-narrow")
        self.store = ConversationStore(self.app.home.data_dir)
        opener = getattr(self.app, "inference_opener", None)
        self.inference = InferenceSession(self.app.session, opener)
        self.inference.payer = self.inference.default_payer(self.app.current_account)
        self._reload_list()
        self._show_conversation(None)
        self.query_one("#inf-input", PromptInput).focus()
        self.load_models()
        self.refresh_balance()
        # The chain feed's reads follow the settlement (the escrow's refund comes a block after the answer).
        self.watch(self.app, "chain", self._chain_read, init=False)

    def on_resize(self) -> None:
        super().on_resize()
        self.query_one("#inf-side").set_class(self.app.size.width < 100, "-narrow")

    async def on_unmount(self) -> None:
        if self.inference is not None:
            await self.inference.aclose()
        if self.store is not None:
            self.store.close()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.generating
        if action == "leave_input":
            return not self.generating
        return True

    # ----- what is shown -----

    def _reload_list(self, select: int | None = None) -> None:
        options = self.query_one("#inf-list", OptionList)
        options.clear_options()
        try:
            conversations = self.store.list() if self.store else []
            self._store_problem = ""
        except GonkaError as exc:
            conversations = []
            self._store_problem = str(exc)
            self._set_state(ERROR, str(exc))
        if not conversations:
            options.add_option(Option(Text("none yet", style="dim"), disabled=True))
            return
        for c in conversations:
            options.add_option(Option(Text(c.title or "New conversation", overflow="ellipsis", no_wrap=True),
                                      id=str(c.id)))
        current = select if select is not None else (self.conversation.id if self.conversation else None)
        ids = [c.id for c in conversations]
        options.highlighted = ids.index(current) if current in ids else 0

    def _empty_text(self) -> str:
        inf = self.inference
        price = inf.price(self._model) if inf and self._model else None
        at = f"the shown price ({price_text(price)})" if price is not None else "the model's price"
        payer = f"paid by {inf.payer.short_label}" if inf and inf.payer else "b chooses who pays"
        return (f"Type a question below and press Enter.\n\nEach request costs GNK at {at}, {payer}; the "
                "tokens and cost show under each answer. b: who pays · m: the model · F1: help")

    def _show_conversation(self, conversation: Conversation | None) -> None:
        self.conversation = conversation
        chat = self.query_one(ChatView)
        try:
            self.messages = self.store.messages(conversation.id) if conversation and self.store else []
        except GonkaError as exc:
            self.messages = []
            self._set_state(ERROR, str(exc))
        chat.clear(None if self.messages else self._empty_text())
        for m in self.messages:
            if m.role == "user":
                chat.add_question(m.content)
            elif m.role == "assistant":
                chat.add_answer(m.model, m.content, self._info(m))
        chat.anchor(False)
        if self.messages:
            chat.scroll_end(animate=False)
        if conversation and conversation.model and any(x.id == conversation.model for x in self.inference.models):
            self._select_model(conversation.model)
        self._show_status()

    @staticmethod
    def _info(m: StoredMessage) -> AnswerInfo:
        return AnswerInfo(m.prompt_tokens, m.completion_tokens, cost_text(m.cost_ngonka, m.cost_is_estimate), m.note)

    def _total(self) -> tuple[int, bool]:
        total, estimate = 0, False
        for m in self.messages:
            if m.cost_ngonka is not None:
                total += m.cost_ngonka
                estimate = estimate or m.cost_is_estimate
        return total, estimate

    def _show_status(self) -> None:
        inf = self.inference
        narrow = self.app.size.width < 100
        # Under 100 columns the payer without its address, so the line fits beside the conversation list.
        parts = [(inf.payer.short_label if narrow and inf.payer else inf.label) if inf else ""]
        total, estimate = self._total()
        parts.append(f"{'total' if narrow else 'this conversation'} {cost_text(total, estimate)}")
        if inf and inf.payer and inf.payer.mode == "broker":
            parts.append("the broker pays from its account")
        elif self.balance is not None:
            parts.append(f"balance {cost_text(self.balance)}")
        elif self.balance_problem:
            parts.append(f"balance: {self.balance_problem}" if narrow else
                         f"balance unavailable: {self.balance_problem}")
        if self.generating:
            parts.append("answering… (Esc stops)")
        self.query_one("#inf-status", Static).update(" · ".join(p for p in parts if p))

    def _set_state(self, state: str | None, text: str = "") -> None:
        self.state, self.state_text = state, text
        banner = self.query_one("#inf-banner", Static)
        for s in (OFFLINE, FUNDS, NO_MODELS, ERROR):
            banner.set_class(state == s, f"-{s}")
        banner.set_class(state is not None, "-shown")
        banner.update(text)

    def _state_for(self, error: BaseException) -> tuple[str, str]:
        kind = classify(error)
        if kind == OFFLINE:
            hint = "" if getattr(error, "hint", "") else " (`gonka devnet` runs a local network)"
            return kind, f"Offline: {error}\nThe history stays readable; r retries once the node answers{hint}."
        if kind == FUNDS:
            address = self.inference.payer_address() if self.inference else None
            to = self.inference.payer.name if address else "ADDRESS"
            who = f"{to} ({short_address(address, 8)})" if address else "the account"
            return kind, (f"Insufficient balance: {error}\nOn the devnet, fund {who} with `gonka send FROM {to} "
                          f"AMOUNT` or its faucet (POST {_node(self)}/faucet); then r asks again.")
        if kind == NO_MODELS:
            return kind, (f"Inference is unavailable on this network: {error}\nOn the devnet, install the model "
                          "(see the README) or start it with --inference-backend URL; then r retries.")
        if isinstance(error, GonkaError):
            return kind, f"{error}\nr asks again."
        return kind, f"Unexpected error ({type(error).__name__}); nothing was changed. r asks again."

    # ----- models -----

    def _select_model(self, model: str) -> None:
        self._model = model
        select = self.query_one("#inf-model", Select)
        if select.value != model:
            with self.prevent(Select.Changed):
                select.value = model

    @work(group="inference-models", exclusive=True, exit_on_error=False)
    async def load_models(self) -> None:
        inf = self.inference
        select = self.query_one("#inf-model", Select)
        if inf.payer is None:
            select.set_options([])
            select.prompt = "no account or broker: press b"
            self._show_status()
            return
        if not inf.is_open and inf.payer.mode == "broker":
            # The broker's model list needs its API key: read after unlocking (at the first question).
            if self.app.keystore.unlocked:
                await self._open_client()
            if not inf.is_open:
                select.set_options([])
                select.prompt = "the broker's models: unlock first (at your first question)"
                self._show_status()
                return
        elif not inf.is_open and self.app.keystore.unlocked:
            await self._open_client()
        try:
            models = await inf.load_models()
        except Exception as exc:  # offline or refused: the history stays readable
            select.set_options([])
            select.prompt = "models unavailable"
            self._set_state(*self._state_for(exc))
            self._show_status()
            return
        if self.state in (OFFLINE, NO_MODELS) or (self.state == ERROR and not self._store_problem):
            self._set_state(None)
        if not models:
            select.set_options([])
            select.prompt = "no model served"
            self._set_state(NO_MODELS, "Inference is unavailable on this network: the node lists no model "
                            "(/v1/models is empty). On the devnet, install the model (see the README) or start it "
                            "with --inference-backend URL; then r retries.")
        else:
            select.prompt = "pick a model"
            select.set_options([(f"{m.id} · {price_text(m.price_per_token)}", m.id) for m in models])
            wanted = (self.conversation.model if self.conversation and self.conversation.model else self._model)
            ids = [m.id for m in models]
            self._select_model(wanted if wanted in ids else ids[0])
        if not self.messages:
            self.query_one(ChatView).show_empty(self._empty_text())
        self._show_status()

    async def _open_client(self) -> bool:
        """Open the payer's client (the keystore unlocked); a failure becomes the banner."""
        try:
            self.inference.open()
        except GonkaError as exc:
            self._set_state(ERROR, f"{exc}\nb chooses who pays.")
            return False
        self._show_status()
        return True

    @on(Select.Changed, "#inf-model")
    def _model_changed(self, event: Select.Changed) -> None:
        if event.value is Select.NULL:
            return
        self._model = str(event.value)
        if self.conversation and self.store:
            try:
                self.store.set_model(self.conversation.id, self._model)
            except GonkaError as exc:
                self.app.notify(str(exc), severity="error")
        if not self.messages:
            self.query_one(ChatView).show_empty(self._empty_text())

    # ----- conversations -----

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id != "inf-list" or event.option.id is None:
            return
        if self.generating:
            self.app.notify("An answer is being written: Esc stops it first.", severity="warning")
            return
        try:
            conversation = self.store.get(int(event.option.id))
        except GonkaError as exc:
            self.app.notify(str(exc), severity="error")
            self._reload_list()
            return
        self._show_conversation(conversation)

    def action_new(self) -> None:
        if self.generating:
            self.app.notify("An answer is being written: Esc stops it first.", severity="warning")
            return
        self._show_conversation(None)
        self._reload_list()
        self.query_one("#inf-input", PromptInput).focus()

    def _highlighted(self) -> int | None:
        options = self.query_one("#inf-list", OptionList)
        if options.has_focus and options.highlighted is not None:
            option = options.get_option_at_index(options.highlighted)
            if option.id is not None:
                return int(option.id)
        return self.conversation.id if self.conversation else None

    @work(group="inference-delete", exclusive=True, exit_on_error=False)
    async def action_delete(self) -> None:
        target = self._highlighted()
        if target is None or self.store is None:
            self.app.notify("No conversation to delete.")
            return
        if self.generating and self.conversation and target == self.conversation.id:
            self.app.notify("An answer is being written: Esc stops it first.", severity="warning")
            return
        try:
            title = self.store.get(target).title or "New conversation"
        except GonkaError as exc:
            self.app.notify(str(exc), severity="error")
            return
        body = Text.assemble("Delete ", (title, "bold"), " and all its messages from this machine? "
                             "What it cost stays on the chain.")
        if not await self.app.push_screen_wait(ConfirmModal("Delete the conversation?", body, "Delete", danger=True)):
            return
        self.store.delete(target)
        if self.conversation and self.conversation.id == target:
            self._show_conversation(None)
        self._reload_list()
        self.app.notify("Conversation deleted.")

    # ----- keys -----

    def action_ask(self) -> None:
        self.query_one("#inf-input", PromptInput).focus()

    def action_leave_input(self) -> None:
        if self.query_one("#inf-input", PromptInput).has_focus:
            self.query_one("#inf-list", OptionList).focus()

    def action_model(self) -> None:
        select = self.query_one("#inf-model", Select)
        select.focus()
        select.action_show_overlay()

    def action_copy(self) -> None:
        answer = next((m.content for m in reversed(self.messages) if m.role == "assistant" and m.content), None)
        if answer is None:
            self.app.notify("No answer to copy yet.")
            return
        self.app.copy_to_clipboard(answer)
        self.app.notify("The last answer is on the clipboard.")

    def action_retry(self) -> None:
        if self.generating:
            return
        self._set_state(None)
        last = self.messages[-1] if self.messages else None
        if last is not None and last.role == "user":
            self.ask(None)  # the question that got no answer
        else:
            self.load_models()

    def action_stop(self) -> None:
        if self.generating and self._request is not None:
            self._stop_requested = True
            self._request.cancel()

    # ----- who pays -----

    @work(group="inference-pay", exclusive=True, exit_on_error=False)
    async def action_brokers(self) -> None:
        problem = ""
        while True:
            inf = self.inference
            try:
                brokers = inf.brokers()
            except GonkaError as exc:
                brokers, problem = [], str(exc)
            choice = await self.app.push_screen_wait(BrokersDialog(inf.signers(), brokers, inf.payer, problem))
            problem = ""
            if choice is None:
                return
            if choice[0] == "pick":
                if self.generating:
                    self.app.notify("An answer is being written: Esc stops it first.", severity="warning")
                    return
                await inf.choose(choice[1])
                self.balance, self.balance_problem = None, ""
                self._set_state(None)
                self._show_status()
                self.app.notify(f"Inference now paid: {choice[1].label}.")
                self.load_models()
                if choice[1].mode == "signed":
                    self.refresh_balance()
                return
            if choice[0] == "add":
                values = await self.app.push_screen_wait(AddBrokerModal())
                if values is None:
                    continue
                if not await self.app.ensure_unlocked("Unlock to keep the broker's API key encrypted in the keystore."):
                    continue
                try:
                    broker = await asyncio.to_thread(inf.session.brokers.add, *values)
                except GonkaError as exc:
                    problem = str(exc)
                    continue
                self.app.notify(f"Broker '{broker.name}' added; pick it to buy inference through it.")
            elif choice[0] == "remove":
                name = choice[1]
                if not await self.app.push_screen_wait(ConfirmModal(
                        "Remove the broker?", f"Remove the broker '{name}' and its API key from this machine?",
                        "Remove", danger=True)):
                    continue
                try:
                    inf.session.brokers.remove(name)
                except GonkaError as exc:
                    problem = str(exc)
                    continue
                if inf.payer == Payer("broker", name):
                    await inf.choose(inf.default_payer(self.app.current_account)
                                     if inf.session.network.broker != name else None)
                    self.load_models()
                self._show_status()

    # ----- asking -----

    @on(PromptInput.Submitted)
    def _submitted(self, event: PromptInput.Submitted) -> None:
        text = event.text.strip()
        if not text:
            return
        if self.generating:
            self.app.notify("An answer is being written: wait for it, or Esc stops it.", severity="warning")
            return
        self.ask(text)

    @work(group="inference-ask", exclusive=True, exit_on_error=False)
    async def ask(self, text: str | None) -> None:
        """Ask `text` in the current conversation (None: answer its last, unanswered question)."""
        inf = self.inference
        if inf.payer is None:
            self._set_state(ERROR, "Nobody can pay for inference yet: create or import an account with a key on "
                            "the Wallet (F2), or add a broker (b).")
            return
        if not inf.is_open:
            what = "sign the request" if inf.payer.mode == "signed" else "read the broker's API key"
            if not await self.app.ensure_unlocked(f"Unlock to {what} ({inf.payer.label})."):
                return
            if not await self._open_client():
                return
            if not inf.models:
                self.load_models()
        self._set_state(None)
        store = self.store
        try:
            if self.conversation is None:
                self.conversation = store.create(model=self._model or "", mode=inf.payer.stored)
            if text is not None:
                self.messages.append(store.add_message(self.conversation.id, "user", text))
                self.query_one("#inf-input", PromptInput).clear()
                self.query_one(ChatView).add_question(text)
            self.conversation = store.get(self.conversation.id)
        except GonkaError as exc:
            self._set_state(ERROR, str(exc))
            return
        self._reload_list(self.conversation.id)
        await self._answer()

    async def _answer(self) -> None:
        inf, store, conversation = self.inference, self.store, self.conversation
        chat = self.query_one(ChatView)
        model = self._model
        follow = chat.scroll_y >= chat.max_scroll_y  # the view was at the bottom: follow the answer
        box = await chat.append_answer(model or "")
        chat.scroll_end(animate=False)

        def rendered() -> None:
            # Anchored once the answer overflows the view (Textual then keeps it at the bottom until the user
            # scrolls up); not before, or a short answer would sit at the bottom of an empty view.
            if follow and not chat.is_anchored and chat.max_scroll_y > 0:
                chat.anchor()
        self.generating, self._stop_requested = True, False
        self._request = get_current_worker()
        self.refresh_bindings()
        self._show_status()
        writer = ThrottledAppend(box.markdown, on_render=rendered)
        done: Done | None = None
        failure: BaseException | None = None
        note = ""
        try:
            stream = inf.open().chat(history(self.messages), model=model)
            async for event in stream:
                if isinstance(event, Delta):
                    writer.write(event.text)
                elif isinstance(event, Done):
                    done = event
        except asyncio.CancelledError:
            if not self._stop_requested:  # the app is closing: keep what came, show nothing more
                try:
                    store.add_message(conversation.id, "assistant", writer.text, model=model or "", partial=True,
                                      note="stopped")
                except GonkaError:
                    pass
                raise
            note = "stopped"
        except InferenceError as exc:
            failure = exc
            if isinstance(exc, StreamCut):
                note = "cut: " + str(exc).removeprefix("the answer was cut: ")
            elif exc.partial:
                note = f"failed: {exc}"
        except Exception as exc:  # never crash the screen
            failure = exc
        await self._finish(box, writer, done, note, failure, conversation, store)

    async def _finish(self, box: AnswerBox, writer: ThrottledAppend, done: Done | None, note: str,
                      failure: BaseException | None, conversation: Conversation, store: ConversationStore) -> None:
        await writer.close()
        self.generating, self._request = False, None
        content = done.content if done is not None else writer.text
        if done is None and failure is not None and not writer.text:
            box.remove()  # nothing came: the question stays, r asks it again
            self._set_state(*self._state_for(failure))
        else:
            usage = done.usage if done else None
            try:
                saved = store.add_message(
                    conversation.id, "assistant", content, model=(done.model if done else self._model or ""),
                    prompt_tokens=usage.prompt_tokens if usage else None,
                    completion_tokens=usage.completion_tokens if usage else None,
                    cost_ngonka=done.cost_ngonka if done else None,
                    cost_is_estimate=bool(done and done.cost_is_estimate), partial=done is None, note=note)
            except GonkaError as exc:
                self._set_state(ERROR, str(exc))
                saved = StoredMessage(0, conversation.id, "assistant", content, partial=done is None, note=note)
            if self.conversation is not None and self.conversation.id == conversation.id:
                self.messages.append(saved)
            box.set_info(self._info(saved))
            if failure is not None:
                self._set_state(*self._state_for(failure))
            self._reload_list()
        self.refresh_bindings()
        self._show_status()
        if self.is_attached:
            self.refresh_balance()
            # The node settles a block or so after the answer (the escrow's rest comes back then): read again.
            self.set_timer(SETTLE_SECONDS, self.refresh_balance)

    def _chain_read(self, snapshot) -> None:
        address = self.inference.payer_address() if self.inference else None
        balances = snapshot.balances.get(address) if snapshot is not None and address else None
        if balances is not None and balances.spendable != self.balance:
            self.balance, self.balance_problem = balances.spendable, ""
            self._show_status()

    @work(group="inference-balance", exclusive=True, exit_on_error=False)
    async def refresh_balance(self) -> None:
        """The paying account's balance after the request (and the Wallet's balances with it)."""
        try:
            balance = await self.inference.balance()
        except NodeUnreachable:
            self.balance_problem = "offline"
        except GonkaError as exc:
            self.balance_problem = str(exc).split(";")[0]
        except Exception as exc:
            self.balance_problem = type(exc).__name__
        else:
            self.balance, self.balance_problem = balance, ""
            self.app.poll_chain()
        self._show_status()
