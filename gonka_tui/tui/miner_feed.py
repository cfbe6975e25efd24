"""The miner agents the app watches: this home's (MinerFeed) and other rigs' (RigFeed), each read once a
second over the agent's HTTP API, and what the app knows of each (AgentLink).

Nothing running costs little: each read of MinerFeed first looks for `<home>/miner/agent.json` (one
stat when it is missing) and asks nothing over HTTP; the read after a lost one waits longer, up to
MAX_BACKOFF seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from gonka_tui.core.errors import ChainError
from gonka_tui.miner.agent_client import AgentAddress, AgentClient, AgentUnreachable, find_local_agent
from gonka_tui.miner.status import AgentStatus
from gonka_tui.tui.feeds import Feed

INTERVAL = 2.0  # a live view at 0.5 Hz: every status repaints the screen (~2 % of a core per Hz)
MAX_BACKOFF = 5.0
CONNECTIONS = ("connecting", "online", "offline", "none")


class NoAgent(AgentUnreachable):
    """No agent runs for this home (no agent.json, or its process is gone)."""

    def __init__(self) -> None:
        super().__init__("no miner agent is running for this home")


@dataclass(frozen=True)
class AgentLink:
    """One agent as the app knows it: its last status (kept while it does not answer) and whether it
    answers now: "connecting" (not read yet), "online", "offline" (it stopped answering or refused),
    "none" (no agent runs for this home)."""

    status: AgentStatus | None = None
    connection: str = "connecting"
    problem: str = ""  # why it is offline, one line
    since: float | None = None  # wall-clock time of the first lost read in a row
    url: str = ""  # where it was last asked

    def updated(self, status: AgentStatus, url: str = "") -> "AgentLink":
        return AgentLink(status, "online", url=url or self.url)

    def lost(self, error: BaseException, now: float) -> "AgentLink":
        connection = "none" if isinstance(error, NoAgent) else "offline"
        since = self.since if self.since is not None and self.connection in ("offline", "none") else now
        problem = str(error)
        if isinstance(error, AgentUnreachable) and not isinstance(error, NoAgent):
            # Its detail (the pool's fail-over report) says no more to someone watching a rig.
            problem = f"the miner agent at {self.url} does not answer" if self.url else "the miner agent does not answer"
        return AgentLink(self.status, connection, problem, since, self.url)


class _AgentFeed(Feed[AgentStatus]):
    """Reads one agent's status; keeps one client (one connection) while the address stays the same."""

    DISCONNECTS = (ChainError,)  # unreachable, a refused token, a status this version cannot read

    def __init__(self, transport=None) -> None:
        super().__init__(INTERVAL, MAX_BACKOFF)
        self.transport = transport  # tests: an httpx.MockTransport
        self._client: AgentClient | None = None
        self._old: list[AgentClient] = []  # replaced clients, closed by aclose

    @property
    def address(self) -> AgentAddress | None:
        return self._client.address if self._client is not None else None

    def _client_for(self, address: AgentAddress) -> AgentClient:
        if self._client is None or self._client.address != address:
            if self._client is not None:
                self._old.append(self._client)
            self._client = AgentClient(address, transport=self.transport)
        return self._client

    def _current(self) -> AgentClient:
        raise NotImplementedError

    async def read(self, user_initiated: bool) -> AsyncIterator[AgentStatus]:
        client = self._current()
        client.pool.retry_now()  # a local agent can be back within a second
        await self._close_old()
        yield await client.status()

    async def control(self, action: str) -> None:
        """pause, resume or stop; then read at once so the screen shows what it did."""
        await self._current().control(action)
        self.refresh()

    async def _close_old(self) -> None:
        old, self._old = self._old, []
        for client in old:
            await client.aclose()

    async def aclose(self) -> None:
        self.stop()
        await self._close_old()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class MinerFeed(_AgentFeed):
    """This home's agent, found anew each read (it may start or stop at any time)."""

    NAME = "miner"
    GROUP = "miner-feed"
    replay = False  # a recording played back (ReplayFeed), not a live agent

    class Updated(Feed.Updated):
        snapshot: AgentStatus

    class Disconnected(Feed.Disconnected):
        pass

    def __init__(self, data_dir: Path, transport=None) -> None:
        super().__init__(transport)
        self.data_dir = Path(data_dir)

    def _current(self) -> AgentClient:
        address = find_local_agent(self.data_dir)
        if address is None:
            if self._client is not None:
                self._old.append(self._client)
                self._client = None
            raise NoAgent()
        return self._client_for(address)


class RigFeed(_AgentFeed):
    """One added rig's agent, by URL and token. Its messages carry the rig's name."""

    NAME = "rigs"
    GROUP = "rig-feed"

    class Updated(Feed.Updated):
        snapshot: AgentStatus
        rig: str = ""

    class Disconnected(Feed.Disconnected):
        rig: str = ""

    def __init__(self, rig: str, address: AgentAddress, transport=None) -> None:
        super().__init__(transport)
        self.rig = rig
        self.GROUP = f"rig-feed:{rig}"  # each rig's reads are exclusive of its own only
        self.target = address  # the rig's URL and token

    def _current(self) -> AgentClient:
        return self._client_for(self.target)

    def _post(self, message) -> None:
        message.rig = self.rig
        super()._post(message)


class ReplayEnded(AgentUnreachable):
    """The recording played to its end (shown as the view's disconnected state)."""


class ReplayFeed(MinerFeed):
    """`gonka miner replay`: a recording instead of a live agent, in the Miner screen. Its messages are
    MinerFeed's, so the app and the screen treat it as this home's agent; pause and resume hold and go on
    with the playback."""

    def __init__(self, data_dir: Path, *, since: float | None = None, speed: float = 1.0) -> None:
        super().__init__(data_dir)
        self.interval = self.max_backoff = 1e9  # one playback: the end is not read again
        self.since, self.speed = since, speed
        self._playing = None  # asyncio.Event, made in the app's loop
        self.replay = True
        self.label = f"replay ×{speed:g}"

    def _current(self) -> AgentClient:
        raise ReplayEnded("a replay has no agent to control")

    async def read(self, user_initiated: bool) -> AsyncIterator[AgentStatus]:
        import asyncio

        from gonka_tui.miner.records import Recorder
        from gonka_tui.miner.replay import statuses

        if self._playing is None:
            self._playing = asyncio.Event()
            self._playing.set()
        records = Recorder(self.data_dir)
        last = None
        try:
            async for when, status in statuses(records, since=self.since, speed=self.speed):
                await self._playing.wait()
                last = when
                yield status
        finally:
            records.close()
        import time as _time

        at = _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(last)) if last is not None else None
        raise ReplayEnded(f"the recording ends here ({at})" if at else "nothing was recorded in this home yet")

    async def control(self, action: str) -> None:
        if self._playing is None:
            return
        if action == "pause":
            self._playing.clear()
        elif action == "resume":
            self._playing.set()
        else:
            from gonka_tui.core.errors import GonkaError

            raise GonkaError("this is a replay: it cannot stop an agent")
