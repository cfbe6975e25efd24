"""A fresh devnet: the node key (made once, kept 0600 in the devnet home) and the genesis accounts.

Genesis holds, in this order of account numbers: the node account (0; the faucet, with
NODE_FUNDS), then each --fund account, then each --fund-vesting account (a
ContinuousVestingAccount that starts vesting at genesis and is fully vested SECONDS later).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from gonka_tui.core.address import address_from_pubkey, normalize_address
from gonka_tui.core.errors import InputError, shown
from gonka_tui.core.fileio import ensure_private_dir, write_atomic
from gonka_tui.core.integers import parse_uint
from gonka_tui.core.secp256k1 import N, Signer
from gonka_tui.core.units import NGONKA_PER_GNK, parse_amount

from .accounts import LedgerAccount, Vesting

NODE_KEY_FILE = "node_key.json"
DB_FILE = "devnet.sqlite3"
NODE_FUNDS = 10**9 * NGONKA_PER_GNK  # 1e9 GNK for the faucet
MAX_VESTING_SECONDS = 100 * 365 * 24 * 3600  # a century; the end time stays a small int64


@dataclass(frozen=True)
class Fund:
    address: str
    amount: int  # ngonka
    vesting_seconds: int | None = None


def parse_fund(text: str, flag: str = "--fund") -> Fund:
    """ADDRESS=AMOUNT, the amount with a denom (1000gnk, 5ngonka)."""
    address, sep, amount = (text or "").partition("=")
    if not sep or not address.strip() or not amount.strip():
        raise InputError(f"{flag} {shown(text, 80)}: write ADDRESS=AMOUNT, e.g. gonka1…=1000gnk")
    try:
        addr = normalize_address(address.strip())
        value = parse_amount(amount.strip())
    except InputError as exc:
        raise InputError(f"{flag} {shown(text, 80)}: {exc}") from None
    return Fund(addr, value)


def parse_fund_vesting(text: str) -> Fund:
    """ADDRESS=AMOUNT@SECONDS: AMOUNT vests linearly over SECONDS from genesis."""
    head, sep, seconds = (text or "").rpartition("@")
    if not sep or not seconds.strip():
        raise InputError(f"--fund-vesting {shown(text, 80)}: write ADDRESS=AMOUNT@SECONDS, e.g. gonka1…=1000gnk@3600")
    fund = parse_fund(head, "--fund-vesting")
    try:
        secs = parse_uint(seconds.strip(), what="the vesting time in seconds", minimum=1, maximum=MAX_VESTING_SECONDS)
    except InputError as exc:
        raise InputError(f"--fund-vesting {shown(text, 80)}: {exc}") from None
    return Fund(fund.address, fund.amount, secs)


def load_or_create_key(home: Path, file_name: str, what: str) -> Signer:
    """The devnet's own account key `home/file_name` (0600), made on first use: the node's, the broker's."""
    ensure_private_dir(home)
    path = Path(home) / file_name
    if path.exists():
        try:
            data = json.loads(path.read_text())
            key = bytes.fromhex(data["private_key"])
            if len(key) != 32:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{path} is not {what}; move it away to make a new one") from None
        return Signer(key)
    while True:
        key = secrets.token_bytes(32)
        if 0 < int.from_bytes(key, "big") < N:
            break
    signer = Signer(key)
    body = {"type": "secp256k1", "private_key": key.hex(), "address": address_from_pubkey(signer.pubkey)}
    write_atomic(path, (json.dumps(body, indent=2) + "\n").encode())
    return signer


def load_or_create_node_key(home: Path) -> Signer:
    return load_or_create_key(home, NODE_KEY_FILE, "a devnet node key")


def genesis_accounts(node_signer: Signer, funds: list[Fund], genesis_time_s: int) -> list[LedgerAccount]:
    node_address = address_from_pubkey(node_signer.pubkey)
    accounts = [LedgerAccount(node_address, 0, 0, node_signer.pubkey, NODE_FUNDS)]
    by_address = {node_address: accounts[0]}
    for fund in funds:
        existing = by_address.get(fund.address)
        if existing is not None:
            if fund.vesting_seconds is not None or existing.vesting is not None:
                raise InputError(f"{fund.address} is funded twice; give a vesting account one --fund-vesting only")
            existing.balance += fund.amount
            continue
        vesting = (Vesting(fund.amount, genesis_time_s, genesis_time_s + fund.vesting_seconds)
                   if fund.vesting_seconds is not None else None)
        account = LedgerAccount(fund.address, len(accounts), 0, None, fund.amount, vesting)
        accounts.append(account)
        by_address[fund.address] = account
    return accounts
