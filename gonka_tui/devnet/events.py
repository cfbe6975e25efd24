"""Tx events as a Cosmos SDK v0.50 node emits them (CometBFT 0.38: plain string attributes).

An event is (type, ((key, value), ...)). `to_json` gives the CometBFT / gRPC-gateway shape;
`index_pairs` gives the `type.key` = value pairs the tx index holds.
"""

from __future__ import annotations

import base64

from gonka_tui.core.network_constants import BASE_DENOM
from gonka_tui.core.tx import MSG_SEND

Event = tuple[str, tuple[tuple[str, str], ...]]


def coins_str(amount: int, denom: str = BASE_DENOM) -> str:
    return f"{amount}{denom}"


def fee_events(payer: str, collector: str, amount: str) -> list[Event]:
    """What deducting a non-zero fee emits (bank SendCoins from the payer to the fee collector)."""
    return [
        ("coin_spent", (("spender", payer), ("amount", amount))),
        ("coin_received", (("receiver", collector), ("amount", amount))),
        ("transfer", (("recipient", collector), ("sender", payer), ("amount", amount))),
        ("message", (("sender", payer),)),
    ]


def ante_events(payer: str, fee: str, signers: list[tuple[str, int, bytes]]) -> list[Event]:
    """The fee, then each signer's (address, sequence, signature) in signer order, as the SDK's ante emits."""
    out: list[Event] = [("tx", (("fee", fee), ("fee_payer", payer)))]
    for address, sequence, sig in signers:
        out.append(("tx", (("acc_seq", f"{address}/{sequence}"),)))
        out.append(("tx", (("signature", base64.b64encode(sig).decode()),)))
    return out


def send_events(index: int, sender: str, recipient: str, amount: str) -> list[Event]:
    i = str(index)
    return [
        ("message", (("action", MSG_SEND), ("sender", sender), ("module", "bank"), ("msg_index", i))),
        ("coin_spent", (("spender", sender), ("amount", amount), ("msg_index", i))),
        ("coin_received", (("receiver", recipient), ("amount", amount), ("msg_index", i))),
        ("transfer", (("recipient", recipient), ("sender", sender), ("amount", amount), ("msg_index", i))),
        ("message", (("sender", sender), ("msg_index", i))),
    ]


def to_json(events) -> list[dict]:
    return [{"type": t, "attributes": [{"key": k, "value": v, "index": True} for k, v in attrs]}
            for t, attrs in events]


def index_pairs(events) -> set[tuple[str, str]]:
    """Distinct ('type.key', value) pairs: what `tx_search` conditions match against."""
    return {(f"{t}.{k}", v) for t, attrs in events for k, v in attrs}
