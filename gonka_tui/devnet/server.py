"""The HTTP server: every route on one port (like a node behind its proxy), and the block timer.

`serve()` runs in the foreground (the CLI): SIGINT/SIGTERM stop it cleanly — the pending
block is committed and SQLite closed. `start_in_thread()` runs it in a background thread on
a free 127.0.0.1 port, for tests and embedding.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import broker as broker_api, inference_api, node_api, rest, rpc
from .chain import Chain
from .limits import read_body


async def rpc_post(request: Request) -> JSONResponse:
    body, status = rpc.handle_json(request.app.state.chain, await read_body(request))
    return JSONResponse(body, status_code=status)


async def rpc_get(request: Request) -> JSONResponse:
    body, status = rpc.handle_uri(request.app.state.chain, request.path_params["method"], request.query_params)
    return JSONResponse(body, status_code=status)


async def rpc_index(request: Request) -> JSONResponse:
    return JSONResponse({"jsonrpc": "2.0", "id": -1, "result": {
        "methods": sorted(rpc.METHODS),
        "usage": "POST JSON-RPC 2.0 here, or GET /chain-rpc/METHOD?param=value"}})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "height": request.app.state.chain.height})


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if request.url.path.startswith("/chain-api"):
        return rest.error(exc.status_code, 5 if exc.status_code == 404 else 3, f"{exc.detail}: {request.url.path}")
    if request.url.path.startswith("/chain-rpc"):  # JSON-RPC clients read errors as JSON-RPC error objects
        code, text = (rpc.METHOD_NOT_FOUND, "Method not found") if exc.status_code == 404 else (
            rpc.INVALID_REQUEST, "Invalid Request")
        err = rpc.RpcError(code, text, f"{exc.detail}: {request.method} {request.url.path}")
        return JSONResponse(err.body(None), status_code=exc.status_code)
    return JSONResponse({"message": f"{exc.detail}: {request.method} {request.url.path}"},
                        status_code=exc.status_code)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    request.app.state.log(f"internal error on {request.method} {request.url.path}: {type(exc).__name__}: {exc}")
    return JSONResponse({"message": "internal error", "code": 13}, status_code=500)


async def block_loop(chain: Chain, block_time: float, on_error: Callable[[BaseException], None]) -> None:
    loop = asyncio.get_running_loop()
    next_at = loop.time() + block_time
    while True:
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        try:
            chain.produce_block()
        except Exception as exc:  # a disk error: stop rather than diverge from what is stored
            on_error(exc)
            return
        next_at += block_time
        if next_at < loop.time():  # fell behind (a long block): do not burst to catch up
            next_at = loop.time() + block_time


def create_app(chain: Chain, block_time: float, *, log: Callable[[str], None] = lambda _m: None,
               on_fatal: Callable[[], None] = lambda: None, inference_backend=None, broker_keys=(),
               pricing=None) -> Starlette:
    """`inference_backend`: a TextBackend, or None for no inference; `broker_keys`: the broker's API keys;
    `pricing`: a models.Pricing (None: the devnet's default price)."""
    from .models import Catalogue, Pricing

    inference = broker = None
    if chain is not None:  # None: the route table only (tests list the routes of an app never started)
        catalogue = Catalogue(inference_backend, pricing or Pricing(), chain.node_address)
        inference = inference_api.InferenceService(chain, inference_backend, catalogue, log)
        broker = broker_api.Broker.open(Path(chain.store.path).parent, broker_keys)

    def fatal(exc: BaseException) -> None:
        log(f"block production stopped: {type(exc).__name__}: {exc}")
        on_fatal()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        task = asyncio.create_task(block_loop(chain, block_time, fatal))
        if broker.enabled:
            broker.ensure_funded(chain, log)
        if inference_backend is not None:
            try:
                await inference_backend.start()  # loads off the loop: blocks keep coming meanwhile
            except Exception as exc:  # noqa: BLE001 - the devnet serves on without inference
                log(f"the text backend did not start: {type(exc).__name__}: {exc}")
        chain.inference_models = catalogue.active_models()
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if inference_backend is not None:
                with contextlib.suppress(Exception):
                    await inference_backend.aclose()
            if chain.mempool:  # finish the pending block: accepted txs are committed, not lost
                chain.produce_block()
                log(f"committed the pending block {chain.height} before stopping")

    routes = [
        Route("/chain-rpc", rpc_post, methods=["POST"]),
        Route("/chain-rpc/", rpc_post, methods=["POST"]),
        Route("/chain-rpc/", rpc_index, methods=["GET"]),
        Route("/chain-rpc/{method}", rpc_get, methods=["GET"]),
        *rest.ROUTES,
        *inference_api.ROUTES,
        *broker_api.ROUTES,
        *node_api.ROUTES,
        Route("/health", health),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error, Exception: _internal_error})
    app.router.redirect_slashes = False
    app.state.chain = chain
    app.state.log = log
    app.state.inference = inference
    app.state.broker = broker
    return app


