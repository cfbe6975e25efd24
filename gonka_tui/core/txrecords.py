"""Transactions as the node reports them (REST tx_response): for `tx show`, history and the app."""

from __future__ import annotations

from dataclasses import dataclass

from gonka_tui.core.accounts import coins_amount
from gonka_tui.core.errors import InputError
from gonka_tui.core.tx import MSG_SEND
from gonka_tui.core.units import BASE_DENOM


@dataclass(frozen=True)
class Transfer:
    sender: str
    recipient: str
    amount: int  # ngonka


@dataclass(frozen=True)
class TxRecord:
    hash: str
    height: int
    time: str
    code: int
    codespace: str
    raw_log: str
    gas_wanted: int
    gas_used: int
    memo: str
    fee: int  # ngonka
    transfers: tuple[Transfer, ...]
    other_messages: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.code == 0

    def direction(self, address: str) -> str:
        sent = any(t.sender == address for t in self.transfers)
        received = any(t.recipient == address for t in self.transfers)
        return "self" if sent and received else "out" if sent else "in" if received else "other"

    def net_amount(self, address: str) -> int:
        """Change of `address`'s balance by this tx, fee included (0 for a failed tx but its fee)."""
        delta = 0
        if self.ok:
            for t in self.transfers:
                delta += (t.amount if t.recipient == address else 0) - (t.amount if t.sender == address else 0)
        if self.transfers and self.transfers[0].sender == address:
            delta -= self.fee
        return delta

    def to_json(self) -> dict:
        return {
            "txhash": self.hash, "height": self.height, "time": self.time, "code": self.code,
            "codespace": self.codespace, "raw_log": self.raw_log, "gas_wanted": str(self.gas_wanted),
            "gas_used": str(self.gas_used), "memo": self.memo, "fee": str(self.fee),
            "transfers": [{"from": t.sender, "to": t.recipient, "amount": str(t.amount)} for t in self.transfers],
            "other_messages": list(self.other_messages),
        }


def _int(value, what: str) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise InputError(f"the node sent a malformed {what}: {value!r}") from None


MESSAGE_LABELS = {  # what a person calls the chain's other messages
    "/inference.inference.MsgSubmitPocBatch": "PoC batch",
    "/inference.inference.MsgSubmitSeed": "PoC seed",
    "/inference.inference.MsgSubmitNewParticipant": "joined PoC",
    "/inference.inference.MsgClaimRewards": "reward claim",
    "/inference.inference.MsgStartInference": "inference",
    "/inference.inference.MsgFinishInference": "inference settled",
}


def label(type_url: str) -> str:
    return MESSAGE_LABELS.get(type_url, type_url.rsplit(".", 1)[-1])


def _ngonka(text: str) -> int:
    """The ngonka of an event's amount ("5ngonka" or "5ngonka,3other")."""
    total = 0
    for part in str(text or "").split(","):
        digits = part[:len(part) - len(BASE_DENOM)] if part.endswith(BASE_DENOM) else ""
        if digits.isascii() and digits.isdigit():
            total += int(digits)
    return total


def _event_transfers(events, indexes: set[int]) -> list[Transfer]:
    """Coins moved by messages other than MsgSend (a reward claim pays the claimer): the `transfer`
    events those messages emitted (their msg_index; the fee's transfer has none)."""
    found = []
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict) or event.get("type") != "transfer":
            continue
        attrs = {a.get("key"): a.get("value") for a in event.get("attributes") or [] if isinstance(a, dict)}
        index = attrs.get("msg_index")
        if isinstance(index, str) and index.isdigit() and int(index) in indexes:
            found.append(Transfer(str(attrs.get("sender", "")), str(attrs.get("recipient", "")),
                                  _ngonka(attrs.get("amount"))))
    return found


def parse_tx_response(resp: dict) -> TxRecord:
    if not isinstance(resp, dict) or not resp.get("txhash"):
        raise InputError("the node sent a transaction without a hash")
    tx = resp.get("tx") if isinstance(resp.get("tx"), dict) else {}
    body = tx.get("body") if isinstance(tx.get("body"), dict) else {}
    fee = ((tx.get("auth_info") or {}).get("fee") or {}) if isinstance(tx.get("auth_info"), dict) else {}
    transfers, others, other_indexes = [], [], set()
    for i, msg in enumerate(body.get("messages") or []):
        if not isinstance(msg, dict):
            continue
        if msg.get("@type") == MSG_SEND:
            transfers.append(Transfer(str(msg.get("from_address", "")), str(msg.get("to_address", "")),
                                      coins_amount(msg.get("amount"))))
        else:
            others.append(str(msg.get("@type", "?")))
            other_indexes.add(i)
    if other_indexes and not _int(resp.get("code"), "code"):
        transfers += _event_transfers(resp.get("events"), other_indexes)
    return TxRecord(
        hash=str(resp["txhash"]).upper(),
        height=_int(resp.get("height"), "height"),
        time=str(resp.get("timestamp") or ""),
        code=_int(resp.get("code"), "code"),
        codespace=str(resp.get("codespace") or ""),
        raw_log=str(resp.get("raw_log") or ""),
        gas_wanted=_int(resp.get("gas_wanted"), "gas"),
        gas_used=_int(resp.get("gas_used"), "gas"),
        memo=str(body.get("memo") or ""),
        fee=coins_amount(fee.get("amount")),
        transfers=tuple(transfers),
        other_messages=tuple(others),
    )
