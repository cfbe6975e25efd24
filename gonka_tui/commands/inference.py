"""`gonka infer`, `gonka models`, `gonka broker add|list|remove`: buying inference from the CLI."""

from __future__ import annotations

import asyncio
import os
from contextlib import aclosing

from gonka_tui.commands.context import Context
from gonka_tui.core.errors import InputError
from gonka_tui.core.units import format_gnk

BROKER_KEY_ENV = "GONKA_BROKER_API_KEY"
MAX_PROMPT_CHARS = 1_000_000
PER_MILLION = 1_000_000


def _prompt(ctx: Context, text: str) -> str:
    if text == "-":
        text = ctx.stdin.read(MAX_PROMPT_CHARS + 1)
    if len(text) > MAX_PROMPT_CHARS:
        raise InputError(f"the prompt is longer than {MAX_PROMPT_CHARS:,} characters")
    if not text.strip():
        raise InputError("the prompt is empty" + (" (nothing on stdin)" if text == "" else ""))
    return text


def _open(ctx: Context, key: str | None, broker: str | None):
    from gonka_tui.core.inference import open_inference

    profile_broker = ctx.network.broker if not key else None
    if broker or profile_broker:
        ctx.session.brokers.list()  # a damaged brokers.json says so before the passphrase is asked
    return open_inference(ctx.session, key=key, broker=broker, passphrase_prompt=_prompt_for(ctx))


def _prompt_for(ctx: Context):
    def ask() -> None:
        ctx.unlock()  # GONKA_PASSPHRASE, the remembered key or a hidden prompt, with the usual messages

    return ask


def _cost_text(done) -> str:
    if done.usage is None:
        return "usage not reported; cost unknown"
    u = done.usage
    tokens = f"{u.total_tokens} tokens ({u.prompt_tokens} prompt + {u.completion_tokens} completion)"
    if done.cost_ngonka is None:
        return f"{tokens} · cost unknown (no price for {done.model})"
    estimate = " (estimate: the network's price; the broker reported none)" if done.cost_is_estimate else ""
    return f"{tokens} · cost {format_gnk(done.cost_ngonka)}{estimate}"


def _result_json(client, model, content, done=None, error: str | None = None) -> dict:
    usage = done.usage if done else None
    out = {"model": done.model if done else model, "content": content,
           "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                     "total_tokens": usage.total_tokens} if usage else None,
           "cost_ngonka": str(done.cost_ngonka) if done and done.cost_ngonka is not None else None,
           "cost_is_estimate": bool(done.cost_is_estimate) if done else False,
           "mode": client.mode, "finish_reason": done.finish_reason if done else None,
           "inference_id": done.inference_id if done else None}
    if error is not None:
        out["error"] = error
    return out


def infer(ctx: Context, args) -> int:
    from gonka_tui.core.inference import ChatMessage, Delta, InferenceError

    prompt = _prompt(ctx, args.prompt)
    messages = ([ChatMessage("system", args.system)] if args.system else []) + [ChatMessage("user", prompt)]
    client = _open(ctx, args.key, args.broker)
    written = {"any": False, "newline": True}

    def write(text: str) -> None:
        ctx.stdout.write(text)
        ctx.stdout.flush()  # each piece as it arrives
        written["any"] = True
        written["newline"] = text.endswith("\n")

    async def run():
        waiting = ctx.stderr_is_tty  # a progress line on a terminal only: a script reads one line per failure
        if waiting:
            ctx.progress(f"asking {client.label}")
        try:
            async with aclosing(client.chat(messages, model=args.model, max_tokens=args.max_tokens)) as events:
                async for event in events:
                    if waiting:
                        ctx.end_progress()
                        waiting = False
                    if isinstance(event, Delta):
                        if not args.json:
                            write(event.text)
                    else:
                        return event
        finally:
            ctx.end_progress()
            await client.aclose()
            await ctx.session.aclose()

    try:
        done = asyncio.run(run())
    except KeyboardInterrupt:
        if written["any"] and not written["newline"]:
            write("\n")
        # Not the CLI's "nothing was changed": the node may have reserved and charged for the answer begun.
        ctx.err("interrupted: a request already answered in part is charged for the tokens generated "
                "(`gonka history` shows it)")
        return 130
    except InferenceError as exc:
        if args.json:
            ctx.out_json(_result_json(client, args.model, exc.partial, error=str(exc)))
        elif written["any"] and not written["newline"]:
            write("\n")  # the partial answer stays on stdout; the error (cut, failed) follows on stderr
        raise
    if args.json:
        ctx.out_json(_result_json(client, args.model, done.content, done))
        return 0
    if not written["newline"]:
        write("\n")
    ctx.err(f"{_cost_text(done)} · {client.label}")
    return 0


