"""`gonka tx sign-send` (offline signing) and `gonka tx show`."""

from __future__ import annotations

import asyncio
import base64
import re

from gonka_tui.commands.context import Context
from gonka_tui.core.errors import GonkaError, InputError
from gonka_tui.core.units import format_gnk, parse_amount


def sign_send(ctx: Context, args) -> int:
    from gonka_tui.core.secp256k1 import Signer
    from gonka_tui.core.tx import Fee, sign_send as build, validate_chain_id, validate_memo

    if not args.offline:
        raise InputError("tx sign-send signs without a network: pass --offline with --account-number, "
                         "--sequence, --chain-id, --gas and --fees (`gonka send` does it online)")
    missing = [flag for flag, value in (("--account-number", args.account_number), ("--sequence", args.sequence),
                                        ("--chain-id", args.chain_id), ("--gas", args.gas), ("--fees", args.fees))
               if value is None]
    if missing:
        raise InputError(f"--offline needs {', '.join(missing)}")
    sender = ctx.keystore.get(args.from_key)
    if not sender.has_secret:
        raise GonkaError(f"'{sender.name}' is watch-only: it cannot sign")
    to_address = ctx.resolve_address(args.to)
    amount = parse_amount(args.amount)
    fee = parse_amount(args.fees, allow_zero=True, what="fee")
    validate_memo(args.memo or "")  # --gas, --account-number and --sequence: checked by the parser
    validate_chain_id(args.chain_id)
    signer = Signer(ctx.unlock().signing_key(sender.name).private_key)
    signed = build(signer, sender.address, to_address, amount, chain_id=args.chain_id,
                   account_number=args.account_number, sequence=args.sequence, fee=Fee(fee, args.gas),
                   memo=args.memo or "")
    data = {"txhash": signed.txhash, "tx_bytes": base64.b64encode(signed.tx_bytes).decode()}
    if args.json:
        ctx.out_json(data)
    else:
        ctx.out(f"txhash   {data['txhash']}\ntx_bytes {data['tx_bytes']}")
    return 0


def show(ctx: Context, args) -> int:
    txhash = args.hash.strip().upper()
    if not re.fullmatch(r"[0-9A-F]{64}", txhash):
        raise InputError("a transaction hash is 64 hexadecimal characters")

    async def run():
        async with ctx.chain_client() as client:
            return await client.get_tx(txhash)

    record = asyncio.run(run())
    if record is None:
        raise GonkaError(f"transaction {txhash} is not on chain (not found)")
    if args.json:
        ctx.out_json(record.to_json())
        return 0
    rows = [("hash", record.hash), ("height", str(record.height)), ("time", record.time),
            ("status", "ok" if record.ok else f"failed: code {record.code} ({record.codespace}) {record.raw_log}"),
            ("fee", f"{format_gnk(record.fee)}"), ("gas", f"{record.gas_used:,} used of {record.gas_wanted:,}"),
            ("memo", record.memo or "—")]
    rows += [("transfer", f"{format_gnk(t.amount)} {t.sender} → {t.recipient}") for t in record.transfers]
    rows += [("message", m) for m in record.other_messages]
    for label, value in rows:
        ctx.out(f"{label:<9} {value}")
    return 0
