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
