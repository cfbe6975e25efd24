"""Signing and broadcasting any messages from one account, one after another: what the miner agent
does every few seconds (participant, seed, PoC batches, claims).

Keeps the account's number and next sequence between sends (the account query sees committed
transactions only, so a sender that waited for each block would stall); a sequence taken by
another transaction is re-signed with the one the node names, as transfers do (core/transfer.py,
whose broadcast, sequence and waiting helpers this reuses). Gas is the node's simulation × the
same adjustment; the fee is the chain's minimum for it.

A key that has never received anything has no account on chain and cannot sign. The API node (and
the devnet) creates one for a new participant: `POST /v1/participants {address, pub_key}` (the
reference's MsgSubmitNewUnfundedParticipant); `ensure_account` asks for that when the account is
missing, and says plainly that the account needs funds first where the node does not offer it.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from dataclasses import dataclass
from typing import Callable

from google.protobuf import any_pb2

from gonka_tui.core.chain_client import ChainClient
from gonka_tui.core.errors import ChainError, NodeUnreachable, SimulationFailed, TxRejected
from gonka_tui.core.tx import Fee, SignedTx, sign_tx
from gonka_tui.core.transfer import (CODE_IN_MEMPOOL, CODE_WRONG_SEQUENCE, DEFAULT_GAS, GAS_ADJUSTMENT,
                                     SEQUENCE_TRIES, broadcast_once, expected_sequence, fee_for)


PARTICIPANTS_PATH = "/v1/participants"  # the API node's: creates an unfunded participant's account
ACCOUNT_WAIT_S = 30.0  # the API node submits a tx for it: the account appears a block or two later


def _no_account(address: str) -> str:
    return (f"{address} has no account on chain yet and the node does not create one: send it some GNK first "
            "(any transfer creates the account), then start again")


@dataclass(frozen=True)
class Sent:
    txhash: str
    tx_bytes: bytes
    sequence: int


class MessageSender:
    def __init__(self, client: ChainClient, signer, address: str) -> None:
        self.client, self.signer, self.address = client, signer, address
        self._account_number: int | None = None
        self._sequence: int | None = None
        self._chain_id = ""
        self._lock = asyncio.Lock()  # one signing at a time: each takes the next sequence

    async def ensure_account(self, *, wait: float = ACCOUNT_WAIT_S, poll: float = 0.5) -> bool:
        """The account exists on chain; a missing one is created by the node (POST /v1/participants with
        the address and public key) when the node offers it. True when it was created now; ChainError
        when the node does not create accounts (the account needs funds first) or it did not appear."""
        if await self.client.account(self.address) is not None:
            return False
        status, data = await self.client.request("POST", PARTICIPANTS_PATH, json={
            "address": self.address, "pub_key": base64.b64encode(self.signer.pubkey).decode(), "url": ""})
        if status in (404, 405, 501):
            raise ChainError(_no_account(self.address))
        if status >= 400:
            detail = data.get("message") if isinstance(data, dict) else None
            raise ChainError(f"the node refused to create the account {self.address}"
                             + (f": {detail}" if isinstance(detail, str) and detail else f" (HTTP {status})")
                             + "; send it some GNK first (any transfer creates the account)")
        end = time.monotonic() + wait
        while True:  # the API node creates it with a transaction of its own: a block or two
            try:
                if await self.client.account(self.address) is not None:
                    return True
            except NodeUnreachable:
                pass
            if time.monotonic() >= end:
                raise ChainError(f"the node took the request to create the account {self.address}, but it did not "
                                 f"appear on chain within {wait:g} s; try again, or send it some GNK first")
            await asyncio.sleep(poll)  # a poll of the chain, bounded by `wait`

    async def _load(self) -> None:
        account = await self.client.account(self.address)
        if account is None:
            raise ChainError(f"{self.address} has no account on chain yet: it needs funds first (any transfer "
                             "creates it), or the node must create it (POST /v1/participants)")
        if account.pubkey is not None and account.pubkey != self.signer.pubkey:
            raise ChainError("the key does not match the account's public key on chain")
        self._account_number, self._sequence = account.account_number, account.sequence

    def forget(self) -> None:
        """Read the account again before the next send (after an error whose effect is unknown)."""
        self._account_number = self._sequence = None

    def _sign(self, messages: list[any_pb2.Any], sequence: int, fee: int, gas: int, memo: str) -> SignedTx:
        return sign_tx(self.signer, messages, chain_id=self._chain_id, account_number=self._account_number,
                       sequence=sequence, fee=Fee(fee, gas), memo=memo)

    async def send(self, messages: list[any_pb2.Any], *, memo: str = "",
                   before_broadcast: Callable[[SignedTx], None] = lambda _signed: None) -> Sent:
        """Broadcast (sync) and return once the node's mempool took it; TxRejected when refused.
        `before_broadcast(signed)` runs before each broadcast of newly signed bytes, so a caller can
        record the hash first and, after a crash, look it up instead of sending again."""
        async with self._lock:
            return await self._send(messages, memo, before_broadcast)

    async def _send(self, messages: list[any_pb2.Any], memo: str,
                    before_broadcast: Callable[[SignedTx], None]) -> Sent:
        self._chain_id = await self.client.chain_id()
        if self._sequence is None:
            await self._load()
        price = await self.client.min_gas_price()
        sequence = self._sequence
        for attempt in range(1, SEQUENCE_TRIES + 1):
            try:
                probe = self._sign(messages, sequence, 0, DEFAULT_GAS, memo)
                gas = int(math.ceil(await self.client.simulate(probe.tx_bytes) * GAS_ADJUSTMENT))
            except SimulationFailed as exc:
                wanted = expected_sequence(exc.log)
                if wanted is None or wanted == sequence or attempt == SEQUENCE_TRIES:
                    raise TxRejected(0, exc.log) from None
                sequence = wanted
                continue
            signed = self._sign(messages, sequence, fee_for(gas, price), gas, memo)
            before_broadcast(signed)
            result = await broadcast_once(self.client, signed.tx_bytes, signed.txhash)
            if result.code == 0:
                self._sequence = sequence + 1
                return Sent(signed.txhash, signed.tx_bytes, sequence)
            if result.code not in (CODE_WRONG_SEQUENCE, CODE_IN_MEMPOOL) or attempt == SEQUENCE_TRIES:
                self.forget()
                raise TxRejected(result.code, result.raw_log, signed.txhash, result.codespace)
            wanted = sequence + 1 if result.code == CODE_IN_MEMPOOL else expected_sequence(result.raw_log)
            if wanted is None:
                await self._load()
                wanted = self._sequence
            sequence = wanted
        raise AssertionError("unreachable")
