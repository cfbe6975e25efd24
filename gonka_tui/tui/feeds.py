"""Live sources of data for the app. A feed reads in a worker and posts typed messages to the app:
`Updated` with an immutable snapshot, `Disconnected` when the source is lost. The app handles them
(setting its reactives inside `batch_update`) and screens only watch those reactives.

A new source (e.g. the miner agent's status stream): subclass `Feed`, make `read` an async generator
that yields each snapshot as it comes (a poll yields one and returns; a stream yields many and raises
one of `DISCONNECTS` when it drops), start it in the app's on_mount and handle its two messages.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, AsyncIterator, Callable, ClassVar, Generic, TypeVar

from textual.message import Message

from gonka_tui.core.chain_snapshot import ChainSnapshot, read_chain
from gonka_tui.core.errors import NodeUnreachable

if TYPE_CHECKING:
    from textual.app import App
    from textual.timer import Timer
    from textual.worker import Worker

    from gonka_tui.core.chain_client import ChainClient

SnapshotT = TypeVar("SnapshotT")


class Feed(Generic[SnapshotT]):
    """Reads again `interval` seconds after a read, at once when asked (`refresh`), and after a lost
    source with a back-off that doubles up to `max_backoff`."""

    NAME: ClassVar[str]  # what screens name in GonkaScreen.FEEDS
    GROUP: ClassVar[str]  # its reads' worker group
    DISCONNECTS: ClassVar[tuple[type[BaseException], ...]] = (ConnectionError,)

    class Updated(Message):
        def __init__(self, snapshot) -> None:
            super().__init__()
            self.snapshot = snapshot

    class Disconnected(Message):
        def __init__(self, error: BaseException, user_initiated: bool = False) -> None:
            super().__init__()
            self.error, self.user_initiated = error, user_initiated

    def __init__(self, interval: float, max_backoff: float | None = None) -> None:
        self.interval = interval
        self.max_backoff = interval if max_backoff is None else max_backoff
        self.failures = 0  # reads lost in a row
        self._app: App | None = None
        self._timer: Timer | None = None
        self._worker: Worker | None = None
        self._again = False  # asked to read while a read was in progress

    def read(self, user_initiated: bool) -> AsyncIterator[SnapshotT]:
        """Yield each snapshot as it comes; raise one of DISCONNECTS when the source is lost."""
        raise NotImplementedError

    def start(self, app: "App") -> None:
        """Read once the first frame is painted, then on the schedule."""
        self._app = app
        app.call_after_refresh(self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self._app is not None:
            self._app.workers.cancel_group(self._app, self.GROUP)
        self._app = None

    def refresh(self, user_initiated: bool = False) -> "Worker | None":
        """Read now: the user asked (a read in progress is replaced), or something changed (a read in
        progress is followed by another, so that a Retry the user asked for is not cut short)."""
        if self._app is None:
            return None
        if not user_initiated and self._worker is not None and not self._worker.is_finished:
            self._again = True
            return self._worker
        return self._start(user_initiated)

    def _start(self, user_initiated: bool) -> "Worker | None":
        if self._app is None:
            return None
        if self._timer is not None:
            self._timer.stop()
        self._again = False
        # The async function, not a coroutine made now: a worker the app never starts (it is closing)
        # then leaves no coroutine behind that was never awaited.
        self._worker = self._app.run_worker(partial(self._read, user_initiated), group=self.GROUP, exclusive=True,
                                            exit_on_error=False)
        return self._worker

    async def _read(self, user_initiated: bool) -> None:
        try:
            async for snapshot in self.read(user_initiated):
                self.failures = 0
                self._post(self.Updated(snapshot))
        except self.DISCONNECTS as exc:
            self.failures += 1
            self._post(self.Disconnected(exc, user_initiated))
        except Exception:
            self._schedule()
            raise  # the app shows it (Worker.StateChanged)
        self._schedule()  # not when cancelled: what replaced this read schedules the next

    def next_delay(self) -> float:
        """Seconds to the next read: the interval, or after lost reads a back-off that doubles."""
        if not self.failures:
            return self.interval
        return min(self.interval * 2 ** (self.failures - 1), self.max_backoff)

    def _post(self, message: Message) -> None:
        if self._app is not None:
            self._app.post_message(message)

    def _schedule(self) -> None:
        if self._app is None:
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._again:
            self._app.call_later(self._tick)
        else:
            self._timer = self._app.set_timer(self.next_delay(), self._tick)

    def _tick(self) -> None:
        self._start(False)


class ChainFeed(Feed[ChainSnapshot]):
    """The node's height and the balances of the keystore's accounts, every refresh interval of the
    network (15 s on a local node, a minute on public ones)."""

    NAME = "chain"
    GROUP = "balances"
    DISCONNECTS = (NodeUnreachable,)

    class Updated(Feed.Updated):
        snapshot: ChainSnapshot

    class Disconnected(Feed.Disconnected):
        pass

    def __init__(self, interval: float, client: Callable[[bool], "ChainClient"],
                 addresses: Callable[[], list[str]]) -> None:
        super().__init__(interval)  # offline: ask again each interval, as when online
        self._client, self._addresses = client, addresses

    async def read(self, user_initiated: bool) -> AsyncIterator[ChainSnapshot]:
        yield await read_chain(self._client(user_initiated), self._addresses())
