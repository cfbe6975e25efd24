"""What an interactive send needs beyond `sending`: a gas estimate before the keystore is
unlocked, the largest amount an account can send, and a retry that can never send twice.
"""

from __future__ import annotations

from dataclasses import replace

from gonka_tui.core.chain_client import ChainClient, TxRejected
from gonka_tui.core.errors import InputError
from gonka_tui.core.sending import (
    CODE_IN_MEMPOOL, Progress, SendPlan, SendResult, broadcast_once, estimate_gas, fee_for,
    plan_send, sign_plan, wait_for_tx,
)
from gonka_tui.core.units import format_gnk

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


async def resume_send(client: ChainClient, signer, plan: SendPlan, *, progress: Progress = lambda _: None,
                      timeout: float = 90.0) -> SendResult:
    """Try again after an interrupted send of `plan`: signing is deterministic, so the same plan gives
    the same hash; if the network already has it, wait for it instead of sending anything."""
    progress("signing")
    signed = sign_plan(signer, plan)
    progress("looking for an earlier attempt")
    record = await client.get_tx(signed.txhash)
    if record is None:
        progress("broadcasting")
        result = await broadcast_once(client, signed.tx_bytes, signed.txhash)
        if result.code not in (0, CODE_IN_MEMPOOL):
            # No sequence refresh here: a changed sequence may mean the earlier attempt got in.
            raise TxRejected(result.code, result.raw_log, signed.txhash, result.codespace)
        record = await wait_for_tx(client, signed.txhash, timeout=timeout, progress=progress)
    return SendResult(signed.txhash, signed.tx_bytes, record.code, record.height, record.raw_log, record)
