"""The rules of the x/inference messages a miner sends: each type's checks and effects on one tx's scratch
layer (accounts and PoC records), called by `ante.py` after the signatures, fee and funds passed.

- MsgSubmitNewParticipant: registers the creator (url may be empty: a miner); sending it again
  updates the url and keys and keeps the join height.
- MsgSubmitSeed: the seed signature for the current or the next epoch, one per (creator, epoch).
- MsgSubmitPocBatch: from a participant, for the current round, inside its exchange window
  [poc_start + 1, poc_start + poc_stage_duration + poc_exchange_duration]; nonces and distances of the
  same length (1 … MAX_BATCH_NONCES), every distance finite and below r_target; a batch id once per
  participant and round. Nonces sent twice are stored but counted once at validation.
- MsgClaimRewards: pays the creator's settled reward of `epoch_index` once, from the claim stage of the
  next epoch until the epoch after it begins (then it is burned); the seed must verify against the
  signature sent in MsgSubmitSeed for that epoch.
- MsgSubmitPocValidation: refused: on the devnet the node is the only validator.
A rule that fails raises TxError; the scratch layer is then dropped, so the tx changes nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

from google.protobuf import any_pb2

from gonka_tui.core.errors import InputError
from gonka_tui.core.poc_messages import MAX_BATCH_NONCES, verify_seed
from gonka_tui.core.proto.inference.inference import tx_pb2 as inference_tx
from gonka_tui.core.tx import (MSG_CLAIM_REWARDS, MSG_SUBMIT_NEW_PARTICIPANT, MSG_SUBMIT_POC_BATCH,
                               MSG_SUBMIT_POC_VALIDATION, MSG_SUBMIT_SEED)

from . import codes
from .accounts import LedgerAccount, module_address
from .codes import TxError, inference_error
from .epochs import PocConfig
from .events import Event, coins_str

REWARD_MODULE = "inference"  # holds each epoch's minted reward until it is claimed or burned
REWARD_MODULE_ADDRESS = module_address(REWARD_MODULE)
VESTING_MODULE = "streamvesting"  # holds claimed rewards that still vest
VESTING_MODULE_ADDRESS = module_address(VESTING_MODULE)

# A tx made only of these needs no fee (the chain's PoC and claim messages are free).
FREE_MESSAGES = frozenset({MSG_SUBMIT_NEW_PARTICIPANT, MSG_SUBMIT_SEED, MSG_SUBMIT_POC_BATCH, MSG_CLAIM_REWARDS})
INFERENCE_MESSAGES = FREE_MESSAGES | {MSG_SUBMIT_POC_VALIDATION}
MAX_ROUND_NONCES = 1_000_000  # per participant and round: bounds what one participant can make us store
MAX_BATCH_ID = 128
MAX_NODE_ID = 128
MAX_URL = 256
MAX_KEY_TEXT = 256
INT64_MAX = (1 << 63) - 1
_SIGNATURE_HEX = re.compile(r"[0-9a-fA-F]{128}")


@dataclass
class MessageContext:
    """What one message's rules see: the height the tx executes at, the config, the scratch layer."""

    height: int
    config: PocConfig
    view: object  # the scratch Overlay: get(address), and .poc
    mutable: Callable[[str], LedgerAccount]
    simulate: bool = False  # Simulate: the signer's key may be unknown, so the seed is not checked


def response(name: str, message) -> any_pb2.Any:
    """A message's response, as the tx result's msg_responses carry it."""
    return any_pb2.Any(type_url=f"/inference.inference.{name}Response", value=message.SerializeToString())


def message_event(index: int, type_url: str, sender: str) -> Event:
    """The `message` event of an x/inference message (history finds a tx by message.sender)."""
    return ("message", (("action", type_url), ("sender", sender), ("module", REWARD_MODULE),
                        ("msg_index", str(index))))


def refuse_validation() -> None:
    raise TxError(codes.UNAUTHORIZED, "MsgSubmitPocValidation is refused: on the devnet the node is the only "
                  "validator and recomputes every round itself")


def apply(ctx: MessageContext, index: int, type_url: str, msg, pubkey: bytes | None
          ) -> tuple[list[Event], any_pb2.Any]:
    if type_url == MSG_SUBMIT_NEW_PARTICIPANT:
        return _new_participant(ctx, index, msg)
    if type_url == MSG_SUBMIT_SEED:
        return _seed(ctx, index, msg)
    if type_url == MSG_SUBMIT_POC_BATCH:
        return _batch(ctx, index, msg)
    if type_url == MSG_CLAIM_REWARDS:
        return _claim(ctx, index, msg, pubkey)
    if type_url == MSG_SUBMIT_POC_VALIDATION:
        refuse_validation()
    raise TxError(codes.UNKNOWN_REQUEST, f"unrecognized message type: {type_url}")


