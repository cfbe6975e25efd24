"""An async client for Gonka nodes: Cosmos REST (/chain-api) and CometBFT RPC (/chain-rpc).

Several nodes with fail-over: a node that does not answer, answers 5xx or sends something
that is not JSON is put on cooldown and the next one is asked; a 429 (public nodes allow
about 20 requests a minute) backs off per node, honouring Retry-After (at least a second).
Every request has a total deadline across retries and fail-over, and every HTTP exchange its
own wall-clock limit, so a node that trickles its reply is cut off. Before a node of a
profile is used, its /status must show the profile's chain id (or, without one, the chain
of the first node that answered); the nodes are probed together and the first to pass
serves. Reads are cached for a couple of seconds; a broadcast empties the cache.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import httpx

from gonka_tui import __version__
from gonka_tui.core.accounts import Account, Balances, coins_amount, parse_account, parse_coins
from gonka_tui.core.errors import GonkaError, InputError
from gonka_tui.core.txrecords import TxRecord, parse_tx_response
from gonka_tui.core.units import BASE_DENOM

API = "/chain-api"
RPC = "/chain-rpc"
PARAMS_PATH = "/productscience/inference/inference/params"
RATE_LIMITED = "rate limited (429)"
DEFAULT_DEADLINE = 30.0  # seconds one request may take in all, retries and fail-over included
ATTEMPT_TIMEOUT = 10.0  # one HTTP exchange with one node; a slower node is left for the next one
MIN_RETRY_AFTER = 1.0  # a 429's "Retry-After: 0" still waits this long: no busy loop
MAX_ATTEMPTS = 10  # HTTP exchanges one request may make


class ChainError(GonkaError):
    """The network could not answer or refused what we asked."""


class NodeUnreachable(ChainError):
    pass


class SimulationFailed(ChainError):
    """The node's simulation refused the transaction; `log` is the node's reason."""

    def __init__(self, log: str) -> None:
        self.log = log
        super().__init__(f"gas estimation failed: {log}")


class _TooSlow(httpx.TimeoutException):
    """Our wall-clock limit on one exchange ran out (not one of httpx's per-read timeouts)."""


class TxRejected(ChainError):
    def __init__(self, code: int, log: str, txhash: str = "", codespace: str = "sdk") -> None:
        self.code, self.log, self.txhash, self.codespace = code, log, txhash, codespace
        super().__init__(f"the network refused the transaction (code {code}): {log}{_hint(code)}")


_HINTS = {
    4: " — the signature did not verify: the account number, sequence or chain id differ from the network's",
    5: " — not enough spendable funds for the amount and the fee",
    11: " — out of gas: raise --gas or use --gas auto",
    13: " — the fee is below the network's minimum: raise --fees or leave it out to compute it",
    19: " — the same transaction is already waiting in the mempool",
    32: " — another transaction from this account got in first; try again",
}


def _hint(code: int) -> str:
    return _HINTS.get(code, "")


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


@dataclass
class _Node:
    url: str
    verified: bool = False  # its /status showed the right chain (or there is nothing to check)
    cooldown_until: float = 0.0  # inf: on another chain, never asked again
    failures: int = 0
    problem: str = ""
    latency: float | None = None
    probe: asyncio.Task | None = field(default=None, repr=False)


@dataclass
class _CacheEntry:
    expires: float
    status: int
    data: Any = field(repr=False)


class ChainClient:
    def __init__(self, nodes: list[str] | tuple[str, ...], chain_id: str | None = None, *,
                 timeout: float = ATTEMPT_TIMEOUT, deadline: float = DEFAULT_DEADLINE,
                 transport: httpx.AsyncBaseTransport | None = None, cache_ttl: float = 2.0,
                 max_backoff: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = asyncio.sleep, unreachable_hint: str = "") -> None:
        if not nodes:
            raise InputError("no node to talk to: give --node URL or a network profile with nodes")
        # A lone node with no chain id to check is simply believed (--node, the devnet profile);
        # otherwise every node proves its chain before it is used.
        trusted = len(nodes) == 1 and chain_id is None
        self.nodes = [_Node(n.rstrip("/"), verified=trusted) for n in nodes]
        self.expected_chain_id = chain_id
        self._chain_id: str | None = None
        self._timeout = timeout
        self.deadline = deadline  # seconds one request may take, retries and fail-over included
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport,
                                       headers={"User-Agent": f"gonka/{__version__}"})
        self._cache: dict[tuple, _CacheEntry] = {}
        self._cache_ttl = cache_ttl
        self._max_backoff = max_backoff
        self._clock = clock
        self._sleep = sleep
        self._hint = unreachable_hint

    async def aclose(self) -> None:
        probes = [n.probe for n in self.nodes if n.probe is not None]
        for task in probes:
            task.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
        await self._http.aclose()

    async def __aenter__(self) -> "ChainClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    # ----- transport with fail-over -----

    def _backoff(self, node: _Node, seconds: float | None = None, floor: float = 0.0) -> None:
        node.failures += 1
        delay = seconds if seconds is not None else min(self._max_backoff, 0.5 * 2 ** (node.failures - 1))
        node.cooldown_until = self._clock() + max(floor, delay)

    def _fail(self, node: _Node, problem: str, problems: dict[str, str], failed: set[str]) -> None:
        problems[node.url] = node.problem = problem
        failed.add(node.url)
        self._backoff(node)

    async def _exchange(self, method: str, url: str, deadline: float, **kw) -> httpx.Response:
        """One HTTP exchange, whole reply read, within the attempt timeout and the request's deadline
        (httpx's own timeouts are per read: a byte every few seconds would never trip them)."""
        limit = max(0.0, min(self._timeout, deadline - self._clock()))
        try:
            async with asyncio.timeout(limit):
                return await self._http.request(method, url, **kw)
        except TimeoutError:
            raise _TooSlow(f"timed out: no complete answer within {limit:.1f} s") from None

    def _unreachable(self, why: str, problems: dict[str, str], suffix: str | None = None) -> NodeUnreachable:
        for node in self.nodes:  # what earlier requests learned, and probes still under way
            if node.url in problems:
                continue
            if node.cooldown_until == float("inf"):
                problems[node.url] = node.problem
            elif node.probe is not None:
                problems[node.url] = "no answer to /status in time"
        if all(n.cooldown_until == float("inf") for n in self.nodes):
            why, suffix = f"no node is on chain '{self.expected_chain_id or self._chain_id}'", ""
        detail = "; ".join(f"{url}: {p}" for url, p in problems.items()) or "no usable node"
        return NodeUnreachable(f"{why} ({detail}){self._hint if suffix is None else suffix}")

    async def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                      cache: bool = False) -> tuple[int, Any]:
        """(HTTP status, JSON) from the first node that answers; 4xx answers are returned, not failed over."""
        key = (method, path, tuple(sorted((params or {}).items())))
        now = self._clock()
        if cache and key in self._cache and self._cache[key].expires > now:
            entry = self._cache[key]
            return entry.status, entry.data
        problems: dict[str, str] = {}
        failed: set[str] = set()  # nodes that failed hard in this call are not asked again
        deadline = now + self.deadline
        attempts = 0
        while True:
            now = self._clock()
            pool = [n for n in self.nodes if n.url not in failed and n.cooldown_until != float("inf")]
            if not pool:
                raise self._unreachable("no node answered", problems)
            if now >= deadline:
                raise self._unreachable(f"no node answered within {self.deadline:g} s", problems)
            if attempts >= MAX_ATTEMPTS:
                raise self._unreachable(f"no node answered in {attempts} tries", problems)
            ready = [n for n in pool if n.verified and n.cooldown_until <= now]
            if not ready:
                probes = self._start_probes([n for n in pool if not n.verified and n.cooldown_until <= now])
                if probes:
                    done, _ = await asyncio.wait(probes, timeout=deadline - now, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        node = task.result()
                        if not node.verified:
                            problems[node.url] = node.problem
                            failed.add(node.url)
                    continue
                soonest = min(n.cooldown_until for n in pool)
                if soonest >= deadline:
                    raise self._unreachable(f"no node answered within {self.deadline:g} s", problems,
                                            f"; try again in {math.ceil(soonest - now)} s")
                await self._sleep(soonest - now)
                continue
            node = ready[0]
            attempts += 1
            started = self._clock()
            try:
                resp = await self._exchange(method, node.url + path, deadline, params=params, json=json)
            except httpx.RequestError as exc:
                self._fail(node, _transport_problem(exc), problems, failed)
                continue
            if resp.status_code == 429:  # back off this node, then ask it again (others meanwhile)
                problems[node.url] = node.problem = RATE_LIMITED
                self._backoff(node, _retry_after(resp), floor=MIN_RETRY_AFTER)
                continue
            if resp.status_code >= 500 and resp.status_code != 501:
                self._fail(node, f"server error {resp.status_code}", problems, failed)
                continue
            try:
                data = resp.json()
            except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python recurses
                self._fail(node, f"answered {resp.status_code} without JSON", problems, failed)
                continue
            node.failures, node.problem, node.latency = 0, "", self._clock() - started
            # Stay with the node that answered; the others remain as fall-backs.
            self.nodes.remove(node)
            self.nodes.insert(0, node)
            if cache:
                self._cache[key] = _CacheEntry(self._clock() + self._cache_ttl, resp.status_code, data)
            return resp.status_code, data

    def invalidate(self) -> None:
        self._cache.clear()

    def retry_now(self) -> None:
        """Forget the back-off of nodes that failed, for a request the user asked for (a local node
        can be back in a second); rate-limit cool-downs (429) and wrong-chain nodes are kept."""
        for node in self.nodes:
            if node.cooldown_until == float("inf") or node.problem == RATE_LIMITED:
                continue
            node.cooldown_until = 0.0
            node.failures = 0

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

    # ----- health -----

    def _start_probes(self, nodes: list[_Node]) -> list[asyncio.Task]:
        """The running /status probes of `nodes` (one per node, shared by concurrent requests)."""
        for node in nodes:
            if node.probe is None:
                node.probe = asyncio.ensure_future(self._probe(node))
        return [n.probe for n in nodes if n.probe is not None]

    async def _probe(self, node: _Node) -> _Node:
        started = self._clock()
        try:
            resp = await self._exchange("GET", node.url + RPC + "/status", self._clock() + self._timeout)
        except httpx.RequestError as exc:
            node.problem = _transport_problem(exc)
            self._backoff(node)
            return node
        finally:
            node.probe = None
        if resp.status_code == 429:
            node.problem = RATE_LIMITED
            self._backoff(node, _retry_after(resp), floor=MIN_RETRY_AFTER)
            return node
        try:
            network = resp.json()["result"]["node_info"]["network"]
            if not isinstance(network, str) or not network:
                raise TypeError
        except (ValueError, RecursionError, KeyError, TypeError):
            node.problem = f"/status answered {resp.status_code} without a chain id"
            self._backoff(node)
            return node
        wanted = self.expected_chain_id or self._chain_id
        if wanted and network != wanted:
            whose = "the profile's" if self.expected_chain_id else "the other nodes'"
            node.problem = f"on chain '{network}', not {whose} '{wanted}'"
            node.cooldown_until = float("inf")
            return node
        self._chain_id = network
        node.verified, node.latency, node.problem, node.failures = True, self._clock() - started, "", 0
        return node

    async def check_health(self) -> list[tuple[str, str]]:
        """Ask every node for its status at once (each within the attempt timeout); order the healthy
        ones by latency. Returns (url, problem|'ok')."""
        probes = self._start_probes([n for n in self.nodes if n.cooldown_until != float("inf")])
        if probes:
            await asyncio.wait(probes)
        self.nodes.sort(key=lambda n: (not n.verified, bool(n.problem), n.latency if n.latency is not None else 1e9))
        return [(n.url, n.problem or "ok") for n in self.nodes]

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
        if self._chain_id is None:
            actual = (await self.status()).chain_id
            if self.expected_chain_id and actual != self.expected_chain_id:
                raise ChainError(f"the node is on chain '{actual}', not '{self.expected_chain_id}'")
            self._chain_id = actual
        return self._chain_id

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


def _transport_problem(exc: httpx.RequestError) -> str:
    if isinstance(exc, _TooSlow):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.TransportError):
        return f"cannot connect ({type(exc).__name__})"
    return f"sent a broken reply ({type(exc).__name__})"


def _retry_after(resp: httpx.Response) -> float | None:
    """Retry-After in seconds, when given as a number (an HTTP date is left to the back-off)."""
    retry = resp.headers.get("Retry-After", "").strip()
    return float(retry) if retry.replace(".", "", 1).isdigit() else None


def _message(data: Any, status: int) -> str:
    if isinstance(data, dict):
        for key in ("message", "error", "log", "data"):
            if isinstance(data.get(key), str) and data[key]:
                return data[key]
            if isinstance(data.get(key), dict):
                return _message(data[key], status)
    return f"HTTP {status}"
