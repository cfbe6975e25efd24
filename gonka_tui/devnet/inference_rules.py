"""The rules of paid inference on the devnet: MsgStartInference (the escrow) and MsgFinishInference (the
settlement), called by `ante.py` on one tx's scratch layer after the signatures passed, and the expiry refund
run from the block's end. Only the devnet node sends them (ante.py refuses anyone else), as transfer agent and
executor at once; they need no fee.

- MsgStartInference: moves escrow = (prompt_token_count + max_tokens) × price_per_token from the requester's
  spendable balance to the inference module (refused with "insufficient funds", code 5, when short: the escrow
  rule a transfer agent applies before any generation). The inference id is used once.
- MsgFinishInference: charge = (prompt_token_count + completion_token_count) × the price recorded at the start,
  never above the escrow; the module pays the charge to the executor and the rest back to the requester.
- An inference not finished EXPIRY_BLOCKS blocks after its start is refunded in full at the end of that block.

Records live in the PoC key/value state (poc_state.py), so they are written in the block's one SQLite
transaction with the balances:
    ("i", inference_id)     {requested_by, executor, model, escrow, price, prompt_token_count, max_tokens,
                             start_height, expires, status: "started" | "finished"}
    ("ix", height)          [inference ids whose record is dropped (and refunded, if still open) at that height]
A finished record stays until its expiry height, so an id cannot be started twice while it could matter.
"""

from __future__ import annotations

from typing import Callable

from google.protobuf import any_pb2

from gonka_tui.core.proto.inference.inference import tx_pb2 as inference_tx
from gonka_tui.core.tx import MSG_FINISH_INFERENCE, MSG_START_INFERENCE

from . import codes
from .accounts import LedgerAccount
from .codes import TxError, inference_error
from .events import Event, coins_str
from .poc_rules import REWARD_MODULE as INFERENCE_MODULE, REWARD_MODULE_ADDRESS as INFERENCE_MODULE_ADDRESS
from .poc_rules import MessageContext, check_creator, message_event, response, transfer_events

MESSAGES = frozenset({MSG_START_INFERENCE, MSG_FINISH_INFERENCE})
EXPIRY_BLOCKS = 100
MAX_ID = 128
MAX_MODEL = 256
MAX_HASH = 128
MAX_SIGNATURE = 256
MAX_TOKENS = 10**7  # per request: far above any context window
MAX_PROMPT_COUNT = 10**8  # code points of a prompt (a request body is at most 2 MiB)


def escrow_amount(prompt_token_count: int, max_tokens: int, price_per_token: int) -> int:
    return (prompt_token_count + max_tokens) * price_per_token


def charge_amount(prompt_tokens: int, completion_tokens: int, price_per_token: int, escrow: int) -> int:
    """What the requester pays for the tokens used: never more than was escrowed."""
    return min((prompt_tokens + completion_tokens) * price_per_token, escrow)


def _module(ctx: MessageContext) -> LedgerAccount:
    module = ctx.mutable(INFERENCE_MODULE_ADDRESS)
    module.module = INFERENCE_MODULE
    return module


def _check_text(value: str, name: str, limit: int, *, required: bool = True) -> None:
    if (required and not value) or len(value) > limit:
        raise TxError(codes.INVALID_REQUEST, f"{name} must be {'1' if required else '0'} to {limit} characters")


def apply(ctx: MessageContext, index: int, type_url: str, msg, *, price_per_token: int,
          canonical: Callable[[str], str]) -> tuple[list[Event], any_pb2.Any]:
    if type_url == MSG_START_INFERENCE:
        return _start(ctx, index, msg, price_per_token, canonical)
    if type_url == MSG_FINISH_INFERENCE:
        return _finish(ctx, index, msg, canonical)
    raise TxError(codes.UNKNOWN_REQUEST, f"unrecognized message type: {type_url}")


def _start(ctx: MessageContext, index: int, msg, price: int, canonical) -> tuple[list[Event], any_pb2.Any]:
    _check_text(msg.inference_id, "inference_id", MAX_ID)
    _check_text(msg.model, "model", MAX_MODEL)
    _check_text(msg.prompt_hash, "prompt_hash", MAX_HASH, required=False)
    _check_text(msg.transfer_signature, "transfer_signature", MAX_SIGNATURE, required=False)
    if msg.prompt_payload or msg.original_prompt:
        raise TxError(codes.INVALID_REQUEST, "the devnet keeps prompts off chain: prompt_payload and "
                      "original_prompt must be empty")
    if not 1 <= msg.max_tokens <= MAX_TOKENS:
        raise TxError(codes.INVALID_REQUEST, f"max_tokens must be from 1 to {MAX_TOKENS}")
    if msg.prompt_token_count > MAX_PROMPT_COUNT:
        raise TxError(codes.INVALID_REQUEST, f"prompt_token_count must be at most {MAX_PROMPT_COUNT}")
    if price <= 0:
        raise TxError(codes.INVALID_REQUEST, "the devnet has no price for inference")
    requester = check_creator(canonical, msg.requested_by, "requested_by")
    executor = check_creator(canonical, msg.assigned_to, "assigned_to")
    if executor != msg.creator:
        raise TxError(codes.UNAUTHORIZED, f"assigned_to must be the devnet node {msg.creator}: it is the only "
                      "executor")
    poc = ctx.view.poc
    if poc.get(("i", msg.inference_id)) is not None:
        raise inference_error(codes.ILLEGAL_STATE, f"inference {msg.inference_id} was already started")
    if ctx.view.get(requester) is None:
        raise TxError(codes.UNKNOWN_ADDRESS, f"account {requester} does not exist")
    escrow = escrow_amount(msg.prompt_token_count, msg.max_tokens, price)
    payer = ctx.mutable(requester)
    spendable = payer.spendable(ctx.view.block_time_s)
    if spendable < escrow:
        raise TxError(codes.INSUFFICIENT_FUNDS, f"spendable balance {spendable}ngonka is smaller than the escrow "
                      f"{escrow}ngonka")
    payer.balance -= escrow
    _module(ctx).balance += escrow
    expires = ctx.height + EXPIRY_BLOCKS
    poc.put(("i", msg.inference_id), {
        "requested_by": requester, "executor": executor, "model": msg.model, "escrow": str(escrow),
        "price": price, "prompt_token_count": msg.prompt_token_count, "max_tokens": msg.max_tokens,
        "start_height": ctx.height, "expires": expires, "status": "started"})
    poc.put(("ix", expires), [*(poc.get(("ix", expires)) or []), msg.inference_id])
    amount = coins_str(escrow)
    events = [message_event(index, MSG_START_INFERENCE, msg.creator),
              *transfer_events(index, requester, INFERENCE_MODULE_ADDRESS, amount),
              ("inference_started", (("inference_id", msg.inference_id), ("requested_by", requester),
                                     ("escrow", amount), ("msg_index", str(index))))]
    return events, response("MsgStartInference", inference_tx.MsgStartInferenceResponse(
        inference_index=msg.inference_id))


