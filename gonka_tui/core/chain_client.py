"""An async client for Gonka nodes: Cosmos REST (/chain-api) and CometBFT RPC (/chain-rpc).

The chain's queries and transactions; the nodes are a `NodePool` (fail-over, back-off, the read
cache, the deadlines). Before a node of a profile is used, its /status must show the profile's
chain id (or, without one, the chain of the first node that answered). A broadcast empties the
read cache.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import httpx

from gonka_tui.core.accounts import Account, Balances, coins_amount, parse_account, parse_coins
from gonka_tui.core.epochs import EpochInfo, PocChainParams
from gonka_tui.core.errors import ChainError, InputError, SimulationFailed
from gonka_tui.core.node_pool import ATTEMPT_TIMEOUT, DEFAULT_DEADLINE, HealthProbe, Node, NodePool
from gonka_tui.core.txrecords import TxRecord, parse_tx_response
from gonka_tui.core.units import BASE_DENOM

API = "/chain-api"
RPC = "/chain-rpc"
PARAMS_PATH = "/productscience/inference/inference/params"


def _network(status: Any) -> str:
    return status["result"]["node_info"]["network"]


# A node proves its chain with CometBFT's /status.
STATUS_PROBE = HealthProbe(path=RPC + "/status", identity=_network, label="/status", missing="a chain id",
                           kind="chain")


@dataclass(frozen=True)
class NodeStatus:
    chain_id: str
    height: int
    time: str
    version: str


@dataclass(frozen=True)
class BroadcastResult:
    code: int
    txhash: str
    raw_log: str
    codespace: str


class ChainClient:
    def __init__(self, nodes: list[str] | tuple[str, ...], chain_id: str | None = None, *,
                 timeout: float = ATTEMPT_TIMEOUT, deadline: float = DEFAULT_DEADLINE,
                 transport: httpx.AsyncBaseTransport | None = None, cache_ttl: float = 2.0,
                 max_backoff: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = asyncio.sleep, unreachable_hint: str = "") -> None:
        if not nodes:
            raise InputError("no node to talk to: give --node URL or a network profile with nodes")
        self.pool = NodePool(nodes, STATUS_PROBE, chain_id, timeout=timeout, deadline=deadline, transport=transport,
                             cache_ttl=cache_ttl, max_backoff=max_backoff, clock=clock, sleep=sleep,
                             unreachable_hint=unreachable_hint)

    # ----- the pool's, for the client's users -----

    @property
    def nodes(self) -> list[Node]:
        return self.pool.nodes

    @property
    def deadline(self) -> float:
        """Seconds one request may take, retries and fail-over included."""
        return self.pool.deadline

    async def request(self, method: str, path: str, **kw) -> tuple[int, Any]:
        return await self.pool.request(method, path, **kw)

    def invalidate(self) -> None:
        self.pool.invalidate()

    def retry_now(self) -> None:
        self.pool.retry_now()

    async def check_health(self) -> list[tuple[str, str]]:
        return await self.pool.check_health()

    async def aclose(self) -> None:
        await self.pool.aclose()

    async def __aenter__(self) -> "ChainClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    # ----- the chain's API -----

    async def _api_get(self, path: str, params: dict | None = None, *, cache: bool = True,
                       missing_ok: bool = False) -> Any:
        status, data = await self.request("GET", API + path, params=params, cache=cache)
        if status == 404 and missing_ok:
            return None
        if status >= 400:
            raise ChainError(f"the node refused {path}: {_message(data, status)}")
        return data

    async def _rpc(self, method: str, params: dict | None = None, *, cache: bool = False) -> Any:
        status, data = await self.request("POST", RPC + "/", json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                                   "params": params or {}}, cache=cache)
        if not isinstance(data, dict) or "result" not in data:
            error = data.get("error") if isinstance(data, dict) else None
            raise ChainError(f"RPC {method} failed: {_message(error, status)}")
        return data["result"]

    # ----- queries -----

    async def status(self) -> NodeStatus:
        result = await self._rpc("status", cache=True)
        try:
            info, sync = result["node_info"], result["sync_info"]
            return NodeStatus(str(info["network"]), int(sync["latest_block_height"]),
                              str(sync.get("latest_block_time", "")), str(info.get("version", "")))
        except (KeyError, TypeError, ValueError):
            raise ChainError("the node sent a malformed status") from None

    async def chain_id(self) -> str:
        if self.pool.identity is None:
            actual = (await self.status()).chain_id
            if self.pool.expected and actual != self.pool.expected:
                raise ChainError(f"the node is on chain '{actual}', not '{self.pool.expected}'")
            self.pool.identity = actual
        return self.pool.identity

    async def account(self, address: str) -> Account | None:
        data = await self._api_get(f"/cosmos/auth/v1beta1/accounts/{address}", cache=False, missing_ok=True)
        return None if data is None else parse_account(data)

    async def balances(self, address: str) -> Balances:
        total, spendable, rewards = await asyncio.gather(
            self._api_get(f"/cosmos/bank/v1beta1/balances/{address}"),
            self._api_get(f"/cosmos/bank/v1beta1/spendable_balances/{address}"),
            self._reward_vesting(address),
        )
        coins = parse_coins(total)
        return Balances(address, sum(a for d, a in coins if d == BASE_DENOM),
                        sum(a for d, a in parse_coins(spendable) if d == BASE_DENOM), rewards, coins)

    async def total_balance(self, address: str) -> int:
        """Bank balance in ngonka (one request: for cheap scans on rate-limited nodes)."""
        data = await self._api_get(f"/cosmos/bank/v1beta1/balances/{address}")
        return sum(a for d, a in parse_coins(data) if d == BASE_DENOM)

    async def _reward_vesting(self, address: str) -> int | None:
        try:
            data = await self._api_get(f"/productscience/inference/streamvesting/total_vesting/{address}",
                                       missing_ok=True)
        except ChainError:
            return None
        if not isinstance(data, dict):
            return None
        return coins_amount(data.get("total_amount"))

    async def min_gas_price(self) -> Decimal:
        """The chain's minimum gas price in ngonka/gas (inference params' fee_params); 0 if it has none."""
        data = await self._api_get(PARAMS_PATH, missing_ok=True)
        try:
            value = (data or {}).get("params", {}).get("fee_params", {}).get("min_gas_price_ngonka", "0")
            price = Decimal(str(value or "0"))
        except (AttributeError, InvalidOperation):
            raise ChainError("the node sent malformed fee parameters") from None
        if price < 0:
            raise ChainError("the node sent a negative minimum gas price")
        return price

    # ----- Proof-of-Compute -----

    async def epoch_latest(self) -> EpochInfo:
        """`/v1/epochs/latest` (the node API): the epoch, its phase and stage heights."""
        status, data = await self.request("GET", "/v1/epochs/latest")
        if status >= 400:
            raise ChainError(f"the node refused /v1/epochs/latest: {_message(data, status)}")
        return EpochInfo.parse(data)

    async def poc_params(self) -> PocChainParams:
        return PocChainParams.parse(await self._api_get(PARAMS_PATH))

    async def block_hash(self, height: int) -> str:
        """The CometBFT hash of block `height` as the chain prints it (uppercase hex): a PoC round's seed."""
        result = await self._rpc("block", {"height": str(height)}, cache=True)
        try:
            value = result["block_id"]["hash"]
        except (KeyError, TypeError):
            raise ChainError(f"the node sent a malformed block {height}") from None
        if not isinstance(value, str) or len(value) != 64 or not all(c in "0123456789ABCDEFabcdef" for c in value):
            raise ChainError(f"the node sent a malformed hash for block {height}")
        return value.upper()

    async def current_participants(self) -> list[dict]:
        """`/v1/epochs/current/participants`: the active participants with their weights."""
        status, data = await self.request("GET", "/v1/epochs/current/participants")
        if status >= 400:
            raise ChainError(f"the node refused /v1/epochs/current/participants: {_message(data, status)}")
        try:
            found = data["active_participants"]["participants"]
        except (KeyError, TypeError):
            raise ChainError("the node sent malformed participants") from None
        return [p for p in found if isinstance(p, dict)] if isinstance(found, list) else []

    async def participant(self, address: str) -> dict | None:
        data = await self._api_get(f"/productscience/inference/inference/participant/{address}", cache=False,
                                   missing_ok=True)
        return data.get("participant") if isinstance(data, dict) else None

    async def epoch_summary(self, epoch: int, address: str) -> dict | None:
        """The participant's `epoch_performance_summary` for `epoch` (earned and rewarded coins, claimed)."""
        data = await self._api_get(f"/productscience/inference/inference/epoch_performance_summary/{epoch}/{address}",
                                   cache=False, missing_ok=True)
        summary = data.get("epochPerformanceSummary") if isinstance(data, dict) else None
        return summary if isinstance(summary, dict) else None

    async def simulate(self, tx_bytes: bytes) -> int:
        status, data = await self.request("POST", API + "/cosmos/tx/v1beta1/simulate",
                                          json={"tx_bytes": base64.b64encode(tx_bytes).decode()})
        if status >= 400:
            raise SimulationFailed(_message(data, status))
        try:
            return int(data["gas_info"]["gas_used"])
        except (KeyError, TypeError, ValueError):
            raise ChainError("the node sent a malformed simulation result") from None

    async def broadcast(self, tx_bytes: bytes) -> BroadcastResult:
        self.invalidate()
        status, data = await self.request("POST", API + "/cosmos/tx/v1beta1/txs",
                                          json={"tx_bytes": base64.b64encode(tx_bytes).decode(),
                                                "mode": "BROADCAST_MODE_SYNC"})
        if status >= 400:
            raise ChainError(f"broadcast failed: {_message(data, status)}")
        try:
            r = data["tx_response"]
            return BroadcastResult(int(r.get("code") or 0), str(r["txhash"]).upper(), str(r.get("raw_log") or ""),
                                   str(r.get("codespace") or ""))
        except (KeyError, TypeError, ValueError):
            raise ChainError("the node sent a malformed broadcast reply") from None

    async def get_tx(self, txhash: str) -> TxRecord | None:
        status, data = await self.request("GET", f"{API}/cosmos/tx/v1beta1/txs/{txhash.upper()}")
        if status in (404, 400) and "not found" in _message(data, status).lower():
            return None
        if status >= 400:
            raise ChainError(f"could not look up {txhash}: {_message(data, status)}")
        return parse_tx_response(data.get("tx_response") if isinstance(data, dict) else None)

    async def search(self, query: str, *, page: int = 1, limit: int = 20, newest_first: bool = True
                     ) -> tuple[list[TxRecord], int]:
        params = {"query": query, "page": str(page), "limit": str(limit),
                  "order_by": "ORDER_BY_DESC" if newest_first else "ORDER_BY_ASC"}
        data = await self._api_get("/cosmos/tx/v1beta1/txs", params, cache=True)
        responses = data.get("tx_responses") or [] if isinstance(data, dict) else []
        total = int((data or {}).get("total") or len(responses))
        return [parse_tx_response(r) for r in responses], total

    async def history(self, address: str, *, page: int = 1, limit: int = 20) -> tuple[list[TxRecord], bool]:
        """Sent and received transactions, merged newest first; (page, whether more exist)."""
        want = page * limit
        (sent, n_sent), (received, n_received) = await asyncio.gather(
            self.search(f"message.sender='{address}'", limit=want),
            self.search(f"transfer.recipient='{address}'", limit=want),
        )
        merged: dict[str, TxRecord] = {}
        for rec in [*sent, *received]:
            merged.setdefault(rec.hash, rec)
        ordered = sorted(merged.values(), key=lambda r: (r.height, r.hash), reverse=True)
        chunk = ordered[(page - 1) * limit: want]
        return chunk, len(ordered) > want or n_sent > want or n_received > want


def _message(data: Any, status: int) -> str:
    if isinstance(data, dict):
        for key in ("message", "error", "log", "data"):
            if isinstance(data.get(key), str) and data[key]:
                return data[key]
            if isinstance(data.get(key), dict):
                return _message(data[key], status)
    return f"HTTP {status}"
