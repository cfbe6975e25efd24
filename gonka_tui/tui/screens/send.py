"""Send: from one of your accounts to an address, contact or account; checked as you type, the fee
always shown, a confirmation with everything, progress until the transfer is in a block."""

from __future__ import annotations

import asyncio

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Button, Input, Label, Select, Static

from gonka_tui.core.account_list import AccountPick
from gonka_tui.core.address import short_address
from gonka_tui.core.address_book import lookalikes
from gonka_tui.core.errors import GonkaError, InputError, NodeUnreachable, TxRejected
from gonka_tui.core.keystore import KeyRecord
from gonka_tui.core.recipients import Recipient
from gonka_tui.core.transfer import SELF_SEND, SendPlan, SentTransfer, Transfer, plan_max, plan_send, signer_for
from gonka_tui.core.tx import MAX_MEMO_BYTES, validate_memo
from gonka_tui.core.units import format_gnk, parse_amount
from gonka_tui.tui.actions import SEND_ACTIONS
from gonka_tui.tui.messages import TransferSent
from gonka_tui.tui.screens.base import GonkaScreen
from gonka_tui.tui.screens.dialogs import ConfirmModal, ErrorModal
from gonka_tui.tui.screens.picker import Choice, RecipientPicker, when
from gonka_tui.tui.screens.send_dialogs import SendProgressModal, SendResultModal, summary_table

DEBOUNCE_SECONDS = 0.4
SEND_WAIT_SECONDS = 90.0  # how long to wait for the block that includes a broadcast transfer

NO_SENDER = """[b]No account here can send.[/b]

Sending needs an account whose key is on this machine. Watch-only accounts hold an address alone.

  [b]F2[/b] then [b]c[/b]  create a wallet     [b]r[/b]  recover one     [b]i[/b]  import a private key"""

FEE_PENDING = "[dim]Fee — · gas — (estimated once the recipient and the amount are valid)[/dim]"
OFFLINE = "offline: the node does not answer"
OFFLINE_NO_FEE = f"{OFFLINE}, so the fee cannot be estimated"


