"""Sending GNK: plan (account, gas, fee, spendable check) → sign → broadcast → wait for a block.

Never sends twice by accident: a retry after a lost reply first looks the hash up, and
re-broadcasting the same bytes cannot apply twice (same sequence). A sequence mismatch
(another transaction from the account got in first, e.g. a second `gonka send` running at the
same time) is signed again with the sequence the node expects, a bounded number of times with a
random pause between tries; a refused transaction cannot land, so this never sends twice.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from gonka_tui.core.chain_client import (
    BroadcastResult, ChainClient, ChainError, NodeUnreachable, SimulationFailed, TxRejected,
)
from gonka_tui.core.errors import InputError
from gonka_tui.core.secp256k1 import Signer
from gonka_tui.core.tx import Fee, SignedTx, sign_send
from gonka_tui.core.txrecords import TxRecord
from gonka_tui.core.units import format_gnk

GAS_ADJUSTMENT = 1.4  # simulated gas × this = the gas limit (cosmjs uses 1.4 for "auto" too)
DEFAULT_GAS = 200_000
CODE_IN_MEMPOOL = 19
CODE_WRONG_SEQUENCE = 32
SEQUENCE_TRIES = 8  # signings of one send while other transactions of the account take the sequence
JITTER_SECONDS = 0.25  # the pause before signing again is random, up to this × the try number

Progress = Callable[[str], None]


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

    def summary(self) -> list[tuple[str, str]]:
        return [
            ("From", self.from_address), ("To", self.to_address), ("Amount", format_gnk(self.amount)),
            ("Fee", f"{format_gnk(self.fee)} ({self.fee} ngonka)"),
            ("Gas", f"{self.gas:,}{' (estimated)' if self.gas_estimated else ''}"),
            ("Memo", self.memo or "—"), ("Chain", self.chain_id),
            ("Spendable after", format_gnk(self.spendable - self.amount - self.fee)),
        ]


@dataclass(frozen=True)
class SendResult:
    txhash: str
    tx_bytes: bytes
    code: int
    height: int | None
    raw_log: str
    record: TxRecord | None


def fee_for(gas: int, price: Decimal) -> int:
    return int(math.ceil(Decimal(gas) * price))


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
        raise InputError("the recipient is the sender itself")
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
        progress("signing")
        signed = sign_plan(signer, plan, sequence)
        progress("broadcasting")
        result = await broadcast_once(client, signed.tx_bytes, signed.txhash)
        if result.code != CODE_WRONG_SEQUENCE or attempt == SEQUENCE_TRIES:
            break
        # Refused, so this one can never land: sign again with the sequence the node expects. The
        # random pause spreads out senders of one account racing for the same sequence.
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
    import time

    now = clock or time.monotonic
    deadline = now() + timeout
    while True:
        progress(f"waiting for a block (up to {timeout:.0f} s)")
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
