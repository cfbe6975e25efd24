"""An in-process fake Gonka node for screen tests and snapshots: canned Cosmos REST/RPC JSON over
`httpx.MockTransport`, with just enough state to send (signatures, sequence, fee and balance are
checked) and deterministic heights and times. End-to-end tests use the real devnet instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import unquote

import httpx

from gonka_tui.core.chain_client import ChainClient
from gonka_tui.core.secp256k1 import verify
from gonka_tui.core.tx import MSG_SEND, decode_tx

BASE_TIME = 1_795_000_000  # 2026-11-18T...; heights map to fixed times so snapshots never move


def block_time(height: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(BASE_TIME + 5 * height, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeAccount:
    address: str
    number: int
    balance: int = 0
    locked: int = 0
    reward_vesting: int | None = None
    sequence: int = 0
    pubkey: bytes | None = None


@dataclass
class FakeNode:
    chain_id: str = "gonka-devnet"
    height: int = 1234
    min_gas_price: str = "0"
    gas_used: int = 66_750  # × 1.4 = 93,450 gas
    online: bool = True
    accounts: dict[str, FakeAccount] = field(default_factory=dict)
    txs: list[dict] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    broadcasts: int = 0
    simulations: int = 0

    # ----- set-up -----

    def fund(self, address: str, amount: int, *, locked: int = 0, reward_vesting: int | None = None) -> FakeAccount:
        acc = self.accounts.get(address) or FakeAccount(address, len(self.accounts) + 1)
        acc.balance += amount
        acc.locked, acc.reward_vesting = locked, reward_vesting
        self.accounts[address] = acc
        return acc

    def add_transfer(self, sender: str, recipient: str, amount: int, *, fee: int = 0, memo: str = "",
                     code: int = 0, raw_log: str = "", height: int | None = None) -> dict:
        """A past transaction for history (balances are not touched)."""
        h = height if height is not None else self.height
        body = f"{sender}{recipient}{amount}{h}{len(self.txs)}".encode()
        resp = self._tx_response(hashlib.sha256(body).hexdigest().upper(), h, sender, recipient, amount, fee, memo,
                                 code, raw_log, gas_wanted=93_450, gas_used=66_750 if code == 0 else 41_000)
        self.txs.append(resp)
        return resp

    def client(self, profile) -> ChainClient:
        return ChainClient(list(profile.nodes), profile.chain_id, transport=httpx.MockTransport(self.handle),
                           cache_ttl=0)

    # ----- HTTP -----

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append(f"{request.method} {path}")
        if not self.online:
            raise httpx.ConnectError("connection refused", request=request)
        if path.startswith("/chain-rpc"):
            return self._rpc(request)
        api = path.removeprefix("/chain-api")
        if m := re.fullmatch(r"/cosmos/auth/v1beta1/accounts/(\w+)", api):
            acc = self.accounts.get(m[1])
            if acc is None:
                return _json({"code": 5, "message": f"account {m[1]} not found"}, 404)
            pub = {"@type": "/cosmos.crypto.secp256k1.PubKey", "key": base64.b64encode(acc.pubkey).decode()} \
                if acc.pubkey else None
            return _json({"account": {"@type": "/cosmos.auth.v1beta1.BaseAccount", "address": acc.address,
                                      "pub_key": pub, "account_number": str(acc.number),
                                      "sequence": str(acc.sequence)}})
        if m := re.fullmatch(r"/cosmos/bank/v1beta1/(balances|spendable_balances)/(\w+)", api):
            acc = self.accounts.get(m[2])
            amount = 0 if acc is None else acc.balance - (acc.locked if m[1] == "spendable_balances" else 0)
            coins = [{"denom": "ngonka", "amount": str(amount)}] if amount else []
            return _json({"balances": coins, "pagination": {"total": str(len(coins))}})
        if m := re.fullmatch(r"/productscience/inference/streamvesting/total_vesting/(\w+)", api):
            acc = self.accounts.get(m[1])
            if acc is None or acc.reward_vesting is None:
                return _json({"code": 5, "message": "not found"}, 404)
            return _json({"total_amount": [{"denom": "ngonka", "amount": str(acc.reward_vesting)}]})
        if api == "/productscience/inference/inference/params":
            return _json({"params": {"fee_params": {"min_gas_price_ngonka": self.min_gas_price}}})
        if api == "/cosmos/tx/v1beta1/simulate":
            self.simulations += 1
            decode_tx(base64.b64decode(json.loads(request.content)["tx_bytes"]))
            return _json({"gas_info": {"gas_wanted": "0", "gas_used": str(self.gas_used)}})
        if api == "/cosmos/tx/v1beta1/txs" and request.method == "POST":
            return self._broadcast(base64.b64decode(json.loads(request.content)["tx_bytes"]))
        if m := re.fullmatch(r"/cosmos/tx/v1beta1/txs/(\w+)", api):
            found = next((t for t in self.txs if t["txhash"] == m[1].upper()), None)
            if found is None:
                return _json({"code": 5, "message": f"tx not found: {m[1]}"}, 404)
            return _json({"tx_response": found})
        if api == "/cosmos/tx/v1beta1/txs":
            return self._search(request)
        return _json({"code": 12, "message": "Not Implemented"}, 501)

    def _rpc(self, request: httpx.Request) -> httpx.Response:
        method = json.loads(request.content).get("method") if request.method == "POST" else "status"
        if method != "status":
            return _json({"jsonrpc": "2.0", "id": 1, "error": {"message": f"method {method} not found"}})
        return _json({"jsonrpc": "2.0", "id": 1, "result": {
            "node_info": {"network": self.chain_id, "version": "0.38.17"},
            "sync_info": {"latest_block_height": str(self.height), "latest_block_time": block_time(self.height)}}})

    def _search(self, request: httpx.Request) -> httpx.Response:
        query = unquote(request.url.params.get("query", ""))
        page, limit = int(request.url.params.get("page", "1")), int(request.url.params.get("limit", "20"))
        m = re.fullmatch(r"(message\.sender|transfer\.recipient)='(\w+)'", query)
        if not m:
            return _json({"code": 3, "message": "bad query"}, 400)
        key = "from_address" if m[1] == "message.sender" else "to_address"
        hits = [t for t in self.txs if any(msg.get(key) == m[2] for msg in t["tx"]["body"]["messages"])]
        hits.sort(key=lambda t: int(t["height"]), reverse=request.url.params.get("order_by") == "ORDER_BY_DESC")
        chunk = hits[(page - 1) * limit: page * limit]
        return _json({"tx_responses": chunk, "total": str(len(hits))})

    def _broadcast(self, tx_bytes: bytes) -> httpx.Response:
        self.broadcasts += 1
        txhash = hashlib.sha256(tx_bytes).hexdigest().upper()
        tx = decode_tx(tx_bytes)
        (type_url, msg), = tx.messages()
        assert type_url == MSG_SEND
        sender = self.accounts.get(msg.from_address)

        def refuse(code: int, log: str) -> httpx.Response:
            return _json({"tx_response": {"txhash": txhash, "code": code, "codespace": "sdk", "raw_log": log}})

        if sender is None:
            return refuse(9, f"account {msg.from_address} not found")
        signer = tx.signers[0]
        if signer.sequence != sender.sequence:
            return refuse(32, f"account sequence mismatch, expected {sender.sequence}, got {signer.sequence}")
        if not verify(signer.pubkey, tx.sign_doc(self.chain_id, sender.number), tx.signatures[0]):
            return refuse(4, "signature verification failed")
        fee = sum(a for d, a in tx.fee_amount if d == "ngonka")
        if Decimal(fee) < Decimal(tx.gas_limit) * Decimal(self.min_gas_price):
            return refuse(13, "insufficient fee")
        amount = sum(int(c.amount) for c in msg.amount if c.denom == "ngonka")
        if amount + fee > sender.balance - sender.locked:
            return refuse(5, "insufficient funds")
        sender.balance -= amount + fee
        sender.sequence += 1
        sender.pubkey = signer.pubkey
        self.fund(msg.to_address, amount)
        self.height += 1
        self.txs.append(self._tx_response(txhash, self.height, msg.from_address, msg.to_address, amount, fee,
                                          tx.body.memo, 0, "", gas_wanted=tx.gas_limit, gas_used=self.gas_used))
        return _json({"tx_response": {"txhash": txhash, "code": 0, "raw_log": ""}})

    def _tx_response(self, txhash, height, sender, recipient, amount, fee, memo, code, raw_log, *,
                     gas_wanted, gas_used) -> dict:
        coins = lambda n: [{"denom": "ngonka", "amount": str(n)}] if n else []  # noqa: E731
        return {
            "txhash": txhash, "height": str(height), "timestamp": block_time(height), "code": code,
            "codespace": "sdk" if code else "", "raw_log": raw_log, "gas_wanted": str(gas_wanted),
            "gas_used": str(gas_used),
            "tx": {"body": {"messages": [{"@type": MSG_SEND, "from_address": sender, "to_address": recipient,
                                          "amount": coins(amount)}], "memo": memo},
                   "auth_info": {"fee": {"amount": coins(fee), "gas_limit": str(gas_wanted)}}},
        }


def _json(data, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=data)
