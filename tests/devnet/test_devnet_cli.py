"""`gonka devnet` as a user runs it (a subprocess): start-up output, clean stop on SIGTERM with the
pending block committed, state that survives a restart, --fund on an existing state, bad flags."""

from __future__ import annotations

import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import time

import httpx
import pytest

from gonka_tui.devnet.testkit import key, wait_until
from tests.conftest import REPO

A, B, C = key(501), key(502), key(503)


class Devnet:
    """`python -m gonka_tui devnet …` on a free port (--port 0), stdout read line by line."""

    def __init__(self, home, *args: str, gonka_home=None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GONKA_")}
        if gonka_home is not None:
            env["GONKA_HOME"] = str(gonka_home)
        home_args = ["--home", str(home)] if home is not None else []
        self.proc = subprocess.Popen([sys.executable, "-m", "gonka_tui", "devnet", *home_args, "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self._wait_for("url:").split()[-1]
        self._wait_for("Ctrl-C stops it")
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def _wait_for(self, prefix: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.proc.kill()
                raise TimeoutError(f"no '{prefix}' line from the devnet; stderr: {self.proc.stderr.read()}") from None
            self.out.append(line)
            if line.startswith(prefix):
                return line

    def height(self) -> int:
        return int(self.http.get("/chain-rpc/status").json()["result"]["sync_info"]["latest_block_height"])

    def balance(self, address: str) -> int:
        coins = self.http.get(f"/chain-api/cosmos/bank/v1beta1/balances/{address}").json()["balances"]
        return int(coins[0]["amount"]) if coins else 0

    def committed(self, txhash: str) -> int:
        def height():
            r = self.http.get(f"/chain-api/cosmos/tx/v1beta1/txs/{txhash}")
            return int(r.json()["tx_response"]["height"]) if r.status_code == 200 else 0
        return wait_until(height, f"tx {txhash} committed")

    def stop(self) -> str:
        self.http.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        assert self.proc.returncode == 0, err
        return err


@pytest.fixture
def devnets():
    started: list[Devnet] = []

    def start(home, *args, **kw):
        d = Devnet(home, *args, **kw)
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


def test_restart_keeps_height_balances_txs_and_funds_new_accounts(tmp_path, devnets):
    home = tmp_path / "dn"
    first = devnets(home, "--block-time", "0.1", "--fund", f"{A.address}=1000gnk",
                    "--fund-vesting", f"{C.address}=10gnk@3600")
    assert any(line.startswith(f"funded:         {A.address} 1,000 GNK") for line in first.out)
    assert any("vesting over 3600 s" in line for line in first.out)
    assert "chain id:       gonka-devnet" in first.out
    node_key = home / "node_key.json"
    assert stat.S_IMODE(node_key.stat().st_mode) == 0o600
    r = first.http.post("/faucet", json={"address": B.address, "amount": "1234"}).json()
    assert r["code"] == 0
    tx_height = first.committed(r["txhash"])
    wait_until(lambda: first.height() > tx_height, "another block")
    stopped = first.stop()
    assert "devnet stopped at height" in stopped
    last = int(stopped.split("devnet stopped at height ")[1].split(";")[0])
    assert last > tx_height

    second = devnets(home, "--block-time", "0.1", "--fund", f"{A.address}=5gnk", "--fund", f"{B.address}=1gnk",
                     "--fund", f"{key(504).address}=3gnk")
    notes = [line for line in second.out if line.startswith("note:")]
    assert any(A.address in n and "ignored, the account already exists" in n for n in notes)
    assert any(B.address in n and "ignored" in n for n in notes)
    credited = [n for n in notes if key(504).address in n]
    assert credited and "credited 3 GNK by a faucet transfer" in credited[0]
    assert "resumed" in second.out[0]
    assert second.height() >= last
    assert second.balance(A.address) == 1000 * 10**9
    assert second.balance(B.address) == 1234
    assert second.balance(C.address) == 10 * 10**9
    assert second.committed(r["txhash"]) == tx_height  # the tx index survived
    found = second.http.get("/chain-api/cosmos/tx/v1beta1/txs", params={"query": f"transfer.recipient='{B.address}'"})
    assert found.json()["total"] == "1"
    wait_until(lambda: second.balance(key(504).address) == 3 * 10**9, "the faucet transfer for the new --fund")
    account = second.http.get(f"/chain-api/cosmos/auth/v1beta1/accounts/{C.address}").json()["account"]
    assert account["@type"] == "/cosmos.vesting.v1beta1.ContinuousVestingAccount"
    second.stop()


def test_sigterm_commits_the_pending_block(tmp_path, devnets):
    home = tmp_path / "dn"
    d = devnets(home, "--block-time", "600")  # no block will come on its own
    assert d.height() == 1
    r = d.http.post("/faucet", json={"address": A.address, "amount": "42"}).json()
    assert r["code"] == 0 and d.balance(A.address) == 0
    err = d.stop()
    assert "committed the pending block 2" in err
    again = devnets(home, "--block-time", "600")
    assert again.height() == 2 and again.balance(A.address) == 42
    assert again.committed(r["txhash"]) == 2
    again.stop()


@pytest.mark.parametrize("args,message", [
    (["--fund", "nonsense"], "--fund 'nonsense': write ADDRESS=AMOUNT"),
    (["--fund", f"{A.address}=100"], "has no denom"),
    (["--fund", "gonka1abc=1gnk"], "--fund 'gonka1abc=1gnk': address"),
    (["--fund-vesting", f"{A.address}=1gnk"], "write ADDRESS=AMOUNT@SECONDS"),
    (["--fund-vesting", f"{A.address}=1gnk@0"], "the vesting time in seconds must be a whole number from 1 to"),
    (["--block-time", "0"], "--block-time 0: choose between"),
    (["--block-time", "soon"], "is not a number of seconds"),
    (["--min-gas-price", "-1"], "--min-gas-price '-1' must be a non-negative number"),
    (["--port", "99999"], "--port must be a whole number from 0 to 65535, not '99999'"),
    (["--chain-id", "has space"], "chain id 'has space' is not valid"),
])
def test_bad_flags_give_one_clear_line(gonka, tmp_path, args, message):
    r = gonka("devnet", "--home", str(tmp_path / "dn"), "--port", "0", *args) if "--port" not in args else \
        gonka("devnet", "--home", str(tmp_path / "dn"), *args)
    assert r.code == 1
    assert r.err.count("\n") == 1 and r.err.startswith("error: ") and message in r.err, r.err


def test_chain_id_of_an_existing_state_and_a_busy_port(gonka, tmp_path, devnets):
    home = tmp_path / "dn"
    d = devnets(home, "--chain-id", "my-chain", "--block-time", "600")
    assert "chain id:       my-chain" in d.out
    port = d.url.rsplit(":", 1)[1]
    busy = gonka("devnet", "--home", str(tmp_path / "other"), "--port", port)
    assert busy.code == 1 and f"cannot listen on 127.0.0.1:{port}" in busy.err
    assert not (tmp_path / "other").exists()  # nothing was made
    twice = gonka("devnet", "--home", str(home), "--port", "0")
    assert twice.code == 1 and f"another devnet is running with the home {home}" in twice.err
    d.stop()
    wrong = gonka("devnet", "--home", str(home), "--port", "0", "--chain-id", "gonka-devnet")
    assert wrong.code == 1 and "is chain 'my-chain', not 'gonka-devnet'" in wrong.err


def test_default_home_is_under_the_gonka_home(tmp_path, devnets):
    gonka_home = tmp_path / "gh"
    d = devnets(None, "--block-time", "600", gonka_home=gonka_home)
    assert d.out[0] == f"gonka devnet created in {gonka_home / 'devnet'}"
    d.stop()
    assert (gonka_home / "devnet" / "devnet.sqlite3").exists()
