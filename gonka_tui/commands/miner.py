"""`gonka miner compute` and `gonka miner bench`: the bundled PoC kernel from the command line, to
check a rig against known answers and to measure it."""

from __future__ import annotations

import json
import re
import time

from gonka_tui.core.errors import InputError

HEX = re.compile(r"[0-9a-fA-F]+")
SLOW_BUILD_PARAMS = 100_000_000  # about a second to build on a CPU


def _params(args):
    """(preset name or None, PocParams) from --preset / --params; the cpu preset by default."""
    from gonka_tui.poc.params import PocParams
    from gonka_tui.poc.presets import DEFAULT, preset

    if getattr(args, "params", None) is not None:
        if args.preset is not None:
            raise InputError("give --preset or --params, not both")
        try:
            data = json.loads(args.params)
        except ValueError as exc:
            raise InputError(f"--params is not valid JSON: {exc}") from None
        return None, PocParams.from_mapping(data)
    chosen = preset(args.preset or DEFAULT)
    return chosen.name, chosen.params


def _check_hex(value: str, what: str, *, length: int | None = None) -> str:
    """A seed string is used verbatim, but a typo must not silently start another round."""
    if not value or not HEX.fullmatch(value):
        raise InputError(f"{what} must be hexadecimal, got {value!r}")
    if length is not None and len(value) != length:
        raise InputError(f"{what} must be {length} hex digits, got {len(value)}")
    return value


def _device(args) -> str:
    return getattr(args, "device", None) or "auto"


def _gpu_preset_guard(name: str | None, device: str) -> None:
    from gonka_tui.poc.backends import cuda_available
    from gonka_tui.poc.presets import presets

    if name and presets()[name].needs_gpu and device in ("auto", "cpu") and not (device == "auto" and cuda_available()):
        raise InputError(f"the {name} preset needs a GPU in practice (no CUDA device here): "
                         "use --preset cpu, or run it where torch sees a GPU")


def compute(ctx, args) -> int:
    from gonka_tui.poc.backends import open_kernel
    from gonka_tui.poc.nonces import parse_nonce_spec

    name, params = _params(args)
    block_hash = _check_hex(args.block_hash, "--block-hash", length=64)
    public_key = _check_hex(args.public_key, "--public-key", length=66)
    nonces = parse_nonce_spec(args.nonces)
    scale = args.weight_scale
    if not (scale > 0 and scale < float("inf")):
        raise InputError("--weight-scale must be a positive number")
    device = _device(args)
    _gpu_preset_guard(name, device)
    began = time.monotonic()
    if params.total_params > SLOW_BUILD_PARAMS:  # progress only for what takes over a second
        ctx.progress(f"building the {name or 'custom'} model ({params.total_params / 1e9:.1f} B parameters)…")
    kernel = open_kernel(params, block_hash, weight_scale=scale, device=device, threads=args.threads)
    try:
        dist: list[float] = []
        step = kernel.batch * max(1, args.threads or 1)
        for i in range(0, len(nonces), step):
            if time.monotonic() - began >= 1.0:
                ctx.progress(f"{i:,}/{len(nonces):,} nonces")
            dist.extend(float(d) for d in kernel.distances(public_key, nonces[i:i + step]))
    finally:
        kernel.close()
        ctx.end_progress()
    if args.json:
        ctx.out(json.dumps({"nonces": nonces, "dist": dist}))
    else:
        for n, d in zip(nonces, dist):
            ctx.out(f"{n}\t{d!r}")
    return 0


def bench(ctx, args) -> int:
    from gonka_tui.poc import bench as kernel_bench

    name, params = _params(args)
    if not (args.seconds > 0 and args.seconds <= 3600):
        raise InputError("--seconds must be between 0 and 3600")
    device = _device(args)
    _gpu_preset_guard(name, device)
    try:
        result = kernel_bench.run(params, preset=name, seconds=args.seconds, threads=args.threads,
                                  batch=args.batch, device=device, parallel=args.parallel, progress=ctx.progress)
    finally:
        ctx.end_progress()
    if args.json:
        ctx.out(json.dumps(result, indent=2))
    else:
        blas = result["blas"]
        ctx.out(f"{result['preset'] or 'custom'} on {result['device']} ({blas['library']} {blas['core_type']}), "
                f"{result['threads']} thread(s), batch {result['batch']}: {result['nonces_per_second']:,.0f} nonces/s, "
                f"{result['flops_per_second'] / 1e9:.1f} GFLOP/s"
                + (f" = {result['ratio']:.2f} of this machine's sustained matrix multiply"
                   f" ({result['ratio_to_peak']:.2f} of its fastest)" if result["ratio"] else ""))
    return 0