def _new_participant(ctx: MessageContext, index: int, msg) -> tuple[list[Event], any_pb2.Any]:
    url = msg.url
    if len(url) > MAX_URL or (url and not re.fullmatch(r"https?://[^\s]+", url)):
        raise TxError(codes.INVALID_REQUEST, f"url must be empty (a miner) or an http(s) URL of at most {MAX_URL} "
                      "characters")
    if len(msg.validator_key) > MAX_KEY_TEXT or len(msg.worker_key) > MAX_KEY_TEXT:
        raise TxError(codes.INVALID_REQUEST, f"validator_key and worker_key are at most {MAX_KEY_TEXT} characters")
    key = ("p", msg.creator)
    old = ctx.view.poc.get(key)
    record = {"url": url, "validator_key": msg.validator_key, "worker_key": msg.worker_key,
              "join_height": old["join_height"] if old else ctx.height}
    if old != record:
        ctx.view.poc.put(key, record)
    events = [message_event(index, MSG_SUBMIT_NEW_PARTICIPANT, msg.creator),
              ("participant_registered", (("participant", msg.creator), ("msg_index", str(index))))]
    return events, response("MsgSubmitNewParticipant", inference_tx.MsgSubmitNewParticipantResponse(
        participant_index=msg.creator, status="ACTIVE"))


def _seed(ctx: MessageContext, index: int, msg) -> tuple[list[Event], any_pb2.Any]:
    current = ctx.config.epochs.epoch_at(ctx.height)
    if msg.epoch_index not in (current, current + 1):
        raise inference_error(codes.ILLEGAL_STATE, f"a seed is taken for the current epoch ({current}) or the "
                              f"next ({current + 1}) only, not for epoch {msg.epoch_index}")
    if not _SIGNATURE_HEX.fullmatch(msg.signature):
        raise TxError(codes.INVALID_REQUEST, "signature must be the 64-byte secp256k1 signature of the seed, as "
                      "128 hex characters")
    ctx.view.poc.put(("s", msg.epoch_index, msg.creator), msg.signature.lower())
    return [message_event(index, MSG_SUBMIT_SEED, msg.creator)], response(
        "MsgSubmitSeed", inference_tx.MsgSubmitSeedResponse())


def _batch(ctx: MessageContext, index: int, msg) -> tuple[list[Event], any_pb2.Any]:
    epochs, poc = ctx.config.epochs, ctx.view.poc
    creator, height = msg.creator, ctx.height
    if poc.get(("p", creator)) is None:
        raise inference_error(codes.PARTICIPANT_NOT_FOUND, f"{creator} is not a participant: send "
                              "MsgSubmitNewParticipant first")
    epoch = epochs.epoch_at(height)
    if epoch == 0:
        raise inference_error(codes.POC_TOO_LATE, f"no PoC round has started yet (the first starts at block "
                              f"{epochs.first_poc_start})")
    start = epochs.poc_start(epoch)
    if msg.poc_stage_start_block_height != start:
        raise inference_error(codes.POC_WRONG_START, f"poc_stage_start_block_height is "
                              f"{msg.poc_stage_start_block_height}, but the current round started at block {start}")
    first, last = epochs.exchange_window(epoch)
    if not first <= height <= last:
        when = "has not opened" if height < first else "is closed"
        raise inference_error(codes.POC_TOO_LATE, f"the PoC exchange window [{first}, {last}] {when} at block "
                              f"{height}")
    nonces, dist = list(msg.nonces), list(msg.dist)
    if not nonces or len(nonces) != len(dist):
        raise inference_error(codes.POC_NONCE_NOT_ACCEPTED, f"a batch needs as many distances as nonces, and at "
                              f"least one: got {len(nonces)} nonces and {len(dist)} distances")
    if len(nonces) > MAX_BATCH_NONCES:
        raise inference_error(codes.POC_NONCE_NOT_ACCEPTED, f"a batch has at most {MAX_BATCH_NONCES} nonces, got "
                              f"{len(nonces)}: split it")
    if any(n < 0 for n in nonces):
        raise inference_error(codes.POC_NONCE_NOT_ACCEPTED, "nonces are whole numbers from 0 to 2**63 − 1")
    r_target = ctx.config.r_target
    for n, d in zip(nonces, dist):
        if not math.isfinite(d) or not d < r_target:
            raise inference_error(codes.POC_NONCE_NOT_ACCEPTED, f"nonce {n} has distance {d!r}: only nonces below "
                                  f"r_target {r_target!r} are submitted")
    batch_id = msg.batch_id
    if not batch_id or len(batch_id) > MAX_BATCH_ID:
        raise TxError(codes.INVALID_REQUEST, f"batch_id must be 1 to {MAX_BATCH_ID} characters")
    if len(msg.node_id) > MAX_NODE_ID:
        raise TxError(codes.INVALID_REQUEST, f"node_id must be at most {MAX_NODE_ID} characters")
    key = ("b", start, creator, batch_id)
    if poc.get(key) is not None:
        raise inference_error(codes.POC_NONCE_NOT_ACCEPTED, f"batch {batch_id} was already submitted by {creator} "
                              "in this round; it counts once")
    count_key = ("n", start, creator)
    count = (poc.get(count_key) or 0) + len(nonces)
    if count > MAX_ROUND_NONCES:
        raise inference_error(codes.POC_NONCE_NOT_ACCEPTED, f"at most {MAX_ROUND_NONCES} nonces per participant "
                              "and round are taken")
    poc.put(key, {"nonces": nonces, "dist": dist, "node_id": msg.node_id, "height": height})
    poc.put(count_key, count)
    events = [message_event(index, MSG_SUBMIT_POC_BATCH, creator),
              ("poc_batch", (("participant", creator), ("batch_id", batch_id), ("nonces", str(len(nonces))),
                             ("poc_stage_start_block_height", str(start)), ("msg_index", str(index))))]
    return events, response("MsgSubmitPocBatch", inference_tx.MsgSubmitPocBatchResponse())


