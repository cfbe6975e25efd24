"""`gonka miner run`: one miner agent per home, with its kernels, records and HTTP API.

What it leaves under <home>/miner while it runs: `agent.lock` (held: a second agent for the same
home is refused), `token` (0600, the API's bearer token, kept across runs), `agent.json` (its URL
and pid, removed at exit), `records.sqlite`, `round.json`, `seeds.json`. The API listens on
127.0.0.1 only. SIGINT / SIGTERM stop it; the kernels end with it (the supervisor kills what is
left, and each worker exits by itself when its parent dies).
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import secrets
import signal
import socket
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from gonka_tui.core.errors import InputError
from gonka_tui.core.fileio import (PRIVATE_FILE, RefusedFile, ensure_private_dir, read_regular_file, write_atomic,
                                  write_json_atomic)
from gonka_tui.miner.agent_client import AGENT_FILE, TOKEN_FILE, agent_dir
from gonka_tui.miner.replay import agent_summary

LOCK_FILE = "agent.lock"
SAMPLE_EVERY = 5.0  # seconds between recorded samples (throughput, devices, telemetry)


@dataclass(frozen=True)
class RunOptions:
    key_name: str
    status_port: int = 26680
    device: str = "auto"  # auto: every CUDA GPU torch sees, else the CPU
    threads: int | None = None  # CPU kernel threads (default: every core)
    poll: float = 1.0
    submit_every: float = 3.0
    restart_limit: int = 5
    restart_window_minutes: int = 10
    retention_hours: int = 24


@contextmanager
def agent_lock(home: Path):
    """Hold <home>/miner/agent.lock for the agent's life: one agent per home."""
    folder = ensure_private_dir(agent_dir(home))
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE)
    try:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"a miner agent already runs for this home ({folder}); stop it first "
                             "(`gonka miner stop`), or use another --home") from None
        yield
    finally:
        os.close(fd)


def ensure_token(home: Path) -> str:
    path = agent_dir(home) / TOKEN_FILE
    try:
        token = read_regular_file(path, 4096).decode().strip()
        if len(token) >= 32:
            os.chmod(path, PRIVATE_FILE)
            return token
    except (OSError, RefusedFile, UnicodeDecodeError):
        pass
    token = secrets.token_urlsafe(32)
    write_atomic(path, token.encode() + b"\n", PRIVATE_FILE)
    return token


def bind_api(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise InputError(f"port {port} on 127.0.0.1 is taken (another agent or program): choose another with "
                             "--status-port") from None
        raise
    sock.listen(64)
    sock.setblocking(False)
    return sock


def kernel_specs(device: str, threads: int | None):
    from gonka_tui.miner.supervisor import KernelSpec
    from gonka_tui.poc.backends import cuda_available

    if device in ("auto", "cuda") and cuda_available():
        import torch

        return [KernelSpec.cuda(i) for i in range(torch.cuda.device_count())]
    if device == "cuda":
        raise InputError("--device cuda: torch sees no CUDA GPU here (install the torch extra on a GPU host)")
    from gonka_tui.poc.bench import available_cores

    return [KernelSpec("cpu", device="cpu", threads=threads or available_cores())]


def _uvicorn(app, sock: socket.socket):
    import uvicorn

    class Server(uvicorn.Server):
        @contextmanager
        def capture_signals(self):  # the agent handles SIGINT / SIGTERM itself
            yield

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", http="h11", loop="asyncio")
    return Server(config)


async def run_agent(home: Path, options: RunOptions, *, client, signer, address: str, public_key_hex: str,
                    on_listening: Callable[[str], None] = lambda _url: None,
                    on_log: Callable[[str, str], None] = lambda _level, _text: None) -> None:
    """Mine until SIGINT / SIGTERM or POST /v1/miner/stop. `client` is a ChainClient, `signer` the account's."""
    from gonka_tui.core.msg_sender import MessageSender
    from gonka_tui.miner import supervisor as sup
    from gonka_tui.miner.agent import Agent
    from gonka_tui.miner.api import create_api
    from gonka_tui.miner.records import Recorder

    with agent_lock(home):
        token = ensure_token(home)
        sock = bind_api(options.status_port)
        with closing(sock):  # closed whatever fails below, before anything was served
            specs = kernel_specs(options.device, options.threads)
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            records = Recorder(home, retention_hours=options.retention_hours)
            from gonka_tui.miner.telemetry import Telemetry

            telemetry = Telemetry()
            try:
                agent: Agent | None = None

                def on_event(event) -> None:
                    if agent is not None:
                        forward_event(agent, event)

                supervisor = sup.Supervisor(specs, on_event=on_event, restart_limit=options.restart_limit,
                                            restart_window_minutes=options.restart_window_minutes)
                agent = Agent(home=agent_dir(home), address=address, public_key_hex=public_key_hex, client=client,
                              sender=MessageSender(client, signer, address), signer=signer, supervisor=supervisor,
                              records=records, telemetry=telemetry, poll=options.poll,
                              submit_every=options.submit_every)
                await _serve(home, agent, records, create_api(agent, token), sock, url, on_listening)
            finally:
                records.close()
                telemetry.close()


async def _serve(home: Path, agent, records, app, sock: socket.socket, url: str,
                 on_listening: Callable[[str], None]) -> None:
    """The API, the sampler and agent.json around the agent's run; all of it ends with the run."""
    server = _uvicorn(app, sock)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, agent.request_stop)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    sampler = asyncio.create_task(_sample(agent, records))
    try:
        write_json_atomic(agent_dir(home) / AGENT_FILE, {"url": url, "pid": os.getpid()})
        on_listening(url)
        await agent.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        sampler.cancel()
        server.should_exit = True
        await asyncio.gather(serving, sampler, return_exceptions=True)
        try:
            (agent_dir(home) / AGENT_FILE).unlink()
        except FileNotFoundError:
            pass


def forward_event(agent, event) -> None:
    """A supervisor event to the agent: batches and rates to its books, the rest to its log."""
    from gonka_tui.miner import supervisor as sup

    if isinstance(event, sup.Batch):
        agent.on_batch(event.name, event.nonces, event.dist, event.k_end)
        agent.on_rate(event.name, agent.device_rates.get(event.name, 0.0), event.computed)
    elif isinstance(event, sup.Stats):
        agent.device_rates[event.name] = event.nonces_per_second
    elif isinstance(event, sup.KernelFailed):
        agent._log("warning", f"{event.name}: {event.reason}; restart {event.restarts} in {event.retry_in:.1f} s")
    elif isinstance(event, sup.KernelGaveUp):
        agent._log("error", f"{event.name}: given up after {event.restarts} restarts: {event.reason}")
    elif isinstance(event, sup.KernelLog):
        agent._log(event.level, f"{event.name}: {event.message}")
    elif isinstance(event, sup.KernelReady):
        agent._log("info", f"{event.name}: ready ({event.device}, {event.dtype}, {event.step} nonces per batch, "
                           f"loaded in {event.load_s:.1f} s)")


async def _sample(agent, records) -> None:
    """Every few seconds: a telemetry reading (in a thread: NVML calls may block) and a recorded sample."""
    while True:
        await asyncio.sleep(SAMPLE_EVERY)  # a cadence
        reading = await asyncio.to_thread(agent.telemetry.read) if agent.telemetry is not None else None
        status = agent.status()
        # What a replay shows again: the device rows as the status had them, and the agent's summary.
        records.sample(status.throughput.s10, [dataclasses.asdict(d) for d in status.devices],
                       {"host": reading.to_json() if reading is not None else None, "agent": agent_summary(status)})