def models(ctx: Context, args) -> int:
    from gonka_tui.core.inference import network_models

    async def run():
        if args.broker or ctx.network.broker:
            client = _open(ctx, None, args.broker)
            try:
                return client.label, await client.models()
            finally:
                await client.aclose()
                await ctx.session.aclose()
        try:
            return f"the network {ctx.network.name}", await network_models(ctx.session.client)
        finally:
            await ctx.session.aclose()

    source, found = asyncio.run(run())
    if args.json:
        ctx.out_json([{"id": m.id, "price_per_token": str(m.price_per_token) if m.price_per_token is not None else None,
                       "context_window": m.context_window} for m in found])
        return 0
    if not found:
        ctx.out(f"{source} serves no model now")
        return 0
    width = max(len("MODEL"), *(len(m.id) for m in found))
    ctx.out(f"{'MODEL':<{width}}  {'NGONKA/TOKEN':>12}  {'GNK PER 1M TOKENS':>17}  CONTEXT")
    for m in found:
        price = str(m.price_per_token) if m.price_per_token is not None else "unknown"
        million = format_gnk(m.price_per_token * PER_MILLION, denom=False) if m.price_per_token is not None else "-"
        ctx.out(f"{m.id:<{width}}  {price:>12}  {million:>17}  {m.context_window or '-'}")
    ctx.err(f"from {source}")
    return 0


def broker_add(ctx: Context, args) -> int:
    from gonka_tui.core.brokers import validate_broker_name, validate_broker_url

    book = ctx.session.brokers
    name, url = validate_broker_name(args.name), validate_broker_url(args.url)  # before any secret is asked
    if book.has(name):
        raise InputError(f"a broker named '{name}' is already added (remove it first: `gonka broker remove {name}`)")
    key = os.environ.get(BROKER_KEY_ENV)
    if key is None:  # never an argument: it would show in the shell history and the process list
        try:
            key = ctx.read_secret("Broker API key")
        except InputError:
            raise InputError(f"no API key for the broker: set ${BROKER_KEY_ENV}, pipe it on stdin or run in a "
                             "terminal") from None
    ctx.prepare_home()
    ctx.unlock_or_initialize()
    added = book.add(name, url, key)
    ctx.out(f"added broker '{added.name}' ({added.url}); its API key is sealed in the keystore")
    return 0


def broker_list(ctx: Context, args) -> int:
    brokers = ctx.session.brokers.list()
    if args.json:
        ctx.out_json([{"name": b.name, "url": b.url} for b in brokers])
        return 0
    if not brokers:
        ctx.out("no brokers yet: add one with `gonka broker add NAME URL` (the URL is its OpenAI base_url, "
                "ending in /v1)")
        return 0
    default = ctx.network.broker
    width = max(len(b.name) for b in brokers)
    for b in brokers:
        ctx.out(f"{b.name:<{width}}  {b.url}{'  (the profile default)' if b.name == default else ''}")
    return 0


def broker_remove(ctx: Context, args) -> int:
    removed = ctx.session.brokers.remove(args.name)
    ctx.out(f"removed broker '{removed.name}' ({removed.url}) and its API key")
    return 0
