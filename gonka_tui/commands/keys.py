"""`gonka keys ...`: create, recover, import, watch, list, show, rename, delete, export."""

from __future__ import annotations

from gonka_tui.commands.context import Context
from gonka_tui.core.errors import GonkaError, InputError
from gonka_tui.core.keystore import KeyRecord

MNEMONIC_WARNING = (
    "WARNING: this recovery phrase is the only backup of the new key and is shown once.\n"
    "Write it down and keep it offline; anyone who has it controls the funds."
)


def _print_record(ctx: Context, rec: KeyRecord) -> None:
    width = 8
    for label, value in (("name", rec.name), ("kind", rec.kind), ("address", rec.address),
                         ("pubkey", rec.pubkey or "-"), ("path", rec.path or "-")):
        ctx.out(f"{label + ':':<{width}} {value}")


def _report_problems(ctx: Context) -> None:
    for problem in ctx.keystore.problems:
        ctx.err(f"warning: {problem.message}")


def add(ctx: Context, args) -> int:
    from gonka_tui.core.keys import HDPath, generate_mnemonic, normalize_mnemonic

    ctx.prepare_home()
    ks = ctx.keystore
    ks.ensure_name_free(args.name)
    path = HDPath(coin_type=args.coin_type, account=args.account, index=args.index)
    if args.from_key:
        if args.recover:
            raise InputError("--from and --recover cannot be combined")
        ks.get(args.from_key)
        ks = ctx.unlock()
        rec = ks.derive_from(args.from_key, args.name, path)
        return _done(ctx, args, rec)
    if args.recover:
        mnemonic = normalize_mnemonic(ctx.read_secret("Recovery phrase"))
        ks = ctx.unlock_or_initialize()
        rec = ks.add_mnemonic(args.name, mnemonic, path)
        _done(ctx, args, rec)
        _report_network_use(ctx, mnemonic, path)
        return 0
    mnemonic = generate_mnemonic(args.words)
    ks = ctx.unlock_or_initialize()
    rec = ks.add_mnemonic(args.name, mnemonic, path)
    if args.json:
        ctx.err(MNEMONIC_WARNING)
        ctx.out_json({**rec.to_json(), "mnemonic": mnemonic})
    else:
        ctx.err(f"created key '{rec.name}' {rec.address} ({rec.path})")
        ctx.err(MNEMONIC_WARNING)
        ctx.out(mnemonic)
    return 0


def _report_network_use(ctx: Context, mnemonic: str, chosen) -> None:
    """Say which of the 1200/118/60 addresses of the phrase hold funds or history (stderr)."""
    import asyncio

    from gonka_tui.core.keys import COIN_TYPES, candidate_addresses
    from gonka_tui.core.units import format_gnk

    candidates = candidate_addresses(mnemonic)

    async def look(client, key):
        # Two requests per address: public nodes allow about 20 a minute.
        total, (sent, _n) = await asyncio.gather(client.total_balance(key.address),
                                                 client.search(f"message.sender='{key.address}'", limit=1))
        return key, total, bool(sent)

    async def run():
        async with ctx.chain_client(timeout=5.0, deadline=5.0) as client:
            return await asyncio.gather(*(look(client, k) for k in candidates))

    try:
        found = asyncio.run(run())
    except Exception as exc:  # the key is saved; the lookup is a courtesy
        ctx.err(f"note: could not check the network for funds ({str(exc) or type(exc).__name__})")
        return
    ctx.err(f"On {ctx.network.name}, this recovery phrase's addresses:")
    used = []
    for key, total, has_history in found:
        coin = key.path.coin_type
        state = ", ".join(filter(None, [f"holds {format_gnk(total)}" if total else "",
                                        "has sent transactions" if has_history else ""])) or "empty"
        mark = "  ← saved" if coin == chosen.coin_type else ""
        ctx.err(f"  {coin:>4} {COIN_TYPES[coin]:<15} {key.address}  {state}{mark}")
        if total or has_history:
            used.append(coin)
    if used and chosen.coin_type not in used:
        ctx.err(f"The saved path has nothing; the funds are at coin type {used[0]}: "
                f"add it with --coin-type {used[0]}")


def _done(ctx: Context, args, rec: KeyRecord) -> int:
    if getattr(args, "json", False):
        ctx.out_json(rec.to_json())
    else:
        _print_record(ctx, rec)
    return 0


def import_hex(ctx: Context, args) -> int:
    from gonka_tui.core.keys import parse_private_key_hex

    ctx.prepare_home()
    ctx.keystore.ensure_name_free(args.name)
    private_key = parse_private_key_hex(ctx.read_secret("Private key (hex)"))
    ks = ctx.unlock_or_initialize()
    return _done(ctx, args, ks.add_private_key(args.name, private_key))


def add_watch(ctx: Context, args) -> int:
    ctx.prepare_home()
    return _done(ctx, args, ctx.keystore.add_watch(args.name, args.address))


def list_keys(ctx: Context, args) -> int:
    records = ctx.keystore.list()
    _report_problems(ctx)
    if args.json:
        ctx.out_json([r.to_json() for r in records])
        return 0
    if not records:
        ctx.err("no keys yet: create one with `gonka keys add NAME` or recover one with `gonka keys add NAME --recover`")
        return 0
    name_w = max(4, *(len(r.name) for r in records))
    ctx.out(f"{'NAME':<{name_w}}  {'KIND':<8}  {'ADDRESS':<44}  PATH")
    for r in records:
        ctx.out(f"{r.name:<{name_w}}  {r.kind:<8}  {r.address:<44}  {r.path or '-'}")
    return 0


def show(ctx: Context, args) -> int:
    rec = ctx.keystore.get(args.name)
    _report_problems(ctx)
    if args.address:
        ctx.out(rec.address)
        return 0
    return _done(ctx, args, rec)


def rename(ctx: Context, args) -> int:
    rec = ctx.keystore.rename(args.old, args.new)
    ctx.out(f"renamed '{args.old}' to '{rec.name}'")
    return 0


def delete(ctx: Context, args) -> int:
    ks = ctx.keystore
    rec = ks.get(args.name)
    if rec.has_secret:
        ctx.confirm(f"Delete key '{rec.name}' ({rec.address}) — only its recovery phrase can restore it", args.yes)
        ctx.unlock()  # proves the passphrase before anything is removed
    else:
        ctx.confirm(f"Delete watch-only '{rec.name}' ({rec.address})", args.yes)
    ks.delete(rec.name)
    ctx.out(f"deleted '{rec.name}'")
    return 0


def export(ctx: Context, args) -> int:
    ks = ctx.keystore
    rec = ks.get(args.name)
    if not rec.has_secret:
        raise GonkaError(f"'{rec.name}' is watch-only: there is no secret to export")
    what = "recovery phrase" if rec.kind == "mnemonic" else "private key"
    ctx.confirm(f"Print the {what} of '{rec.name}' in clear text", args.yes)
    secret = ctx.unlock().secret(rec.name)
    ctx.err(f"WARNING: the {what} below gives full control of {rec.address}.")
    ctx.out(secret.export_text())
    return 0
