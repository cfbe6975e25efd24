"""Talking to a miner agent over its HTTP API: where a home's agent listens, its token, its status,
and pause / resume / stop. Used by `gonka miner status`, the Miner screen and the Rigs screen.

A home's running agent writes `<home>/miner/agent.json` ({"url", "pid"}) and keeps its bearer token in
`<home>/miner/token` (0600). Another rig is added to the app by URL and token.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from gonka_tui.core.errors import ChainError, InputError, NodeUnreachable
from gonka_tui.core.fileio import RefusedFile, read_regular_file
from gonka_tui.core.node_pool import NodePool
from gonka_tui.miner.status import AgentStatus, StatusError

AGENT_DIR = "miner"
AGENT_FILE = "agent.json"
TOKEN_FILE = "token"
DEFAULT_STATUS_PORT = 26680
STATUS_PATH = "/v1/miner/status"
CONTROLS = ("pause", "resume", "stop")


class AgentError(ChainError):
    """The agent answered, but not with what was asked (a refused token, a malformed status)."""


class AgentUnreachable(NodeUnreachable):
    """No agent answered at the address."""


@dataclass(frozen=True)
class AgentAddress:
    url: str  # http://127.0.0.1:26680
    token: str = field(repr=False)
    pid: int | None = None  # the agent process, when it is this machine's


def agent_dir(home: Path) -> Path:
    return Path(home) / AGENT_DIR


def find_local_agent(home: Path) -> AgentAddress | None:
    """The agent that runs for `home`, if its files are there and its process is alive."""
    folder = agent_dir(home)
    try:
        info = json.loads(read_regular_file(folder / AGENT_FILE, 4096))
        token = read_regular_file(folder / TOKEN_FILE, 4096).decode().strip()
    except (OSError, RefusedFile, ValueError, UnicodeDecodeError):
        return None
    url, pid = info.get("url") if isinstance(info, dict) else None, info.get("pid") if isinstance(info, dict) else None
    if not isinstance(url, str) or not isinstance(pid, int) or not token:
        return None
    if not _alive(pid):
        return None
    return AgentAddress(url, token, pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process with that pid: not our agent, but alive
        return True
    return True


def validate_agent_url(url: str) -> str:
    """An agent's base URL as a user types it: http(s)://host:port, no path beyond '/'."""
    text = url.strip().rstrip("/")
    if not (text.startswith("http://") or text.startswith("https://")) or " " in text or len(text) > 300:
        raise InputError("an agent's address looks like http://127.0.0.1:26680")
    return text


class AgentClient:
    """One agent's API (bearer token). Unreachable → AgentUnreachable; a refused token or a status
    this version cannot read → AgentError."""

    def __init__(self, address: AgentAddress, *, timeout: float = 3.0, transport=None) -> None:
        self.address = address
        self.pool = NodePool([address.url], timeout=timeout, deadline=timeout * 2, transport=transport,
                             headers={"Authorization": f"Bearer {address.token}"},
                             unreachable_hint="")

    async def aclose(self) -> None:
        await self.pool.aclose()

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str) -> object:
        try:
            status, data = await self.pool.request(method, path)
        except NodeUnreachable:
            raise AgentUnreachable(f"the miner agent at {self.address.url} does not answer") from None
        if status == 401:
            raise AgentError(f"the miner agent at {self.address.url} refused the token")
        if status >= 400:
            detail = data.get("error") if isinstance(data, dict) else None
            raise AgentError(f"the miner agent answered {status}" + (f": {detail}" if isinstance(detail, str) else ""))
        return data

    async def status(self) -> AgentStatus:
        data = await self._request("GET", STATUS_PATH)
        try:
            return AgentStatus.from_json(data)
        except StatusError as exc:
            raise AgentError(f"the miner agent at {self.address.url} sent a status this version cannot read: "
                             f"{exc}") from None

    async def control(self, action: str) -> None:
        if action not in CONTROLS:
            raise InputError(f"unknown action {action!r}: one of {', '.join(CONTROLS)}")
        await self._request("POST", f"/v1/miner/{action}")
