"""The Inference screen's non-UI part: who pays (an account signing its requests, or a broker), the one
open InferenceClient, the models with their prices, the balance after a request, and what a failure
means for the screen (offline, insufficient funds, no model, an error). No Textual here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from gonka_tui.core.account_list import AccountPick
from gonka_tui.core.conversations import StoredMessage
from gonka_tui.core.errors import GonkaError, InputError, NodeUnreachable
from gonka_tui.core.inference import (ChatMessage, EndpointUnreachable, InferenceClient, InferenceError,
                                      InferenceTimeout, InsufficientFunds, ModelPrice, network_models,
                                      open_inference)
from gonka_tui.core.units import format_gnk

if TYPE_CHECKING:
    from gonka_tui.core.session import Session

# open_inference's shape: (session, *, key=None, broker=None) -> InferenceClient. Tests give a fake.
Opener = Callable[..., InferenceClient]

MILLION = 1_000_000


@dataclass(frozen=True)
class Payer:
    """Who pays for the screen's requests: an account of this keystore ("signed") or a broker."""

    mode: str  # "signed" | "broker"
    name: str  # the key's or the broker's name

    @property
    def label(self) -> str:
        return f"signed as {self.name}" if self.mode == "signed" else f"broker {self.name}"

    @property
    def short_label(self) -> str:
        return f"{self.name} ({self.mode})"

    @property
    def stored(self) -> str:
        """As a conversation keeps it."""
        return f"{self.mode}:{self.name}"


def price_text(price_per_token: int | None) -> str:
    """'10 GNK / 1M tokens' (the network's price per token is in ngonka)."""
    if price_per_token is None:
        return "price unknown"
    return f"{format_gnk(price_per_token * MILLION)} / 1M tokens"


def cost_text(cost_ngonka: int | None, estimate: bool = False) -> str:
    if cost_ngonka is None:
        return ""
    return ("≈" if estimate else "") + format_gnk(cost_ngonka)


def history(messages: list[StoredMessage]) -> list[ChatMessage]:
    """What the model is given: the conversation so far (answers that failed with nothing are left out)."""
    return [ChatMessage(m.role, m.content) for m in messages if m.content or m.role == "user"]


# What a failure means for the screen.
OFFLINE, FUNDS, NO_MODELS, ERROR = "offline", "funds", "no-models", "error"


def classify(error: BaseException) -> str:
    if isinstance(error, NodeUnreachable):
        return OFFLINE
    if isinstance(error, InsufficientFunds):
        return FUNDS
    if isinstance(error, InferenceError):
        if error.status == 503:
            return NO_MODELS
        if isinstance(error, InferenceTimeout) and not error.partial:
            return OFFLINE
        if isinstance(error, EndpointUnreachable):
            return OFFLINE
    return ERROR


class InferenceSession:
    """One screen's client and choices. `open` makes the client (the keystore unlocked before)."""

    def __init__(self, session: "Session", opener: Opener | None = None) -> None:
        self.session = session
        self._opener = opener or open_inference
        self.payer: Payer | None = None
        self._client: InferenceClient | None = None
        self.models: list[ModelPrice] = []

    # ----- who pays -----

    def signers(self) -> list[str]:
        return list(self.session.accounts(can_send=True).names)

    def brokers(self) -> list:
        return self.session.brokers.list()

    def default_payer(self, wallet_pick: str | None = None) -> Payer | None:
        """The profile's broker when it names one, else the account chosen on the Wallet screen (or the
        configured default key, or the first with a key)."""
        broker = self.session.network.broker
        if broker:
            return Payer("broker", broker)
        name = AccountPick().choose(self.signers(), None, wallet_pick, self.session.config.default_key)
        return Payer("signed", name) if name else None

    async def choose(self, payer: Payer | None) -> None:
        if payer != self.payer:
            await self.close_client()
            self.payer = payer
            self.models = []

    @property
    def is_open(self) -> bool:
        return self._client is not None

    @property
    def label(self) -> str:
        if self._client is not None and getattr(self._client, "label", ""):
            return self._client.label
        return self.payer.label if self.payer else "nobody pays yet"

    def open(self) -> InferenceClient:
        """The client for the payer (made once). InputError/KeystoreError with one line when it cannot be."""
        if self._client is None:
            if self.payer is None:
                raise InputError("nobody can pay for inference yet: create or import an account with a key (F2), "
                                 "or add a broker (b)")
            kw = {"key": self.payer.name} if self.payer.mode == "signed" else {"broker": self.payer.name}
            self._client = self._opener(self.session, **kw)
        return self._client

    async def close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aclose()
            except Exception:  # closing must never stop a change of payer
                pass

    # ----- models, prices, balance -----

    async def load_models(self) -> list[ModelPrice]:
        """The models and prices: from the client when open; signed mode can list them without unlocking."""
        if self._client is not None:
            self.models = list(await self._client.models())
        elif self.payer is not None and self.payer.mode == "signed":
            self.models = await network_models(self.session.client)
        else:
            self.models = []
        return self.models

    def price(self, model: str | None) -> int | None:
        return next((m.price_per_token for m in self.models if m.id == model), None)

    def payer_address(self) -> str | None:
        if self.payer is None or self.payer.mode != "signed":
            return None
        try:
            return self.session.keystore.get(self.payer.name).address
        except GonkaError:
            return None

    async def balance(self) -> int | None:
        """The paying account's spendable balance now (ngonka); None for a broker (it pays from its own)."""
        address = self.payer_address()
        if address is None:
            return None
        return (await self.session.client_now().balances(address)).spendable

    async def aclose(self) -> None:
        await self.close_client()
