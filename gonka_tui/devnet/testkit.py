"""Helpers to drive a devnet from tests and scripts: deterministic keys, signed sends, waiting.

    alice = key(1)
    tx = alice.send(bob.address, 5, account_number=1, sequence=0)
    wait_until(lambda: chain.height > 3, "block 4")
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from gonka_tui.core.address import address_from_pubkey
from gonka_tui.core.secp256k1 import Signer
from gonka_tui.core.tx import Fee, sign_send

T = TypeVar("T")
CHAIN_ID = "gonka-devnet"


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
