"""Sending GNK, for every front end: plan (account, gas with the public key alone, fee, spendable
check, Max) → sign → broadcast → follow until a block includes it, and resume after an interruption.

Never sends twice by accident: a retry after a lost reply first looks the hash up, and
re-broadcasting the same bytes cannot apply twice (same sequence). A sequence mismatch
(another transaction from the account got in first, e.g. a second `gonka send` running at the
same time) is signed again with the sequence the node expects, a bounded number of times with a
random pause between tries; a refused transaction cannot land, so this never sends twice. A try
after an interruption (`Transfer`) signs the same plan again, which gives the same hash, and
sends only if the network does not have it.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Callable

from gonka_tui.core.chain_client import BroadcastResult, ChainClient
from gonka_tui.core.errors import ChainError, InputError, NodeUnreachable, SimulationFailed, TxRejected
from gonka_tui.core.secp256k1 import Signer
from gonka_tui.core.tx import Fee, SignedTx, sign_send
from gonka_tui.core.txrecords import TxRecord
from gonka_tui.core.units import format_gnk

if TYPE_CHECKING:
    from gonka_tui.core.keystore import KeyRecord, Keystore

GAS_ADJUSTMENT = 1.4  # simulated gas × this = the gas limit (cosmjs uses 1.4 for "auto" too)
DEFAULT_GAS = 200_000
CODE_IN_MEMPOOL = 19
CODE_WRONG_SEQUENCE = 32
SEQUENCE_TRIES = 8  # signings of one send while other transactions of the account take the sequence
JITTER_SECONDS = 0.25  # the pause before signing again is random, up to this × the try number

Progress = Callable[[str], None]
# The steps progress reports, in order (a front end shows them as a checklist; other notes, such
# as a re-signing, come between them).
SIGNING, BROADCASTING, WAITING = "signing", "broadcasting", "waiting for a block"
STEPS = (SIGNING, BROADCASTING, WAITING)
SELF_SEND = "the recipient is the sender itself"


@dataclass(frozen=True)
class SendPlan:
    from_address: str
    to_address: str
    amount: int
    memo: str
    gas: int
    fee: int
    gas_estimated: bool
    min_gas_price: Decimal
    chain_id: str
    account_number: int
    sequence: int
    spendable: int

    @property
    def spendable_after(self) -> int:
        return self.spendable - self.amount - self.fee

    @property
    def gas_text(self) -> str:
        return f"{self.gas:,}{' (estimated)' if self.gas_estimated else ''}"

    def summary(self) -> list[tuple[str, str]]:
        return [
            ("From", self.from_address), ("To", self.to_address), ("Amount", format_gnk(self.amount)),
            ("Fee", f"{format_gnk(self.fee)} ({self.fee} ngonka)"), ("Gas", self.gas_text),
            ("Memo", self.memo or "—"), ("Chain", self.chain_id),
            ("Spendable after", format_gnk(self.spendable_after)),
        ]


@dataclass(frozen=True)
class SendResult:
    txhash: str
    tx_bytes: bytes
    code: int
    height: int | None
    raw_log: str
    record: TxRecord | None


@dataclass(frozen=True)
class SentTransfer:
    """A transfer the network has taken: what the app tells its screens once a send lands."""

    plan: SendPlan
    result: SendResult

    @property
    def addresses(self) -> frozenset[str]:
        return frozenset((self.plan.from_address, self.plan.to_address))


def fee_for(gas: int, price: Decimal) -> int:
    return int(math.ceil(Decimal(gas) * price))


PLACEHOLDER_SIGNATURE = bytes(64)


class PublicKeySigner:
    """Stands in for a Signer when only the public key is at hand (keystore locked): enough to
    estimate gas, since a node's simulation skips signature checks and charges for the size only.
    Transactions it "signs" can never be valid on chain."""

    __slots__ = ("pubkey",)

    def __init__(self, pubkey: bytes) -> None:
        if len(pubkey) != 33 or pubkey[0] not in (2, 3):
            raise InputError("public key must be 33 bytes, compressed secp256k1")
        self.pubkey = pubkey

    def __repr__(self) -> str:
        return f"PublicKeySigner(pubkey={self.pubkey.hex()})"

    def sign(self, message: bytes) -> bytes:
        return PLACEHOLDER_SIGNATURE


def signer_for(keystore: "Keystore", record: "KeyRecord", *, sign: bool) -> Signer | PublicKeySigner:
    """The real signer when the keystore is open (or must be, to sign); else one that only carries
    the public key, which is all a gas estimate needs. Blocking: unlocking derives the key."""
    if sign or keystore.unlocked:
        return Signer(keystore.signing_key(record.name).private_key)
    return PublicKeySigner(bytes.fromhex(record.pubkey or ""))


async def estimate_gas(client: ChainClient, signer, from_address: str, to_address: str, amount: int, *,
                       chain_id: str, account_number: int, sequence: int, fee: int, memo: str) -> tuple[int, int]:
    """(gas limit, sequence) for this transfer: the node's simulation of it × GAS_ADJUSTMENT, and the
    sequence the node expects. The account query counts committed transactions only; the simulation
    also counts those waiting in the mempool, and when they took `sequence` it says the next one."""
    for attempt in range(SEQUENCE_TRIES):
        probe = sign_send(signer, from_address, to_address, amount, chain_id=chain_id,
                          account_number=account_number, sequence=sequence, fee=Fee(fee, DEFAULT_GAS), memo=memo)
        try:
            return int(math.ceil(await client.simulate(probe.tx_bytes) * GAS_ADJUSTMENT)), sequence
        except SimulationFailed as exc:
            wanted = expected_sequence(exc.log)
            if wanted is None or wanted == sequence or attempt == SEQUENCE_TRIES - 1:
                raise
            sequence = wanted
    raise AssertionError("unreachable")


async def plan_send(client: ChainClient, signer: Signer, from_address: str, to_address: str, amount: int, *,
                    memo: str = "", gas: int | None = None, fee: int | None = None,
                    progress: Progress = lambda _: None) -> SendPlan:
    """Everything needed to sign, checked against the chain; refuses an over-spend before signing."""
    if from_address == to_address:
        raise InputError(SELF_SEND)
    progress("reading the account")
    chain_id, account, balances, price = await asyncio.gather(
        client.chain_id(), client.account(from_address), client.balances(from_address), client.min_gas_price())
    if account is None:
        raise ChainError(f"{from_address} has no account on chain yet: it must receive funds first")
    if account.pubkey is not None and account.pubkey != signer.pubkey:
        raise ChainError("the key does not match the account's public key on chain")
    if amount > balances.spendable:  # refused before anything is signed, even for simulation
        raise InputError(f"not enough spendable funds: {format_gnk(balances.spendable)} spendable, "
                         f"{format_gnk(amount)} asked")
    estimated, sequence = gas is None, account.sequence
    if gas is None:
        progress("estimating gas")
        gas, sequence = await estimate_gas(client, signer, from_address, to_address, amount, chain_id=chain_id,
                                           account_number=account.account_number, sequence=sequence,
                                           fee=fee or 0, memo=memo)
    if gas <= 0:
        raise InputError("gas must be more than zero")
    minimum = fee_for(gas, price)
    if fee is None:
        fee = minimum
    elif fee < minimum:
        raise InputError(f"fee {fee} ngonka is below the network's minimum {minimum} ngonka "
                         f"({price} ngonka/gas × {gas:,} gas)")
    if amount + fee > balances.spendable:
        raise InputError(f"not enough spendable funds: {format_gnk(balances.spendable)} spendable, "
                         f"{format_gnk(amount + fee)} needed ({format_gnk(amount)} + fee {format_gnk(fee)})")
    return SendPlan(from_address, to_address, amount, memo, gas, fee, estimated, price, chain_id,
                    account.account_number, sequence, balances.spendable)


async def plan_max(client: ChainClient, signer, from_address: str, to_address: str, *, memo: str = "",
                   progress: Progress = lambda _: None) -> SendPlan:
    """A plan that sends everything spendable but the fee (the fee estimated for that very amount)."""
    probe = await plan_send(client, signer, from_address, to_address, 1, memo=memo, progress=progress)
    if probe.min_gas_price == 0:
        return await plan_send(client, signer, from_address, to_address, probe.spendable, memo=memo, progress=progress)

    def amount_after(fee: int) -> int:
        amount = probe.spendable - fee
        if amount <= 0:
            raise InputError(f"nothing to send: {format_gnk(probe.spendable)} spendable does not cover "
                             f"the fee of {format_gnk(fee)}")
        return amount

    # The amount's digits change the size of the transaction, and so its gas: estimate again with
    # the larger amount; the final amount is not larger, so its gas is not either.
    amount = amount_after(probe.fee)
    progress("estimating gas")
    gas, _sequence = await estimate_gas(client, signer, from_address, to_address, amount, chain_id=probe.chain_id,
                                        account_number=probe.account_number, sequence=probe.sequence,
                                        fee=probe.fee, memo=memo)
    amount = amount_after(fee_for(gas, probe.min_gas_price))
    plan = await plan_send(client, signer, from_address, to_address, amount, memo=memo, gas=gas, progress=progress)
    return replace(plan, gas_estimated=True)  # the gas given was the estimate made just above


def sign_plan(signer: Signer, plan: SendPlan, sequence: int | None = None) -> SignedTx:
    return sign_send(signer, plan.from_address, plan.to_address, plan.amount, chain_id=plan.chain_id,
                     account_number=plan.account_number,
                     sequence=plan.sequence if sequence is None else sequence,
                     fee=Fee(plan.fee, plan.gas), memo=plan.memo)


async def broadcast_once(client: ChainClient, tx_bytes: bytes, txhash: str) -> BroadcastResult:
    """Broadcast; if the reply is lost, look the hash up before sending the same bytes again."""
    try:
        return await client.broadcast(tx_bytes)
    except NodeUnreachable:
        if await client.get_tx(txhash) is not None:
            return BroadcastResult(0, txhash, "", "")
        result = await client.broadcast(tx_bytes)
        if result.code == CODE_IN_MEMPOOL:  # our first attempt did arrive
            return BroadcastResult(0, txhash, result.raw_log, result.codespace)
        if result.code == CODE_WRONG_SEQUENCE:
            # Our first attempt may have been committed since the look-up, using the sequence.
            if await client.get_tx(txhash) is not None:
                return BroadcastResult(0, txhash, "", "")
            raise ChainError(f"the node did not answer the broadcast of {txhash} and its sequence is now used: "
                             f"it may have gone through; check `gonka tx show {txhash}` and the history "
                             "before sending again")
        return result


async def execute_send(client: ChainClient, signer: Signer, plan: SendPlan, *, wait: bool = True,
                       timeout: float = 90.0, poll: float = 1.0, progress: Progress = lambda _: None,
                       clock=None, sleep=asyncio.sleep) -> SendResult:
    sequence = plan.sequence
    for attempt in range(1, SEQUENCE_TRIES + 1):
        progress(SIGNING)
        signed = sign_plan(signer, plan, sequence)
        progress(BROADCASTING)
        result = await broadcast_once(client, signed.tx_bytes, signed.txhash)
        if result.code not in (CODE_WRONG_SEQUENCE, CODE_IN_MEMPOOL) or attempt == SEQUENCE_TRIES:
            break
        # Refused, so this one can never land: sign again with the sequence the node expects. The
        # random pause spreads out senders of one account racing for the same sequence.
        if result.code == CODE_IN_MEMPOOL:
            # Another send of the very same transfer (same sequence, signed deterministically, so the
            # same bytes) got there first: it is that one's transaction, and this send needs its own.
            wanted = sequence + 1
        else:
            wanted = expected_sequence(result.raw_log)
        if wanted is None:  # the node did not say: the committed one is the best guess
            account = await client.account(plan.from_address)
            if account is None:
                raise TxRejected(result.code, result.raw_log, signed.txhash)
            wanted = account.sequence
        progress(f"sequence {sequence} was taken by another transaction; signing again with {wanted}")
        await sleep(random.uniform(0, JITTER_SECONDS * attempt))
        sequence = wanted
    if result.code != 0:
        raise TxRejected(result.code, result.raw_log, signed.txhash, result.codespace)
    if not wait:
        return SendResult(signed.txhash, signed.tx_bytes, 0, None, result.raw_log, None)
    record = await wait_for_tx(client, signed.txhash, timeout=timeout, poll=poll, progress=progress,
                               clock=clock, sleep=sleep)
    return SendResult(signed.txhash, signed.tx_bytes, record.code, record.height, record.raw_log, record)


def expected_sequence(raw_log: str) -> int | None:
    """The sequence a node wants, from 'account sequence mismatch, expected 6, got 5'. The mempool's
    pending transactions count there, while the REST account shows only committed ones."""
    m = re.search(r"expected ([0-9]{1,20}), got [0-9]+", raw_log or "")
    return int(m[1]) if m else None


async def wait_for_tx(client: ChainClient, txhash: str, *, timeout: float = 90.0, poll: float = 1.0,
                      progress: Progress = lambda _: None, clock=None, sleep=asyncio.sleep) -> TxRecord:
    now = clock or time.monotonic
    deadline = now() + timeout
    while True:
        progress(f"{WAITING} (up to {timeout:.0f} s)")
        try:
            record = await client.get_tx(txhash)
        except NodeUnreachable:
            record = None
        if record is not None:
            return record
        if now() >= deadline:
            raise ChainError(f"{txhash} was accepted but not seen in a block within {timeout:.0f} s; "
                             f"it may still be included: check `gonka tx show {txhash}`")
        await sleep(poll)


async def resume_send(client: ChainClient, signer, plan: SendPlan, *, progress: Progress = lambda _: None,
                      timeout: float = 90.0) -> SendResult:
    """Try again after an interrupted send of `plan`: signing is deterministic, so the same plan gives
    the same hash; if the network already has it, wait for it instead of sending anything."""
    progress(SIGNING)
    signed = sign_plan(signer, plan)
    progress("looking for an earlier attempt")
    record = await client.get_tx(signed.txhash)
    if record is None:
        progress(BROADCASTING)
        result = await broadcast_once(client, signed.tx_bytes, signed.txhash)
        if result.code not in (0, CODE_IN_MEMPOOL):
            # No sequence refresh here: a changed sequence may mean the earlier attempt got in.
            raise TxRejected(result.code, result.raw_log, signed.txhash, result.codespace)
        record = await wait_for_tx(client, signed.txhash, timeout=timeout, progress=progress)
    return SendResult(signed.txhash, signed.tx_bytes, record.code, record.height, record.raw_log, record)


class Transfer:
    """One transfer of `plan` over as many tries as the user asks for: the first sends it (signing
    again when another transaction took the sequence); every later one follows an interruption
    and resumes, looking the hash up before anything is sent again. A `TxRejected` is final."""

    def __init__(self, signer, plan: SendPlan) -> None:
        self.signer, self.plan = signer, plan
        self.tries = 0

    async def attempt(self, client: ChainClient, *, progress: Progress = lambda _: None,
                      timeout: float = 90.0) -> SendResult:
        run = execute_send if self.tries == 0 else resume_send
        self.tries += 1
        return await run(client, self.signer, self.plan, progress=progress, timeout=timeout)
