"""`gonka devnet`: run a local Gonka-compatible network in this process until Ctrl-C / SIGTERM."""

from __future__ import annotations

import os
import re
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from gonka_tui.commands.context import Context
from gonka_tui.core.errors import GonkaError, InputError, shown
from gonka_tui.core.integers import parse_uint
from gonka_tui.core.network_constants import BASE_DENOM


# ASCII digits only (float() and Decimal() also take '١', '1_0', 'inf', '1e3'), bounded in length.
_BLOCK_TIME = re.compile(r"[0-9]{1,8}(\.[0-9]{1,8})?")
# At most 18 decimals, as the chain's Dec has; 18 whole digits is far above any real price and keeps
# every fee it implies a number the chain can hold.
_GAS_PRICE = re.compile(r"[0-9]{1,18}(\.[0-9]{1,18})?")


def parse_block_time(text: str) -> float:
    if not _BLOCK_TIME.fullmatch(text or ""):
        raise InputError(f"--block-time {shown(text)} is not a number of seconds (e.g. 1 or 0.2)")
    value = float(text)
    if not 0.01 <= value <= 3600:
        raise InputError(f"--block-time {text}: choose between 0.01 and 3600 seconds")
    return value


def parse_min_gas_price(text: str) -> Fraction:
    s = (text or "").strip()
    if s.lower().endswith(BASE_DENOM):
        s = s[: -len(BASE_DENOM)].strip()
    if not _GAS_PRICE.fullmatch(s):
        raise InputError(f"--min-gas-price {shown(text)} must be a non-negative number of ngonka per gas "
                         "(e.g. 0 or 0.1; at most 18 digits before and 18 after the point)")
    return Fraction(Decimal(s))


def parse_port(text: str) -> int:
    return parse_uint(text, what="--port", maximum=65535)


def parse_poc_config(args):
    """The PocConfig the flags ask for, or None when no PoC flag was given (a resumed devnet keeps its own)."""
    from dataclasses import replace

    from gonka_tui.core.units import parse_amount
    from gonka_tui.devnet.epochs import EpochParams, PocConfig, parse_poc_params

    names = ("epoch_blocks", "poc_blocks", "validation_blocks", "poc_preset", "poc_params", "epoch_reward",
             "reward_vesting_epochs")
    if all(getattr(args, n, None) is None for n in names):
        return None
    epochs = EpochParams()
    for flag, field_name in (("epoch_blocks", "epoch_length"), ("poc_blocks", "poc_stage_duration"),
                             ("validation_blocks", "poc_validation_duration")):
        text = getattr(args, flag)
        if text is not None:
            value = parse_uint(text, what=f"--{flag.replace('_', '-')}", minimum=1, maximum=10**9)
            epochs = replace(epochs, **{field_name: value})
    kwargs: dict = {"epochs": epochs}
    if args.poc_preset is not None and args.poc_params is not None:
        raise InputError("give --poc-preset or --poc-params, not both")
    if args.poc_params is not None:
        params, r_target, sample = parse_poc_params(args.poc_params)
        kwargs.update(preset=None, params=params, r_target=r_target)
        if sample is not None:
            kwargs["validation_sample_size"] = sample
    elif args.poc_preset is not None:
        from gonka_tui.poc import presets

        presets.preset(args.poc_preset)  # an unknown name: one clear line
        kwargs["preset"] = args.poc_preset
    if args.epoch_reward is not None:
        text = args.epoch_reward.strip()
        kwargs["epoch_reward"] = parse_amount(text if text[-1:].isalpha() else f"{text}gnk")
    if args.reward_vesting_epochs is not None:
        kwargs["reward_vesting_epochs"] = parse_uint(args.reward_vesting_epochs, what="--reward-vesting-epochs",
                                                     maximum=1000)
    return PocConfig(**kwargs)


def open_inference_backend(url: str | None, threads: int, log):
    """The text backend `gonka devnet` serves (the bundled model, or `--inference-backend URL`); an object whose
    unavailable_reason() says why when it cannot serve (the devnet then runs on without inference)."""
    from gonka_tui.devnet.llm import open_backend  # lazily: llama.cpp is only looked for when the devnet runs

    return open_backend(url, threads=threads, log=log)


def parse_inference_url(text: str | None) -> str | None:
    if text is None:
        return None
    url = text.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?/v1", url):
        raise InputError(f"--inference-backend {shown(text, 120)} must be an OpenAI-compatible base URL ending in "
                         "/v1, e.g. http://127.0.0.1:8080/v1")
    return url


