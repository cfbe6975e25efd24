"""Asking a node again now: the app's Retry and heartbeat should not wait out a back-off that grew
while the node was down (a single local node can be back in a second). Rate-limit cool-downs (429,
Retry-After) and nodes on the wrong chain are left alone."""

from __future__ import annotations

from gonka_tui.core.chain_client import ChainClient

RATE_LIMITED = "rate limited (429)"


def retry_now(client: ChainClient) -> None:
    for node in client.nodes:
        if node.cooldown_until == float("inf") or node.problem == RATE_LIMITED:
            continue
        node.cooldown_until = 0.0
        node.failures = 0