# ----- the agent -----

def run(ctx, args) -> int:
    """`gonka miner run --key NAME`: mine on this machine until Ctrl-C."""
    import asyncio
    import base64
    import sys

    from gonka_tui.core.secp256k1 import Signer
    from gonka_tui.miner.service import RunOptions, run_agent

    settings = ctx.config.miner
    record = ctx.keystore.get(args.key)
    if record.kind == "watch" or not record.pubkey:
        raise InputError(f"'{record.name}' is a watch-only key: mining signs batches, it needs a key with its secret")
    if args.unlock_key_stdin:  # the app hands over the keystore's derived key on a pipe, never in argv or env
        line = sys.stdin.readline().strip()
        try:
            key = base64.b64decode(line, validate=True)
        except ValueError:
            raise InputError("--unlock-key-stdin: expected the keystore key in base64 on stdin") from None
        if not ctx.keystore.unlock_with_key(key):
            raise InputError("--unlock-key-stdin: the key does not open this keystore")
        keystore = ctx.keystore
    else:
        keystore = ctx.unlock()
    signer = Signer(keystore.signing_key(record.name).private_key)
    port = args.status_port if args.status_port is not None else settings.status_port
    if not 1 <= port <= 65535:
        raise InputError("--status-port must be from 1 to 65535")
    options = RunOptions(record.name, status_port=port, device=args.device, threads=args.threads,
                         restart_limit=settings.restart_limit, restart_window_minutes=settings.restart_window_minutes,
                         retention_hours=settings.retention_hours)

    async def main() -> None:
        async with ctx.chain_client() as client:
            await run_agent(ctx.home.data_dir, options, client=client, signer=signer, address=record.address,
                            public_key_hex=record.pubkey,
                            on_listening=lambda url: ctx.err(f"mining as {record.name} ({record.address}); "
                                                             f"status at {url}/v1/miner/status; Ctrl-C stops"))

    asyncio.run(main())
    return 0


def _local_agent(ctx):
    from gonka_tui.miner.agent_client import find_local_agent

    found = find_local_agent(ctx.home.data_dir)
    if found is None:
        raise InputError("no miner agent is running for this home: start one with `gonka miner run --key NAME`")
    return found


def status(ctx, args) -> int:
    import asyncio

    from gonka_tui.core.units import format_gnk
    from gonka_tui.miner.agent_client import AgentClient

    async def read():
        async with AgentClient(_local_agent(ctx)) as client:
            return await client.status()

    s = asyncio.run(read())
    if args.json:
        ctx.out_json(s.to_json())
        return 0
    ctx.out(f"{s.state} · epoch {s.epoch} {s.phase} · block {s.block_height} · weight {s.weight:,}")
    ctx.out(f"throughput {s.throughput.s10:,.0f} nonces/s (60 s {s.throughput.s60:,.0f}, 15 min {s.throughput.m15:,.0f})")
    for d in s.devices:
        ctx.out(f"  {d.name}: {d.state}, {d.nonces_per_second:,.0f} nonces/s, pid {d.pid or '—'}, "
                f"{d.restarts} restarts" + (f" (last: {d.last_failure})" if d.last_failure else ""))
    ctx.out(f"batches {s.batches_accepted} accepted, {s.batches_rejected} rejected, {s.batches_queued} queued; "
            f"earned {format_gnk(int(s.earned_ngonka))}")
    if s.error:
        ctx.out(f"error: {s.error}")
    return 0


def control(ctx, args) -> int:
    import asyncio

    from gonka_tui.miner.agent_client import AgentClient

    async def send():
        async with AgentClient(_local_agent(ctx)) as client:
            await client.control(args.miner_command)

    asyncio.run(send())
    ctx.err({"pause": "paused", "resume": "resumed", "stop": "stopping"}[args.miner_command])
    return 0
