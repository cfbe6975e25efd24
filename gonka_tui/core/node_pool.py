"""A pool of HTTP nodes that serve the same thing (a chain, a broker, an agent's API), with fail-over.

A node that does not answer, answers 5xx or sends something that is not JSON is put on cooldown
and the next one is asked; a 429 backs the node off, honouring Retry-After (at least a second).
Every request has a total deadline across retries and fail-over, and every HTTP exchange its own
wall-clock limit, so a node that trickles its reply is cut off. With a `HealthProbe`, a node serves
only once its probe showed the expected identity (or, without one, the identity of the first node
that answered); the nodes are probed together and the first to pass serves. Reads can be cached
for a couple of seconds. The pool knows nothing of what it serves: the probe says what to ask.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx

from gonka_tui import __version__
from gonka_tui.core.errors import NodeUnreachable

RATE_LIMITED = "rate limited (429)"
DEFAULT_DEADLINE = 30.0  # seconds one request may take in all, retries and fail-over included
ATTEMPT_TIMEOUT = 10.0  # one HTTP exchange with one node; a slower node is left for the next one
MIN_RETRY_AFTER = 1.0  # a 429's "Retry-After: 0" still waits this long: no busy loop
MAX_ATTEMPTS = 10  # HTTP exchanges one request may make
OFF = float("inf")  # the cooldown of a node with the wrong identity: never asked again


@dataclass(frozen=True)
class HealthProbe:
    """How a node proves what it serves before it is used: `path` is asked with GET, and `identity`
    reads from the JSON answer which network the node is on (a chain id, say); it raises KeyError,
    TypeError or ValueError when the answer has none. `label` and `missing` name the request and
    the identity in messages, `kind` what an identity is ("on chain 'x'")."""
    path: str
    identity: Callable[[Any], str]
    label: str
    missing: str
    kind: str


@dataclass
class Node:
    url: str
    verified: bool = False  # its probe showed the right identity (or there is nothing to check)
    cooldown_until: float = 0.0  # OFF: the wrong identity, never asked again
    failures: int = 0
    problem: str = ""
    latency: float | None = None
    probe: asyncio.Task | None = field(default=None, repr=False)


@dataclass
class _CacheEntry:
    expires: float
    status: int
    data: Any = field(repr=False)


class _TooSlow(httpx.TimeoutException):
    """Our wall-clock limit on one exchange ran out (not one of httpx's per-read timeouts)."""


class NodePool:
    def __init__(self, urls: list[str] | tuple[str, ...], probe: HealthProbe | None = None,
                 expected: str | None = None, *, timeout: float = ATTEMPT_TIMEOUT,
                 deadline: float = DEFAULT_DEADLINE, transport: httpx.AsyncBaseTransport | None = None,
                 cache_ttl: float = 2.0, max_backoff: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = asyncio.sleep, unreachable_hint: str = "",
                 headers: dict[str, str] | None = None) -> None:
        # A lone node with no identity to check is simply believed (--node, the devnet profile);
        # otherwise every node proves its identity before it is used.
        trusted = probe is None or (len(urls) == 1 and expected is None)
        self.nodes = [Node(u.rstrip("/"), verified=trusted) for u in urls]
        self.probe = probe
        self.expected = expected
        self.identity: str | None = None  # the identity learned from the first node that passed
        self._timeout = timeout
        self.deadline = deadline
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport,
                                       headers={"User-Agent": f"gonka/{__version__}", **(headers or {})})
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

    async def __aenter__(self) -> "NodePool":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    # ----- fail-over -----

    def _backoff(self, node: Node, seconds: float | None = None, floor: float = 0.0) -> None:
        node.failures += 1
        delay = seconds if seconds is not None else min(self._max_backoff, 0.5 * 2 ** (node.failures - 1))
        node.cooldown_until = self._clock() + max(floor, delay)

    def _fail(self, node: Node, problem: str, problems: dict[str, str], failed: set[str]) -> None:
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
            if node.cooldown_until == OFF:
                problems[node.url] = node.problem
            elif node.probe is not None and self.probe is not None:
                problems[node.url] = f"no answer to {self.probe.label} in time"
        if self.probe is not None and all(n.cooldown_until == OFF for n in self.nodes):
            why, suffix = f"no node is on {self.probe.kind} '{self.expected or self.identity}'", ""
        detail = "; ".join(f"{url}: {p}" for url, p in problems.items()) or "no usable node"
        return NodeUnreachable(f"{why} ({detail}){suffix or ''}", hint=self._hint if suffix is None else "")

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
            pool = [n for n in self.nodes if n.url not in failed and n.cooldown_until != OFF]
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
                self._backoff(node, retry_after(resp), floor=MIN_RETRY_AFTER)
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
        can be back in a second); rate-limit cool-downs (429) and wrong-identity nodes are kept."""
        for node in self.nodes:
            if node.cooldown_until == OFF or node.problem == RATE_LIMITED:
                continue
            node.cooldown_until = 0.0
            node.failures = 0

    # ----- health -----

    def _start_probes(self, nodes: list[Node]) -> list[asyncio.Task]:
        """The running probes of `nodes` (one per node, shared by concurrent requests)."""
        for node in nodes:
            if node.probe is None:
                node.probe = asyncio.ensure_future(self._probe(node))
        return [n.probe for n in nodes if n.probe is not None]

    async def _probe(self, node: Node) -> Node:
        probe = self.probe
        assert probe is not None  # without a probe every node is verified from the start
        started = self._clock()
        try:
            resp = await self._exchange("GET", node.url + probe.path, self._clock() + self._timeout)
        except httpx.RequestError as exc:
            node.problem = _transport_problem(exc)
            self._backoff(node)
            return node
        finally:
            node.probe = None
        if resp.status_code == 429:
            node.problem = RATE_LIMITED
            self._backoff(node, retry_after(resp), floor=MIN_RETRY_AFTER)
            return node
        try:
            identity = probe.identity(resp.json())
            if not isinstance(identity, str) or not identity:
                raise TypeError
        except (ValueError, RecursionError, KeyError, TypeError):
            node.problem = f"{probe.label} answered {resp.status_code} without {probe.missing}"
            self._backoff(node)
            return node
        wanted = self.expected or self.identity
        if wanted and identity != wanted:
            whose = "the profile's" if self.expected else "the other nodes'"
            node.problem = f"on {probe.kind} '{identity}', not {whose} '{wanted}'"
            node.cooldown_until = OFF
            return node
        self.identity = identity
        node.verified, node.latency, node.problem, node.failures = True, self._clock() - started, "", 0
        return node

    async def check_health(self) -> list[tuple[str, str]]:
        """Probe every node at once (each within the attempt timeout); order the healthy ones by
        latency. Returns (url, problem|'ok')."""
        if self.probe is not None:
            probes = self._start_probes([n for n in self.nodes if n.cooldown_until != OFF])
            if probes:
                await asyncio.wait(probes)
        self.nodes.sort(key=lambda n: (not n.verified, bool(n.problem), n.latency if n.latency is not None else 1e9))
        return [(n.url, n.problem or "ok") for n in self.nodes]


def _transport_problem(exc: httpx.RequestError) -> str:
    if isinstance(exc, _TooSlow):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.TransportError):
        return f"cannot connect ({type(exc).__name__})"
    return f"sent a broken reply ({type(exc).__name__})"


def retry_after(resp: httpx.Response) -> float | None:
    """Retry-After in seconds, when given as a number (an HTTP date is left to the back-off)."""
    retry = resp.headers.get("Retry-After", "").strip()
    return float(retry) if retry.replace(".", "", 1).isdigit() else None
