"""`gonka balance`, `gonka send`, `gonka history`: tokens on the network."""

from __future__ import annotations

import asyncio
import base64

from gonka_tui.commands.context import Context
from gonka_tui.core.errors import GonkaError
from gonka_tui.core.txrecords import label
from gonka_tui.core.units import BASE_DENOM, format_gnk, parse_amount


def balance(ctx: Context, args) -> int:
    address = ctx.resolve_address(args.name)

    async def run():
        async with ctx.chain_client() as client:
            return await client.balances(address)

    bal = asyncio.run(run())
    if args.json:
        ctx.out_json(bal.to_json())
        return 0
    ctx.out(f"address    {address}")
    ctx.out(f"total      {format_gnk(bal.total)}")
    ctx.out(f"spendable  {format_gnk(bal.spendable)}")
    if bal.locked:
        ctx.out(f"vesting    {format_gnk(bal.locked)} (locked)")
    if bal.reward_vesting:
        ctx.out(f"rewards    {format_gnk(bal.reward_vesting)} (vesting, released per epoch)")
    for denom, amount in bal.coins:
        if denom != BASE_DENOM:
            ctx.out(f"other      {amount} {denom}")
    return 0


def send(ctx: Context, args) -> int:
    from gonka_tui.core.address_book import lookalikes
    from gonka_tui.core.secp256k1 import Signer
    from gonka_tui.core.transfer import Transfer, plan_send
    from gonka_tui.core.tx import validate_memo

    sender = ctx.keystore.get(args.from_key)
    if not sender.has_secret:
        raise GonkaError(f"'{sender.name}' is watch-only: its key is not on this machine, it cannot send")
    to_address = ctx.resolve_address(args.to)
    amount = parse_amount(args.amount)
    fee = parse_amount(args.fees, allow_zero=True, what="fee") if args.fees is not None else None
    validate_memo(args.memo or "")
    book = ctx.session.address_book
    known = [(k.name or "sent to before", k.address) for k in ctx.recipients().known()]
    for label, similar in lookalikes(to_address, known):
        ctx.err(f"WARNING: {to_address} resembles {similar} ({label}) but is a different address")
    signer = Signer(ctx.unlock().signing_key(sender.name).private_key)

    async def run():
        async with ctx.chain_client() as client:
            plan = await plan_send(client, signer, sender.address, to_address, amount, memo=args.memo or "",
                                   gas=args.gas, fee=fee, progress=ctx.progress)
            ctx.end_progress()
            if not args.json or not args.yes:
                for label, value in plan.summary():
                    ctx.err(f"{label:<16} {value}")
            ctx.confirm(f"Send {format_gnk(amount)} to {to_address}", args.yes)
            return await Transfer(signer, plan).attempt(client, progress=ctx.progress)

    try:
        result = asyncio.run(run())
    finally:
        ctx.end_progress()
    book.record_use(to_address)
    if args.json:
        ctx.out_json({"txhash": result.txhash, "tx_bytes": base64.b64encode(result.tx_bytes).decode(),
                      "code": result.code, "height": result.height, "raw_log": result.raw_log,
                      "gas_wanted": str(result.record.gas_wanted) if result.record else None,
                      "gas_used": str(result.record.gas_used) if result.record else None})
    elif result.code == 0:
        ctx.out(f"sent {format_gnk(amount)} to {to_address} in block {result.height}: {result.txhash}")
    else:
        ctx.err(f"the transaction was included in block {result.height} but failed (code {result.code}): "
                f"{result.raw_log}")
    return 0 if result.code == 0 else 1


def history(ctx: Context, args) -> int:
    address = ctx.resolve_address(args.name)

    async def run():
        async with ctx.chain_client() as client:
            return await client.history(address, page=args.page, limit=args.limit)

    records, more = asyncio.run(run())
    if args.json:
        ctx.out_json({"address": address, "page": args.page, "more": more,
                      "txs": [{**r.to_json(), "direction": r.direction(address),
                               "net": str(r.net_amount(address))} for r in records]})
        return 0
    if not records:
        ctx.err(f"no transactions for {address} yet")
        return 0
    for r in records:
        status = "ok" if r.ok else f"failed ({r.code})"
        counterpart = (", ".join(label(m) for m in r.other_messages) if r.other_messages else
                       next((t.recipient if t.sender == address else t.sender for t in r.transfers), ""))
        ctx.out(f"{r.height:>8}  {r.time[:19]:<19}  {r.direction(address):<5}  "
                f"{format_gnk(r.net_amount(address)):>20}  {counterpart or '-':<44}  {status}  {r.hash}")
    if more:
        ctx.err(f"more: gonka history {args.name} --page {args.page + 1}")
    return 0
