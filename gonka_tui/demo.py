"""scripts/run: the app on a demo home of its own (.gonka-demo/ in the checkout) and a local devnet.

The demo home gets a fresh recovery phrase and a random passphrase, printed here, so trying
gonka never touches the user's real keystore. The devnet runs in the background with its
log in its home, funds the demo account, and stops when the app does.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from gonka_tui.config import DEVNET_URL, ensure_config, resolve_home
from gonka_tui.core.fileio import ensure_private_dir, write_atomic
from gonka_tui.core.keys import generate_mnemonic
from gonka_tui.core.keystore import Keystore
from gonka_tui.devnet.broker import BROKER_KEYS_ENV

DEMO_DIR = ".gonka-demo"
DEMO_KEY = "demo"
DEMO_PASSPHRASE_FILE = "demo-passphrase.txt"  # the app shows it on start (tui/app.py)
DEMO_FUNDS = "100000gnk"
DEMO_BROKER = "devnet"  # the demo devnet's broker (/broker/v1), added to the demo home with its API key
DEMO_BROKER_KEY_FILE = "demo-broker-key.txt"  # the devnet is started with --broker-key from here
# Short PoC rounds at 1 s blocks: a round every minute, so a new miner's first reward (settled one epoch
# after the round it mined) reaches the Wallet within about two and a half minutes of pressing start.
DEMO_ROUNDS = ["--epoch-blocks", "60", "--poc-blocks", "20", "--validation-blocks", "8"]
READY_TIMEOUT = 60.0


def prepare(root: Path, url: str = DEVNET_URL) -> tuple[str, str | None, str]:
    """Create the demo home once; returns (passphrase, new mnemonic or None, demo address)."""
    home = resolve_home(root)
    ensure_private_dir(root)
    ensure_config(home)
    pass_file = root / DEMO_PASSPHRASE_FILE
    if not pass_file.exists():
        write_atomic(pass_file, secrets.token_urlsafe(12).encode())
    passphrase = pass_file.read_text().strip()
    ks = Keystore(home.keystore_dir)
    mnemonic = None
    if not any(r.name == DEMO_KEY for r in ks.list()):
        if ks.initialized:
            ks.unlock(passphrase)
        else:
            ks.initialize(passphrase)
        mnemonic = generate_mnemonic(24)
        ks.add_mnemonic(DEMO_KEY, mnemonic)
    _prepare_broker(root, home, ks, passphrase, url)
    return passphrase, mnemonic, ks.get(DEMO_KEY).address


def _prepare_broker(root: Path, home, ks: Keystore, passphrase: str, url: str) -> None:
    """The devnet's broker with an API key of the demo's own, known to the demo home (sealed in its keystore)."""
    from gonka_tui.core.brokers import BrokerBook

    key_file = root / DEMO_BROKER_KEY_FILE
    if not key_file.exists():
        write_atomic(key_file, secrets.token_urlsafe(24).encode())
    book = BrokerBook(home.data_dir, ks)
    if not book.has(DEMO_BROKER):
        if not ks.unlocked:
            ks.unlock(passphrase)
        book.add(DEMO_BROKER, f"{url}/broker/v1", key_file.read_text().strip())


def demo_broker_key(root: Path) -> str:
    return (root / DEMO_BROKER_KEY_FILE).read_text().strip()


def _status(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/chain-rpc/status", timeout=1.0) as resp:
            return json.loads(resp.read())["result"]
    except (OSError, urllib.error.URLError, ValueError, KeyError):
        return None


def _die_with_parent() -> None:
    # Linux: the devnet gets SIGTERM if this process dies, even by SIGKILL: no stray node.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_devnet(root: Path, address: str, url: str = DEVNET_URL) -> subprocess.Popen | None:
    """Start the devnet in the background (None when one already answers at `url`)."""
    running = _status(url)
    if running is not None:
        print(f"a devnet already answers at {url} (chain {running['node_info']['network']}); using it",
              file=sys.stderr)
        return None
    devnet_home = resolve_home(root).devnet_dir
    _retire_old_devnet(devnet_home)
    ensure_private_dir(devnet_home)
    log = open(devnet_home / "devnet.log", "ab")
    port = url.rsplit(":", 1)[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gonka_tui", "--home", str(root), "devnet", "--port", port,
         "--fund", f"{address}={DEMO_FUNDS}", *DEMO_ROUNDS],
        env={**os.environ, BROKER_KEYS_ENV: demo_broker_key(root)},  # not an argument: ps shows those
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    log.close()
    deadline = time.monotonic() + READY_TIMEOUT
    while _status(url) is None:
        if proc.poll() is not None:
            raise SystemExit(f"the devnet stopped at start (exit {proc.returncode}); see {devnet_home / 'devnet.log'}")
        if time.monotonic() > deadline:
            stop_devnet(proc)
            raise SystemExit(f"the devnet did not answer within {READY_TIMEOUT:.0f} s; see {devnet_home / 'devnet.log'}")
        time.sleep(0.2)
    return proc


def _retire_old_devnet(devnet_home: Path) -> None:
    """A demo devnet written by an older gonka (another state schema) cannot be opened: keep it aside
    and let a fresh one start, funded again (the demo's keys are in the demo home, not in the devnet)."""
    import sqlite3

    from gonka_tui.devnet.genesis import DB_FILE
    from gonka_tui.devnet.store import SCHEMA_VERSION

    db = devnet_home / DB_FILE
    if not db.exists():
        return
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error:
        return  # the devnet itself says what is wrong with it
    if row is None or row[0] == SCHEMA_VERSION:
        return
    kept = devnet_home.with_name(f"devnet.schema{row[0]}-{time.strftime('%Y%m%d-%H%M%S')}")
    devnet_home.rename(kept)
    print(f"the demo devnet was made by an older gonka; a new one starts (the old one is kept in {kept})",
          file=sys.stderr)


def stop_devnet(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_demo_agent(root: Path) -> None:
    """The demo's miner agent mines on the demo devnet: it stops with it."""
    import asyncio

    from gonka_tui.core.errors import GonkaError
    from gonka_tui.miner.agent_client import AgentClient, find_local_agent

    found = find_local_agent(root)
    if found is None:
        return

    async def stop() -> None:
        async with AgentClient(found) as client:
            await client.control("stop")

    try:
        asyncio.run(stop())
        print("the demo's miner agent was stopped with the devnet", file=sys.stderr)
    except GonkaError:
        os.kill(found.pid, signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    root = Path(DEMO_DIR).resolve()
    passphrase, mnemonic, address = prepare(root)
    banner = [
        f"gonka demo home: {root}  (your real keystore is not used)",
        f"demo key '{DEMO_KEY}': {address}",
        f"demo keystore passphrase: {passphrase}",
        f"demo broker '{DEMO_BROKER}': {DEVNET_URL}/broker/v1  API key: {demo_broker_key(root)}  (Inference, F9)",
    ]
    if mnemonic:
        banner.append(f"demo recovery phrase (new): {mnemonic}")
    print("\n".join(banner), file=sys.stderr)
    proc = start_devnet(root, address)
    if proc is not None:
        print(f"devnet running at {DEVNET_URL} (log: {resolve_home(root).devnet_dir / 'devnet.log'})", file=sys.stderr)
    from gonka_tui.cli import main as cli_main

    os.environ.pop("GONKA_NODE", None)  # the demo talks to its own devnet
    try:
        code = cli_main(["--home", str(root), *(argv if argv is not None else sys.argv[1:])])
    finally:
        if proc is not None:
            stop_demo_agent(root)
        stop_devnet(proc)
    print(f"demo keystore passphrase: {passphrase}  (home {root})", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