def _finish(ctx: MessageContext, index: int, msg, canonical) -> tuple[list[Event], any_pb2.Any]:
    _check_text(msg.inference_id, "inference_id", MAX_ID)
    poc = ctx.view.poc
    key = ("i", msg.inference_id)
    record = poc.get(key)
    if record is None:
        raise inference_error(codes.ILLEGAL_STATE, f"inference {msg.inference_id} was not started (or expired and "
                              "was refunded)")
    if record["status"] != "started":
        raise inference_error(codes.ILLEGAL_STATE, f"inference {msg.inference_id} was already finished")
    executor = check_creator(canonical, msg.executed_by, "executed_by")
    if executor != record["executor"] or msg.creator != record["executor"]:
        raise TxError(codes.UNAUTHORIZED, f"inference {msg.inference_id} was assigned to {record['executor']}")
    if msg.requested_by and check_creator(canonical, msg.requested_by, "requested_by") != record["requested_by"]:
        raise TxError(codes.INVALID_REQUEST, f"inference {msg.inference_id} was requested by "
                      f"{record['requested_by']}, not {msg.requested_by}")
    if msg.model and msg.model != record["model"]:
        raise TxError(codes.INVALID_REQUEST, f"inference {msg.inference_id} is for model {record['model']}")
    if msg.prompt_token_count > MAX_PROMPT_COUNT or msg.completion_token_count > MAX_TOKENS:
        raise TxError(codes.INVALID_REQUEST, "token counts out of range")
    escrow = int(record["escrow"])
    charge = charge_amount(msg.prompt_token_count, msg.completion_token_count, int(record["price"]), escrow)
    refund = escrow - charge
    requester = record["requested_by"]
    _module(ctx).balance -= escrow
    events = [message_event(index, MSG_FINISH_INFERENCE, msg.creator)]
    if charge:
        ctx.mutable(executor).balance += charge
        events += transfer_events(index, INFERENCE_MODULE_ADDRESS, executor, coins_str(charge))
    if refund:
        ctx.mutable(requester).balance += refund
        events += transfer_events(index, INFERENCE_MODULE_ADDRESS, requester, coins_str(refund))
    poc.put(key, {**record, "status": "finished", "charge": str(charge),
                  "prompt_tokens": msg.prompt_token_count, "completion_tokens": msg.completion_token_count})
    events.append(("inference_finished", (("inference_id", msg.inference_id), ("requested_by", requester),
                                          ("charge", coins_str(charge)), ("refund", coins_str(refund)),
                                          ("msg_index", str(index)))))
    return events, response("MsgFinishInference", inference_tx.MsgFinishInferenceResponse(
        inference_index=msg.inference_id))


def end_block(ledger, height: int, log: Callable[[str], None] = lambda _m: None) -> int:
    """At the end of block `height`: refund in full every inference started EXPIRY_BLOCKS ago and never
    finished, and drop the records that expire here. Returns the ngonka refunded."""
    poc = ledger.poc
    ids = poc.get(("ix", height))
    if ids is None:
        return 0
    refunded = 0
    for inference_id in ids:
        record = poc.get(("i", inference_id))
        if record is None:
            continue
        if record["status"] == "started":
            escrow = int(record["escrow"])
            module = ledger.get(INFERENCE_MODULE_ADDRESS).copy()
            current = ledger.get(record["requested_by"])
            requester = current.copy() if current is not None else ledger.create(record["requested_by"])
            module.balance -= escrow
            requester.balance += escrow
            ledger.put_many([module, requester])  # both or neither (the ledger refuses a negative balance)
            refunded += escrow
            log(f"inference {inference_id[:16]}… not finished within {EXPIRY_BLOCKS} blocks: refunded {escrow} "
                f"ngonka to {record['requested_by']}")
        poc.delete(("i", inference_id))
    poc.delete(("ix", height))
    return refunded
