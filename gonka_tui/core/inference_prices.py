"""The network's models and their prices per token: `/v1/models` (or `/v1/governance/models`) and `/v1/pricing`
through the session's node pool, read leniently (a node may leave fields out).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from gonka_tui.core.inference_types import ModelPrice

if TYPE_CHECKING:
    from gonka_tui.core.chain_client import ChainClient

# ----- the network's models and prices -----

async def _network_get(network: "ChainClient", path: str) -> Any | None:
    """GET `path` from the session's nodes; None when they do not serve it."""
    status, data = await network.request("GET", path, cache=True)
    return data if status < 400 and isinstance(data, dict) else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 40:
        return int(value)
    return None


async def network_prices(network: "ChainClient") -> dict[str, int]:
    """model id → ngonka per token, from `/v1/pricing` (`price_per_token`, else units × unit price)."""
    data = await _network_get(network, "/v1/pricing") or {}
    unit = _int(data.get("unit_of_compute_price"))
    prices: dict[str, int] = {}
    for m in data.get("models") or []:
        if not isinstance(m, dict) or not isinstance(m.get("id"), str):
            continue
        price = _int(m.get("price_per_token"))
        units = _int(m.get("units_of_compute_per_token"))
        if price is None and unit is not None and units is not None:
            price = unit * units
        if price is not None:
            prices[m["id"]] = price
    return prices


async def network_models(network: "ChainClient", *, governance: bool = False) -> list[ModelPrice]:
    """The models the network serves now (`/v1/models`; `governance`: all it knows) with their prices."""
    models, prices = await asyncio.gather(_network_get(network, "/v1/governance/models" if governance else "/v1/models"),
                                          network_prices(network))
    found: list[ModelPrice] = []
    listed = (models or {}).get("models")
    if isinstance(listed, list):
        for m in listed:
            if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]:
                found.append(ModelPrice(m["id"], prices.get(m["id"]), _int(m.get("context_window")) or None))
    elif models is None and not governance:  # a node without /v1/models: the priced ones
        found = [ModelPrice(mid, price, None) for mid, price in prices.items()]
    return found
