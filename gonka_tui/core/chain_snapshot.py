"""What one read of the chain found: the latest height and the balances of the accounts asked about."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Iterable, Mapping

from gonka_tui.core.accounts import Balances
from gonka_tui.core.errors import GonkaError, NodeUnreachable

if TYPE_CHECKING:
    from gonka_tui.core.chain_client import ChainClient

CONCURRENT_QUERIES = 4


@dataclass(frozen=True)
class ChainSnapshot:
    height: int
    balances: Mapping[str, Balances] = field(default_factory=dict)  # address -> what it holds
    errors: Mapping[str, str] = field(default_factory=dict)  # address -> why its balances could not be read

    def __post_init__(self) -> None:  # read-only views: a snapshot is shared by every screen
        object.__setattr__(self, "balances", MappingProxyType(dict(self.balances)))
        object.__setattr__(self, "errors", MappingProxyType(dict(self.errors)))


async def read_chain(client: "ChainClient", addresses: Iterable[str]) -> ChainSnapshot:
    """The status first (an unreachable node fails once, not once per account), then each balance;
    raises NodeUnreachable when the node does not answer, and what is not a GonkaError."""
    status = await client.status()
    addresses = list(dict.fromkeys(addresses))
    limit = asyncio.Semaphore(CONCURRENT_QUERIES)
    balances: dict[str, Balances] = {}
    errors: dict[str, str] = {}

    async def one(address: str) -> None:
        async with limit:
            try:
                balances[address] = await client.balances(address)
            except NodeUnreachable:
                raise
            except GonkaError as exc:  # this account only (e.g. a malformed reply)
                errors[address] = str(exc)

    results = await asyncio.gather(*(one(a) for a in addresses), return_exceptions=True)
    failure = next((r for r in results if isinstance(r, NodeUnreachable)), None) or next(
        (r for r in results if isinstance(r, BaseException)), None)
    if failure is not None:
        raise failure
    return ChainSnapshot(status.height, balances, errors)
