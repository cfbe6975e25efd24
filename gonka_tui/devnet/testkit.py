"""Helpers to drive a devnet from tests and scripts: deterministic keys, signed sends, waiting.

    alice = key(1)
    tx = alice.send(bob.address, 5, account_number=1, sequence=0)
    tx = sign_msgs([(alice, 1, 0), (carol, 5, 2)], [msg_send(alice.address, bob.address, 5),
                                                    msg_send(carol.address, bob.address, 7)])
    wait_until(lambda: chain.height > 3, "block 4")
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from gonka_tui.core.address import address_from_pubkey
from gonka_tui.core.network_constants import DEVNET_CHAIN_ID
from gonka_tui.core.secp256k1 import Signer
from gonka_tui.core.proto.cosmos.tx.v1beta1 import tx_pb2
from gonka_tui.core.tx import (Fee, encode_body, encode_fee, encode_sign_doc, encode_tx_raw, sign_send,
                               signer_info)

T = TypeVar("T")
CHAIN_ID = DEVNET_CHAIN_ID


@dataclass(frozen=True)
class Key:
    signer: Signer = field(repr=False)
    address: str

    @property
    def pubkey(self) -> bytes:
        return self.signer.pubkey

    def send(self, to: str, amount: int, *, account_number: int, sequence: int, fee: int = 0, gas: int = 200_000,
             memo: str = "", chain_id: str = CHAIN_ID) -> bytes:
        return sign_send(self.signer, self.address, to, amount, chain_id=chain_id, account_number=account_number,
                         sequence=sequence, fee=Fee(fee, gas), memo=memo).tx_bytes


def key(n: int) -> Key:
    """A deterministic test key (private key = n, big-endian); never use it for real funds."""
    signer = Signer(int(n).to_bytes(32, "big"))
    return Key(signer, address_from_pubkey(signer.pubkey))


def sign_msgs(signers: list[tuple[Key, int, int]], messages: list, *, fee: int = 0, gas: int = 200_000,
              memo: str = "", payer: str = "", omit_pubkey: frozenset[int] | set[int] = frozenset(),
              chain_id: str = CHAIN_ID) -> bytes:
    """A tx with one SignerInfo and one signature per (key, account number, sequence), in that order; each
    key signs the SignDoc with its own account number. Signers listed in `omit_pubkey` (by index) leave
    their key out of the SignerInfo."""
    body = encode_body(messages, memo)
    infos = [signer_info(None if i in omit_pubkey else k.pubkey, sequence)
             for i, (k, _, sequence) in enumerate(signers)]
    auth = tx_pb2.AuthInfo(signer_infos=infos, fee=encode_fee(Fee(fee, gas), payer)).SerializeToString()
    sigs = [k.signer.sign(encode_sign_doc(body, auth, chain_id, number)) for k, number, _ in signers]
    return encode_tx_raw(body, auth, sigs)


def wait_until(predicate: Callable[[], T], what: str, timeout: float = 10.0, interval: float = 0.02) -> T:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