class SendScreen(GonkaScreen):
    MODE = "send"
    ACTIONS = SEND_ACTIONS
    HELP = ("Send GNK. To takes an address (checked as you type: prefix, checksum, length), a contact or "
            "one of your account names; Ctrl+B picks one. A recipient that resembles but differs from an "
            "address you know is flagged (address poisoning). The fee and gas are estimated with the node "
            "as you type and always shown, even when the fee is 0. Review shows everything before anything "
            "is signed; the keystore is unlocked only then.")

    def __init__(self) -> None:
        super().__init__()
        self.plan: SendPlan | None = None  # the estimate for the current inputs
        self._plan_key: tuple | None = None  # the inputs `plan` (or the running estimate) is for
        self._plan_problem: str | None = None
        self._debounce: Timer | None = None
        self._recipient: Recipient | None = None
        self._lookalikes: list[tuple[str, str]] = []
        self._pending: tuple[str | None, str | None] | None = None
        self._pick = AccountPick()
        self._senders: list[KeyRecord] = []
        self._options: list[tuple[str, str]] = []

    # ----- layout -----

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="send-body"):
            yield Static(NO_SENDER, id="send-empty", classes="empty")
            with Vertical(id="send-form"):
                with Horizontal(classes="field"):
                    yield Label("From", classes="field-label")
                    yield Select([], id="from", allow_blank=True, compact=True, prompt="choose an account")
                yield Static("", id="from-note", classes="field-note")
                with Horizontal(classes="field"):
                    yield Label("To", classes="field-label")
                    yield Input(placeholder="gonka1… address, contact or account name", id="to", compact=True)
                    yield Button("Pick ^b", id="pick-to", compact=True)
                yield Static("", id="to-note", classes="field-note")
                yield Static("", id="lookalike")
                with Horizontal(classes="field"):
                    yield Label("Amount", classes="field-label")
                    yield Input(placeholder="e.g. 1.5gnk or 1500000000ngonka", id="amount", compact=True)
                    yield Button("Max ^g", id="max", compact=True)
                yield Static("", id="amount-note", classes="field-note")
                with Horizontal(classes="field"):
                    yield Label("Memo", classes="field-label")
                    yield Input(placeholder="optional, public on chain", id="memo", compact=True)
                    yield Static("0/256", id="memo-count")
                yield Static("", id="memo-note", classes="field-note")
                yield Static(FEE_PENDING, id="fee")
                yield Static("", id="plan-problem", classes="problem", markup=False)
                with Horizontal(id="send-buttons"):
                    yield Button("Review ^s", id="review", variant="primary", compact=True)

    def on_mount(self) -> None:
        # Tab walks the fields (From, To, Amount, Memo, Review); Pick and Max have their keys.
        for button in ("#pick-to", "#max"):
            self.query_one(button, Button).can_focus = False
        self.watch(self.app, "accounts", self._load_senders, init=False)
        self._load_senders()
        if self._pending:
            from_name, to = self._pending
            self._pending = None
            self.prefill(from_name=from_name, to=to)
        self._validate()
        self._focus_first_empty()

    def on_screen_resume(self) -> None:
        if not self.app.reload_accounts():  # changed: the watcher loads them
            self._load_senders()
        self._validate()
        if self.focused is None:
            self._focus_first_empty()

    def _focus_first_empty(self) -> None:
        for field in ("#to", "#amount", "#memo"):
            widget = self.query_one(field, Input)
            if not widget.value.strip():
                widget.focus()
                return
        self.query_one("#review", Button).focus()

    # ----- accounts that can send -----

    def _load_senders(self) -> None:
        senders = self.app.accounts.senders()
        self._senders = list(senders.records)
        select = self.query_one("#from", Select)
        current = select.value if select.value is not Select.BLANK else None
        options = senders.options
        if options != self._options:  # set_options empties the selection: only when they changed
            self._options = options
            select.set_options(options)
        self.query_one("#send-empty").display = not self._senders
        self.query_one("#send-form").display = bool(self._senders)
        if not self._senders:
            return
        choice = self._pick.choose(senders.names, current, self.app.current_account, self.app.config.default_key)
        if select.value != choice:
            select.value = choice
        self._from_note()

    def sender(self) -> KeyRecord | None:
        value = self.query_one("#from", Select).value
        return next((r for r in self._senders if r.name == value), None)

    def _from_note(self) -> None:
        note = self.query_one("#from-note", Static)
        rec = self.sender()
        parts = []
        if rec is not None:
            parts.append(rec.address if self.size.width >= 100 else short_address(rec.address, 10))
            if self.plan is not None and self.plan.from_address == rec.address:
                parts.append(f"spendable {format_gnk(self.plan.spendable)}")
            elif (bal := self.app.balances.get(rec.address)) is not None:
                parts.append(f"spendable {format_gnk(bal.spendable)}")
        picked = self.app.current_account
        try:
            picked_rec = self.app.keystore.get(picked) if picked else None
        except GonkaError:
            picked_rec = None
        if picked_rec is not None and not picked_rec.has_secret:
            parts.append(f"\n[yellow]'{escape(picked_rec.name)}' (selected on the Wallet) is watch-only: "
                         "it cannot send from here[/yellow]")
        note.update(" · ".join(parts).replace(" · \n", "\n"))

    # ----- filling in from elsewhere -----

    def prefill(self, from_name: str | None = None, to: str | None = None) -> None:
        if not self.is_mounted:
            self._pending = (from_name, to)
            return
        self._load_senders()
        if from_name and any(r.name == from_name for r in self._senders):
            self.query_one("#from", Select).value = from_name
        if to is not None:
            self.query_one("#to", Input).value = to
            self.query_one("#amount", Input).focus()
        self._from_note()
        self._validate()

    # ----- live validation -----

    @on(Select.Changed, "#from")
    def _from_changed(self) -> None:
        self._from_note()
        self._validate()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        self._validate()

    def _known(self) -> list[tuple[str, str]]:
        return [(k.label, k.address) for k in self.app.session.recipients().known()]

    def _validate(self) -> tuple[KeyRecord, Recipient, int, str] | None:
        """Check every field, say what is wrong next to it; start an estimate once all are valid."""
        to_text = self.query_one("#to", Input).value
        amount_text = self.query_one("#amount", Input).value
        memo = self.query_one("#memo", Input).value
        sender = self.sender()
        ok = sender is not None

        # To
        to_note = self.query_one("#to-note", Static)
        self._recipient = None
        self._lookalikes = []
        try:
            self._recipient = self.app.session.recipients().resolve(to_text)
        except InputError as exc:
            ok = False
            to_note.set_class(bool(to_text.strip()), "problem")
            to_note.update(Text(str(exc)) if to_text.strip() else Text(str(exc), style="dim"))
        except GonkaError as exc:  # a damaged address book
            ok = False
            to_note.set_class(True, "problem")
            to_note.update(Text(str(exc)))
        else:
            rec = self._recipient
            to_note.set_class(False, "problem")
            if sender is not None and rec.address == sender.address:
                ok = False
                to_note.set_class(True, "problem")
                to_note.update(Text(SELF_SEND))
            try:  # a named recipient (contact, own account) is the known address itself
                self._lookalikes = [] if rec.label else lookalikes(rec.address, self._known())
            except GonkaError:
                self._lookalikes = []
            if sender is not None and rec.address == sender.address:
                pass
            elif self._lookalikes:
                to_note.update(Text("⚠ a valid address, but not one you know: read the warning below",
                                    style="bold yellow"))
            elif rec.label:
                to_note.update(Text.assemble(("✓ ", "green"), (rec.label, "bold"), f" → {rec.address}"))
            else:
                to_note.update(Text.assemble(("✓ ", "green"), "valid address (not in your address book)"))
        self._show_lookalike()

        # Amount
        amount_note = self.query_one("#amount-note", Static)
        amount = 0
        try:
            amount = parse_amount(amount_text)
        except InputError as exc:
            ok = False
            amount_note.set_class(bool(amount_text.strip()), "problem")
            amount_note.update(Text(str(exc)) if amount_text.strip() else
                               Text("GNK with a denom, e.g. 1.5gnk; Max sends all spendable less the fee", style="dim"))
        else:
            amount_note.set_class(False, "problem")
            amount_note.update(Text(f"= {amount:,} ngonka", style="dim"))

        # Memo (the core's check, as the CLI's; the count is bytes, as the chain counts)
        memo_note = self.query_one("#memo-note", Static)
        try:
            validate_memo(memo)
            memo_problem = None
        except InputError as exc:
            memo_problem = str(exc)
        count = self.query_one("#memo-count", Static)
        count.update(f"{len(memo.encode('utf-8', 'replace'))}/{MAX_MEMO_BYTES}")
        count.set_class(memo_problem is not None, "problem")
        if memo_problem:
            ok = False
            memo_note.set_class(True, "problem")
            memo_note.update(Text(memo_problem))
        else:
            memo_note.set_class(False, "problem")
            memo_note.update(Text("the memo is public: never put a secret in it", style="dim") if memo else "")

        if not ok:
            self._cancel_estimate()
            self.plan, self._plan_key, self._plan_problem = None, None, None
            self._show_plan()
            return None
        assert sender is not None and self._recipient is not None
        key = (sender.address, self._recipient.address, amount, memo)
        if key != self._plan_key:
            self.plan, self._plan_key, self._plan_problem = None, key, None
            self._show_plan(estimating=True)
            self._cancel_estimate()
            self._debounce = self.set_timer(DEBOUNCE_SECONDS, lambda: self.estimate(key))
        return sender, self._recipient, amount, memo

    def _cancel_estimate(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None

    def _show_lookalike(self) -> None:
        box = self.query_one("#lookalike", Static)
        box.display = bool(self._lookalikes and self._recipient)
        if not box.display:
            return
        typed = self._recipient.address
        label, similar = self._lookalikes[0]
        text = Text()
        text.append(f"⚠ LOOK-ALIKE ADDRESS: this is NOT {label}\n", style="bold")
        text.append("  To     ")
        _diff(text, typed, similar)
        text.append(f"\n  Known  {similar}\n")
        more = f" ({len(self._lookalikes) - 1} more similar)" if len(self._lookalikes) > 1 else ""
        text.append(f"  Same start and end, different address{more}. Check every character, or pick with Ctrl+B.")
        box.update(text)

    def _show_plan(self, estimating: bool = False) -> None:
        fee = self.query_one("#fee", Static)
        problem = self.query_one("#plan-problem", Static)
        problem.update(self._plan_problem or "")
        problem.display = bool(self._plan_problem)
        plan = self.plan
        if plan is None:
            if estimating:
                fee.update("[dim]Fee … · gas … estimating with the node[/dim]")
            elif self._plan_problem:
                fee.update("[dim]Fee — · gas — (no estimate: see below)[/dim]")
            else:
                fee.update(FEE_PENDING)
            return
        self._from_note()
        fee.update(f"Fee [b]{format_gnk(plan.fee)}[/b] ({plan.fee:,} ngonka) · gas {plan.gas_text}"
                   f" · spendable after {format_gnk(plan.spendable_after)}")

    # ----- the estimate -----

    async def _signer(self, rec: KeyRecord, for_signing: bool):
        return await asyncio.to_thread(signer_for, self.app.keystore, rec, sign=for_signing)

    @work(group="estimate", exclusive=True, exit_on_error=False)
    async def estimate(self, key: tuple) -> None:
        if key != self._plan_key:
            return
        sender = self.sender()
        if sender is None:
            return
        from_address, to_address, amount, memo = key
        plan, problem = None, None
        try:
            signer = await self._signer(sender, for_signing=False)
            plan = await plan_send(self.app.client, signer, from_address, to_address, amount, memo=memo)
        except InputError as exc:  # over-spend and the like: said next to the fee, never a modal
            problem = str(exc)
        except GonkaError as exc:
            problem = OFFLINE_NO_FEE if isinstance(exc, NodeUnreachable) else str(exc)
            if isinstance(exc, NodeUnreachable):
                self.app.network_error(exc, lambda: self.estimate(key))
        else:
            self.app.note_online()
        if key != self._plan_key:  # the inputs changed meanwhile
            return
        self.plan, self._plan_problem = plan, problem
        self._show_plan()

    # ----- actions -----

    def action_pick(self) -> None:
        book = self.app.address_book
        sender = self.sender()
        try:
            contacts, recent = book.contacts(), book.recent()
        except GonkaError as exc:
            self.app.show_error(exc)
            return
        choices = [Choice("Contacts", c.name, c.address, c.note) for c in contacts]
        choices += [Choice("Your accounts", r.name, r.address, "watch-only" if not r.has_secret else "")
                    for r in self.app.keystore.list() if sender is None or r.address != sender.address]
        named = {c.address for c in choices}
        choices += [Choice("Recent recipients", None, r.address, f"{r.count}× · last {when(r.last_used)}")
                    for r in recent if r.address not in named]

        def picked(value: str | None) -> None:
            if value:
                self.query_one("#to", Input).value = value
                self.query_one("#amount", Input).focus()

        self.app.push_screen(RecipientPicker(choices), picked)

    @work(group="max", exclusive=True, exit_on_error=False)
    async def action_max(self) -> None:
        sender = self.sender()
        if sender is None or self._recipient is None:
            self._plan_problem = "Max needs the sender and a valid recipient first: the fee depends on both"
            self._show_plan()
            self.query_one("#to", Input).focus()
            return
        memo = self.query_one("#memo", Input).value
        recipient = self._recipient
        self.query_one("#fee", Static).update("[dim]Fee … computing the largest amount[/dim]")
        try:
            signer = await self._signer(sender, for_signing=False)
            plan = await plan_max(self.app.client_now(), signer, sender.address, recipient.address, memo=memo)
        except InputError as exc:
            self._plan_problem = str(exc)
            self._show_plan()
            return
        except NodeUnreachable as exc:
            self._plan_problem = OFFLINE_NO_FEE
            self._show_plan()
            self.app.network_error(exc, self.action_max, user_initiated=True)
            return
        self._cancel_estimate()
        self.plan, self._plan_problem = plan, None
        self._plan_key = (sender.address, recipient.address, plan.amount, memo)
        self.query_one("#amount", Input).value = f"{format_gnk(plan.amount, denom=False, group=False)}gnk"
        self._show_plan()

    def action_clear(self) -> None:
        for field in ("#to", "#amount", "#memo"):
            self.query_one(field, Input).value = ""
        self.query_one("#to", Input).focus()

    @on(Button.Pressed)
    def _button(self, event: Button.Pressed) -> None:
        actions = {"pick-to": self.action_pick, "max": self.action_max, "review": self.action_review}
        if event.button.id in actions:
            actions[event.button.id]()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        order = ["to", "amount", "memo"]
        if event.input.id == "memo":
            self.action_review()
        elif event.input.id in order:
            self.query_one(f"#{order[order.index(event.input.id) + 1]}", Input).focus()

    @work(group="send", exclusive=True, exit_on_error=False)
    async def action_review(self) -> None:
        valid = self._validate()
        if valid is None:
            for field, note in (("#to", "#to-note"), ("#amount", "#amount-note"), ("#memo", "#memo-note")):
                if self.query_one(note).has_class("problem") or not self.query_one(field, Input).value.strip():
                    if field != "#memo":
                        self.query_one(field, Input).focus()
                        break
            if self.sender() is None:
                self.app.notify("Choose the account to send from.", severity="warning")
            else:
                self.app.notify("Fix the fields marked in red first.", severity="warning")
            return
        sender, recipient, amount, memo = valid
        lookalike = list(self._lookalikes)
        self._cancel_estimate()
        self.query_one("#fee", Static).update("[dim]Fee … checking with the node[/dim]")
        # A fresh plan: the account's sequence, balance and gas as of now.
        try:
            signer = await self._signer(sender, for_signing=False)
            plan = await plan_send(self.app.client_now(), signer, sender.address, recipient.address, amount,
                                   memo=memo)
        except InputError as exc:
            self.plan, self._plan_problem = None, str(exc)
            self._show_plan()
            return
        except NodeUnreachable as exc:
            self.plan, self._plan_problem = None, OFFLINE
            self._show_plan()
            self.app.network_error(exc, self.action_review, user_initiated=True)
            return
        self.plan, self._plan_problem = plan, None
        self._plan_key = (sender.address, recipient.address, amount, memo)
        self._show_plan()

        rows: list[tuple[str, str | Text]] = []
        if lookalike:
            rows.append(("⚠ Warning", Text(f"the recipient resembles {lookalike[0][0]} ({lookalike[0][1]}) "
                                          "but is a different address", style="bold red")))
        for label, value in plan.summary():
            if label == "From":
                value = f"{value}\n({sender.name})"
            elif label == "To" and recipient.label:
                value = f"{value}\n({recipient.label})"
            rows.append((label, Text(value) if label == "Memo" else value))
        title = f"Send {format_gnk(plan.amount)}?"
        if not await self.app.push_screen_wait(ConfirmModal(title, summary_table(rows), "Send",
                                                            danger=bool(lookalike))):
            return
        if not await self.app.ensure_unlocked(f"Unlock to sign the transfer of {format_gnk(plan.amount)} "
                                              f"to {short_address(plan.to_address)}."):
            self.app.notify("Not sent: the keystore stayed locked.", severity="warning")
            return
        await self._execute(sender, recipient, plan)

    async def _execute(self, sender: KeyRecord, recipient: Recipient, plan: SendPlan) -> None:
        transfer = Transfer(await self._signer(sender, for_signing=True), plan)
        while True:
            progress = SendProgressModal(f"Sending {format_gnk(plan.amount)} to {short_address(plan.to_address)}")
            await self.app.push_screen(progress)
            try:
                result = await transfer.attempt(self.app.client_now(), progress=progress.step,
                                                timeout=SEND_WAIT_SECONDS)
            except TxRejected as exc:
                await progress.close()
                await self.app.push_screen_wait(ErrorModal("Not sent", str(exc)))
                return
            except GonkaError as exc:
                await progress.close()
                again = await self.app.push_screen_wait(ErrorModal(
                    "Not confirmed yet", f"{exc}\n\nThe transfer may or may not have reached the network. Retry "
                    "looks it up by its hash first and only sends it if the network does not have it: "
                    "it is never sent twice.", retry=True))
                if not again:
                    return
                continue
            await progress.close()
            break
        self.post_message(TransferSent(SentTransfer(plan, result)))
        if result.code == 0:
            for field in ("#to", "#amount", "#memo"):
                self.query_one(field, Input).value = ""
        await self.app.push_screen_wait(SendResultModal(plan, result, recipient.label))


def _diff(text: Text, typed: str, known: str) -> None:
    """`typed`, with the characters that differ from `known` (position by position) highlighted."""
    for i, ch in enumerate(typed):
        same = i < len(known) and known[i] == ch
        text.append(ch, style="" if same else "bold reverse")
