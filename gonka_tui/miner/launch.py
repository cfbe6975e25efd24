"""Starting this home's miner agent from the app: `gonka miner run` as its own process, detached from
the app's terminal (it goes on mining when the app exits), its output in <home>/logs/miner-agent.log.

The keystore's derived key reaches it on a pipe (`--unlock-key-stdin`), never in its arguments or its
environment, where other users' `ps` or /proc could read it.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

from gonka_tui.core.errors import GonkaError
from gonka_tui.core.fileio import ensure_private_dir
from gonka_tui.miner.agent_client import find_local_agent

LOG_NAME = "miner-agent.log"
START_TIMEOUT = 20.0


def _home_args(data_dir: Path) -> list[str]:
    import platformdirs

    from gonka_tui.config import APP_NAME

    if Path(data_dir).resolve() == platformdirs.user_data_path(APP_NAME).resolve():
        return []
    return ["--home", str(data_dir)]


def start_local_agent(home: Path, key_name: str, master_key: bytes, network: str | None = None,
                      node: str | None = None, *, timeout: float = START_TIMEOUT) -> None:
    """Start the agent for `home` (the data dir) mining with `key_name`; returns once it serves its API.
    GonkaError with the agent's own last line when it does not come up."""
    home = Path(home)
    if find_local_agent(home) is not None:
        raise GonkaError("a miner agent already runs for this home")
    logs = ensure_private_dir(home / "logs")
    command = [sys.executable, "-m", "gonka_tui", *_home_args(home)]
    if network:
        command += ["--network", network]
    if node:
        command += ["--node", node]
    command += ["miner", "run", "--key", key_name, "--unlock-key-stdin"]
    log_path = logs / LOG_NAME
    with open(log_path, "ab") as log:
        os.chmod(log_path, 0o600)
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log, stderr=log, start_new_session=True,
                                close_fds=True)
    try:
        proc.stdin.write(base64.b64encode(master_key) + b"\n")
        proc.stdin.close()
    except BrokenPipeError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise GonkaError(f"the miner agent did not start: {_last_line(log_path)}")
        if find_local_agent(home) is not None:
            return
        time.sleep(0.05)  # polling the agent's own "I serve" file, with a deadline
    raise GonkaError(f"the miner agent did not come up within {timeout:.0f} s; see {log_path}")


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    return lines[-1][:300] if lines else "no output"
