"""`gonka` with no command: the Textual app (the only command that imports Textual)."""

from __future__ import annotations

import os

from gonka_tui.commands.context import Context


def run(ctx: Context, args) -> int:
    ctx.prepare_home()
    from gonka_tui.tui.app import GonkaApp

    app = GonkaApp(home=ctx.home, config=ctx.config, network=ctx.network_arg, node=ctx.node_arg,
                   exit_after_first_frame=bool(os.environ.get("GONKA_EXIT_AFTER_FIRST_FRAME")))
    app.run()
    return app.return_code or 0


def replay(ctx: Context, args) -> int:
    """`gonka miner replay`: the app's Miner screen, fed by this home's recording instead of a live agent."""
    from gonka_tui.core.errors import InputError
    from gonka_tui.miner.records import records_path

    if args.speed <= 0 or args.speed > 10_000:
        raise InputError("--speed must be above 0 (1 = as recorded, 10 = ten times faster)")
    if not records_path(ctx.home.data_dir).exists():
        raise InputError(f"nothing was recorded in {ctx.home.data_dir}: an agent records while `gonka miner run` runs")
    since = _since(args.since) if args.since else None
    ctx.prepare_home()
    from gonka_tui.tui.app import GonkaApp
    from gonka_tui.tui.miner_feed import ReplayFeed

    app = GonkaApp(home=ctx.home, config=ctx.config, network=ctx.network_arg, node=ctx.node_arg,
                   miner_feed=ReplayFeed(ctx.home.data_dir, since=since, speed=args.speed), start_mode="miner",
                   exit_after_first_frame=bool(os.environ.get("GONKA_EXIT_AFTER_FIRST_FRAME")))
    app.run()
    return app.return_code or 0


def _since(text: str) -> float:
    """--since: an ISO time (2026-12-01T14:00, local unless it says otherwise) or an age (90s, 30m, 2h, 1d)."""
    import re
    import time
    from datetime import datetime

    from gonka_tui.core.errors import InputError

    if m := re.fullmatch(r"([0-9]{1,6})([smhd])", text.strip()):
        return time.time() - int(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m[2]]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise InputError(f"--since {text[:40]!r}: give a time like 2026-12-01T14:00 or an age like 30m, 2h") from None
