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