def _uvicorn_server(app: Starlette, sock: socket.socket | None, host: str, port: int):
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            # Stop gracefully (the lifespan commits the pending block) and return normally,
            # instead of uvicorn's re-raising the signal after shutdown.
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on",
                            http="h11", loop="asyncio", timeout_graceful_shutdown=5)
    return Server(config)


def bind(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (with proto 0 it
    # does not, and Nagle + delayed ACKs add 40 ms to every keep-alive request).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def serve(chain: Chain, sock: socket.socket, *, block_time: float, log: Callable[[str], None],
          on_listening: Callable[[str], None] = lambda _url: None, inference_backend=None, broker_keys=(),
          pricing=None) -> None:
    """Serve on `sock` (from `bind`) until SIGINT/SIGTERM; then commit the pending block and close the state."""
    host, port = sock.getsockname()[:2]
    server = None

    def stop() -> None:
        if server is not None:
            server.should_exit = True

    app = create_app(chain, block_time, log=log, on_fatal=stop, inference_backend=inference_backend,
                     broker_keys=broker_keys, pricing=pricing)
    server = _uvicorn_server(app, sock, host, port)
    chain.base_url = f"http://{host}:{port}"
    on_listening(chain.base_url)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        chain.close()


@dataclass
class RunningDevnet:
    """A devnet served from a background thread (tests, embedding)."""

    chain: Chain
    url: str
    home: Path
    _server: object = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def node_address(self) -> str:
        return self.chain.node_address

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(30)
        self.chain.close()

    def __enter__(self) -> RunningDevnet:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_in_thread(home: Path, *, block_time: float = 0.2, chain_id: str | None = None, min_gas_price=0,
                    funds=(), log: Callable[[str], None] = lambda _m: None, timeout: float = 20.0,
                    poc=None, inference_backend=None, broker_keys=(), pricing=None) -> RunningDevnet:
    """Open (or create) the devnet in `home` and serve it on a free 127.0.0.1 port until .stop().
    `poc`: the PocConfig of a new devnet (epochs, model params, rewards); None for the defaults.
    `inference_backend`: a TextBackend object (tests pass a fake), or None for no inference."""
    from fractions import Fraction

    chain, _notes = Chain.open(Path(home), chain_id=chain_id, min_gas_price=Fraction(min_gas_price),
                               funds=list(funds), log=log, poc=poc)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    chain.base_url = f"http://127.0.0.1:{port}"
    holder: dict = {}

    def stop() -> None:
        holder["server"].should_exit = True

    app = create_app(chain, block_time, log=log, on_fatal=stop, inference_backend=inference_backend,
                     broker_keys=broker_keys, pricing=pricing)
    server = _uvicorn_server(app, sock, "127.0.0.1", port)
    holder["server"] = server
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="gonka-devnet", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)  # polling the server's own "started" flag, with a deadline
    if not server.started:
        server.should_exit = True
        chain.close()
        raise RuntimeError("the devnet server did not start")
    return RunningDevnet(chain, f"http://127.0.0.1:{port}", Path(home), server, thread)