def run(ctx: Context, args) -> int:
    from gonka_tui.core.units import format_gnk
    from gonka_tui.devnet.chain import Chain
    from gonka_tui.core.tx import validate_chain_id
    from gonka_tui.devnet.genesis import parse_fund, parse_fund_vesting
    from gonka_tui.devnet.server import bind, serve

    block_time = parse_block_time(args.block_time)
    min_gas_price = parse_min_gas_price(args.min_gas_price)
    port = parse_port(args.port)
    funds = [parse_fund(f) for f in args.fund or []] + [parse_fund_vesting(f) for f in args.fund_vesting or []]
    home = Path(args.devnet_home).expanduser().resolve() if args.devnet_home else ctx.home.devnet_dir
    poc = parse_poc_config(args)
    from gonka_tui.devnet.broker import BROKER_KEYS_ENV, parse_broker_key
    from gonka_tui.devnet.models import Pricing, parse_inference_price

    # Keys also from the environment, one per line: an argument is visible to every user of the machine (ps).
    from_env = [k for k in os.environ.get(BROKER_KEYS_ENV, "").splitlines() if k.strip()]
    broker_keys = [parse_broker_key(k.strip()) for k in [*(getattr(args, "broker_key", None) or []), *from_env]]
    pricing = parse_inference_price(args.inference_price) if getattr(args, "inference_price", None) else Pricing()
    threads = parse_uint(getattr(args, "inference_threads", None) or "1", what="--inference-threads", minimum=1,
                         maximum=256)
    backend_url = parse_inference_url(getattr(args, "inference_backend", None))

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=ctx.stderr, flush=True)

    if args.chain_id is not None:
        validate_chain_id(args.chain_id)
    try:
        sock = bind(args.host, port)  # before touching the state: a busy port changes nothing
    except OSError as exc:
        raise GonkaError(f"cannot listen on {args.host}:{port}: {exc.strerror or exc}; is another devnet running? "
                         "(choose another --port)") from None
    try:
        chain, notes = Chain.open(home, chain_id=args.chain_id, min_gas_price=min_gas_price, funds=funds, log=log,
                                  poc=poc)
    except BaseException:
        sock.close()
        raise
    fresh = chain.created
    backend = open_inference_backend(backend_url, threads, log)

    def listening(url: str) -> None:
        out = ctx.out
        out(f"gonka devnet {'created' if fresh else 'resumed'} in {home}")
        out(f"url:            {url}")
        out(f"chain id:       {chain.chain_id}")
        out(f"height:         {chain.height}")
        out(f"node address:   {chain.node_address} (the faucet: POST {url}/faucet)")
        out(f"block time:     {block_time:g} s; min gas price {args.min_gas_price} ngonka/gas")
        cfg = chain.poc_config
        E = cfg.epochs
        out(f"epochs:         {E.epoch_length} blocks (PoC {E.poc_stage_duration}, validation "
            f"{E.poc_validation_duration}); first round at block {E.first_poc_start}")
        out(f"PoC model:      {cfg.preset or 'custom params'}, r_target {cfg.r_target}; reward "
            f"{format_gnk(cfg.epoch_reward)} per epoch"
            + (f", vesting over {cfg.reward_vesting_epochs} epochs" if cfg.reward_vesting_epochs else ", liquid"))
        if fresh:
            for fund in funds:
                vesting = f", vesting over {fund.vesting_seconds} s" if fund.vesting_seconds else ""
                out(f"funded:         {fund.address} {format_gnk(fund.amount)}{vesting}")
        reason = backend.unavailable_reason()
        price = f"{pricing.price_per_token} ngonka/token; POST {url}/v1/chat/completions (signed)"
        if backend_url:  # the server is asked for its model at start; the log says what it answered
            out(f"inference:      from {backend_url} (its first model, checked at start); {price}")
        elif reason is None:
            out(f"inference:      {backend.model_id} (bundled, {threads} thread{'s' if threads != 1 else ''}); "
                f"{price}")
        else:
            out(f"inference:      {reason}")
        if broker_keys:
            out(f"broker:         {url}/broker/v1 (OpenAI-compatible; {len(broker_keys)} API "
                f"key{'s' if len(broker_keys) != 1 else ''})")
        else:
            out("broker:         off (start with --broker-key KEY to serve an OpenAI-compatible broker at "
                f"{url}/broker/v1)")
        for note in notes:
            out(f"note:           {note}")
        out("Ctrl-C stops it (the pending block is committed first).")
        try:
            ctx.stdout.flush()
        except (AttributeError, ValueError):
            pass

    serve(chain, sock, block_time=block_time, log=log, on_listening=listening, inference_backend=backend,
          broker_keys=broker_keys, pricing=pricing)
    print(f"devnet stopped at height {chain.height}; state kept in {home}", file=ctx.stderr)
    return 0