def transfer_events(index: int | None, sender: str, recipient: str, amount: str) -> list[Event]:
    """What a bank SendCoins emits (history finds incoming coins by transfer.recipient)."""
    i = () if index is None else (("msg_index", str(index)),)
    return [
        ("coin_spent", (("spender", sender), ("amount", amount), *i)),
        ("coin_received", (("receiver", recipient), ("amount", amount), *i)),
        ("transfer", (("recipient", recipient), ("sender", sender), ("amount", amount), *i)),
        ("message", (("sender", sender), *i)),
    ]


def add_tranches(schedule: list[int] | None, amount: int, epochs: int) -> list[int]:
    """x/streamvesting's AddVestedRewards: `amount` split into `epochs` tranches (the remainder in the
    first), added to the tranches already vesting, oldest first."""
    base, rest = divmod(amount, epochs)
    out = list(schedule or [])
    out += [0] * (epochs - len(out))
    for i in range(epochs):
        out[i] += base + (rest if i == 0 else 0)
    return out


def _claim(ctx: MessageContext, index: int, msg, pubkey: bytes | None) -> tuple[list[Event], any_pb2.Any]:
    epochs, poc = ctx.config.epochs, ctx.view.poc
    creator, epoch = msg.creator, msg.epoch_index
    record = poc.get(("r", epoch, creator))
    if record is None or not record.get("settled") or not record.get("rewarded"):
        raise inference_error(codes.ILLEGAL_STATE, f"{creator} has no settled reward in epoch {epoch} (an epoch's "
                              "reward is settled at the end of the next round's validation)")
    if record.get("claimed"):
        raise inference_error(codes.ILLEGAL_STATE, f"the reward of epoch {epoch} was already claimed")
    if record.get("burned"):
        raise inference_error(codes.ILLEGAL_STATE, f"the reward of epoch {epoch} was not claimed in time and "
                              "was burned")
    opens = epochs.poc_start(epoch + 1) + epochs.claim_money_offset
    if ctx.height < opens:
        raise inference_error(codes.ILLEGAL_STATE, f"the reward of epoch {epoch} is claimable from block {opens} "
                              f"(the claim stage of epoch {epoch + 1}), not at block {ctx.height}")
    signature = poc.get(("s", epoch, creator))
    if signature is None:
        raise inference_error(codes.CLAIM_SIGNATURE_INVALID, f"{creator} sent no seed for epoch {epoch}")
    if pubkey is None and ctx.simulate:
        pass
    elif pubkey is None or not verify_seed(pubkey, msg.seed, signature):
        raise inference_error(codes.CLAIM_SIGNATURE_INVALID, f"the seed does not match the signature {creator} "
                              f"sent for epoch {epoch}")
    amount = int(record["rewarded"])
    ctx.mutable(REWARD_MODULE_ADDRESS).balance -= amount
    events = [message_event(index, MSG_CLAIM_REWARDS, creator)]
    vesting = ctx.config.reward_vesting_epochs
    if vesting:
        holder = ctx.mutable(VESTING_MODULE_ADDRESS)
        holder.module = VESTING_MODULE
        holder.balance += amount
        poc.put(("v", creator), add_tranches(poc.get(("v", creator)), amount, vesting))
        events += transfer_events(index, REWARD_MODULE_ADDRESS, VESTING_MODULE_ADDRESS, coins_str(amount))
    else:
        ctx.mutable(creator).balance += amount
        events += transfer_events(index, REWARD_MODULE_ADDRESS, creator, coins_str(amount))
    events.append(("claim_rewards", (("participant", creator), ("epoch_index", str(epoch)),
                                     ("amount", coins_str(amount)), ("msg_index", str(index)))))
    poc.put(("r", epoch, creator), {**record, "claimed": True})
    return events, response("MsgClaimRewards", inference_tx.MsgClaimRewardsResponse(
        amount=amount, result="Rewards claimed" + (f", vesting over {vesting} epochs" if vesting else "")))


def check_creator(canonical: Callable[[str], str], creator: str, name: str = "creator") -> str:
    """`creator` (or the address field `name`) in canonical form; TxError INVALID_ADDRESS otherwise."""
    try:
        return canonical(creator)
    except InputError as exc:
        raise TxError(codes.INVALID_ADDRESS, f"invalid {name} address: {exc}") from None
