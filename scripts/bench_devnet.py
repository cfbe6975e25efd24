"""Devnet throughput: concurrent senders broadcasting MsgSends through broadcast_tx_sync.

    .venv/bin/python scripts/bench_devnet.py [--senders 10] [--seconds 10] [--block-time 1]

Starts `gonka devnet` as a subprocess on a free port with one funded account per sender. Each
sender signs with the core's Signer/sign_send, tracks its own sequence, and broadcasts over its
own keep-alive HTTP connection for the window. Then it waits until every accepted tx is in a
block and checks that none was lost or applied twice: each sender's final sequence equals its
accepted count, every balance is exactly what the accepted sends imply, and tx_search finds
exactly the accepted txs. Prints JSON; the load generator runs on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gonka_tui.core.address import address_from_pubkey  # noqa: E402
from gonka_tui.core.network_constants import DEVNET_CHAIN_ID as CHAIN_ID  # noqa: E402
from gonka_tui.core.secp256k1 import Signer  # noqa: E402
from gonka_tui.core.tx import Fee, sign_send  # noqa: E402

FUND = 10**15  # ngonka per sender
AMOUNT = 1_000
GAS = 100_000


class Conn:
    """A minimal HTTP/1.1 keep-alive JSON client (low overhead, so the load generator is cheap)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def post(self, path: str, payload: dict) -> dict:
        try:
            return await self._post(path, payload)
        except (asyncio.IncompleteReadError, ConnectionError):  # the server closed an idle keep-alive
            self.close()
            self.writer = None
            return await self._post(path, payload)

    async def _post(self, path: str, payload: dict) -> dict:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        body = json.dumps(payload).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return json.loads(await self.reader.readexactly(length))

    async def rpc(self, method: str, params: dict) -> dict:
        data = await self.post("/chain-rpc/", {"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error']}")
        return data["result"]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    async def aclose(self) -> None:
        self.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def rest_get(conn_host: str, port: int, path: str) -> dict:
    reader, writer = await asyncio.open_connection(conn_host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {conn_host}\r\nConnection: close\r\n\r\n".encode())
    raw = await reader.read()
    writer.close()
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


class HttpxConn:
    """The same calls through httpx (what a typical Python client uses), for comparison."""

    def __init__(self, host: str, port: int) -> None:
        import httpx

        self.client = httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30)

    async def rpc(self, method: str, params: dict) -> dict:
        r = await self.client.post("/chain-rpc/", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        data = r.json()
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error']}")
        return data["result"]

    async def aclose(self) -> None:
        await self.client.aclose()


async def sender_loop(i: int, signer: Signer, frm: str, to: str, account_number: int, port: int, stop_at: float,
                      stats: dict, client: str) -> None:
    conn = Conn("127.0.0.1", port) if client == "raw" else HttpxConn("127.0.0.1", port)
    seq = 0
    latencies = stats["latency"]
    try:
        while time.perf_counter() < stop_at:
            tx = sign_send(signer, frm, to, AMOUNT, chain_id=CHAIN_ID, account_number=account_number, sequence=seq,
                           fee=Fee(0, GAS))
            t = time.perf_counter()
            res = await conn.rpc("broadcast_tx_sync", {"tx": base64.b64encode(tx.tx_bytes).decode()})
            latencies.append(time.perf_counter() - t)
            if res["code"] == 0:
                seq += 1
            else:
                stats["refused"] += 1
                stats["refusals"].append(res["log"])
    finally:
        await conn.aclose()
    stats["accepted"][i] = seq


async def bench(args) -> dict:
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="gonka-bench-devnet-"))
    signers = [Signer((i + 1).to_bytes(32, "big")) for i in range(args.senders)]
    senders = [address_from_pubkey(s.pubkey) for s in signers]
    recipients = [address_from_pubkey(Signer((1000 + i).to_bytes(32, "big")).pubkey) for i in range(args.senders)]
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
    cmd = [sys.executable, *profile, "-m", "gonka_tui", "devnet", "--home", str(home), "--port", str(port),
           "--block-time", str(args.block_time)]
    for a in senders:
        cmd += ["--fund", f"{a}={FUND}ngonka"]
    log = open(home / "devnet.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        probe = Conn("127.0.0.1", port)
        deadline = time.monotonic() + 30
        while True:
            try:
                await probe.rpc("status", {})
                break
            except OSError:
                probe.writer = None
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the devnet did not start; see " + str(home / "devnet.log"))
                await asyncio.sleep(0.1)
        numbers = []
        for a in senders:
            acc = await rest_get("127.0.0.1", port, f"/chain-api/cosmos/auth/v1beta1/accounts/{a}")
            numbers.append(int(acc["account"]["account_number"]))
        start_height = int((await probe.rpc("status", {}))["sync_info"]["latest_block_height"])

        stats = {"latency": [], "refused": 0, "refusals": [], "accepted": [0] * args.senders}
        cpu0 = os.times()
        t0 = time.perf_counter()
        stop_at = t0 + args.seconds
        await asyncio.gather(*(sender_loop(i, signers[i], senders[i], recipients[i], numbers[i], port, stop_at, stats,
                                           args.client) for i in range(args.senders)))
        t_sent = time.perf_counter()
        accepted = sum(stats["accepted"])

        # Wait until every accepted tx is committed (each sender's on-chain sequence = its accepted count).
        deadline = time.monotonic() + 60
        while True:
            seqs = []
            for a in senders:
                acc = await rest_get("127.0.0.1", port, f"/chain-api/cosmos/auth/v1beta1/accounts/{a}")
                seqs.append(int(acc["account"]["sequence"]))
            if seqs == stats["accepted"]:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"not all accepted txs were committed: {seqs} vs {stats['accepted']}")
            await asyncio.sleep(0.05)
        t_committed = time.perf_counter()
        cpu1 = os.times()
        status = await probe.rpc("status", {})
        end_height = int(status["sync_info"]["latest_block_height"])

        # Exactly-once checks: balances and the tx index.
        exact = True
        problems = []
        for i, (a, r) in enumerate(zip(senders, recipients)):
            n = stats["accepted"][i]
            bal = await rest_get("127.0.0.1", port, f"/chain-api/cosmos/bank/v1beta1/balances/{a}")
            got = int(bal["balances"][0]["amount"]) if bal["balances"] else 0
            rbal = await rest_get("127.0.0.1", port, f"/chain-api/cosmos/bank/v1beta1/balances/{r}")
            rgot = int(rbal["balances"][0]["amount"]) if rbal["balances"] else 0
            found = await probe.rpc("tx_search", {"query": f"message.sender='{a}'", "per_page": "1"})
            if got != FUND - n * AMOUNT or rgot != n * AMOUNT or int(found["total_count"]) != n:
                exact = False
                problems.append({"sender": a, "accepted": n, "balance": got, "recipient": rgot,
                                 "indexed": found["total_count"]})
        block_sizes = []
        for h in range(start_height + 1, end_height + 1):
            b = await probe.rpc("block", {"height": str(h)})
            block_sizes.append(len(b["block"]["data"]["txs"]))
        probe.close()
        lat = sorted(stats["latency"])
        return {
            "senders": args.senders,
            "client": args.client,
            "window_s": args.seconds,
            "block_time_s": args.block_time,
            "accepted": accepted,
            "refused": stats["refused"],
            "committed": sum(block_sizes),
            "accepted_per_s": round(accepted / (t_sent - t0), 1),
            "committed_per_s": round(accepted / (t_committed - t0), 1),
            "exactly_once": exact and sum(block_sizes) == accepted,
            "problems": problems[:5] + stats["refusals"][:5],
            "blocks": len(block_sizes),
            "max_txs_per_block": max(block_sizes, default=0),
            "broadcast_ms_p50": round(lat[len(lat) // 2] * 1000, 2) if lat else None,
            "broadcast_ms_p99": round(lat[int(len(lat) * 0.99)] * 1000, 2) if lat else None,
            "loadgen_cpu_s": round((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), 2),
            "cpus": os.cpu_count(),
        }
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--senders", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--block-time", type=float, default=1.0)
    ap.add_argument("--profile", metavar="FILE", help="run the devnet under cProfile, writing FILE")
    ap.add_argument("--client", choices=("raw", "httpx"), default="raw",
                    help="the senders' HTTP client: a minimal keep-alive one (default) or httpx")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(bench(args)), indent=2))


if __name__ == "__main__":
    main()
