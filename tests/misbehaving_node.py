"""Raw HTTP servers on 127.0.0.1 that misbehave on purpose, for the client's deadlines: one that
answers every request with 429 and `Retry-After: 0`, one that trickles its reply a byte at a time,
and one that answers /status at once but trickles everything else. Each counts what it was asked.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading

STATUS_PATH = "/chain-rpc/status"


def status_json(chain_id: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": -1, "result": {
        "node_info": {"network": chain_id, "version": "0.38.17"},
        "sync_info": {"latest_block_height": "7", "latest_block_time": "2026-11-25T00:00:00Z"}}}).encode()


def response(status: str, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", "Content-Type: application/json", f"Content-Length: {len(body)}",
            "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class MisbehavingNode:
    """`mode`: "rate-limited" (429, Retry-After: 0), "trickle" (one byte of a 200 reply every `interval`
    seconds), or "slow-rest" (/status of `chain_id` at once, everything else trickled)."""

    def __init__(self, mode: str, *, interval: float = 1.0, chain_id: str = "gonka-devnet") -> None:
        self.mode, self.interval, self.chain_id = mode, interval, chain_id
        self.requests: list[str] = []  # "METHOD PATH" of each request, in order
        self.bytes_trickled = 0
        self._stop = threading.Event()
        node = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                node._serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"node-{mode}", daemon=True)

    def __enter__(self) -> "MisbehavingNode":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, sock: socket.socket) -> None:
        method, path = self._read_request(sock)
        if method is None:
            return
        self.requests.append(f"{method} {path}")
        if self.mode == "rate-limited":
            sock.sendall(response("429 Too Many Requests", b"{}", "Retry-After: 0"))
        elif self.mode == "slow-rest" and path.split("?")[0] == STATUS_PATH:
            sock.sendall(response("200 OK", status_json(self.chain_id)))
        else:
            self._trickle(sock, response("200 OK", status_json(self.chain_id)))

    def _trickle(self, sock: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            try:
                sock.sendall(data[i:i + 1])
            except OSError:  # the client gave up and closed the connection
                return
            self.bytes_trickled += 1
            if self._stop.wait(self.interval):  # the pace of the trickle (and a quick exit at teardown)
                return

    @staticmethod
    def _read_request(sock: socket.socket) -> tuple[str | None, str]:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None, ""
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        length = next((int(v) for k, _, v in (h.partition(":") for h in lines[1:])
                       if k.strip().lower() == "content-length"), 0)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return method, path
