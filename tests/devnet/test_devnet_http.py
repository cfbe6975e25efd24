"""The devnet over HTTP (in-process server on a free port): CometBFT JSON-RPC in both forms, Cosmos REST
shapes, the /v1 node API, the faucet, and bad input never crashing the server."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gonka_tui.core.proto.cosmos.auth.v1beta1 import auth_pb2, query_pb2 as auth_query
from gonka_tui.core.proto.cosmos.bank.v1beta1 import query_pb2 as bank_query
from gonka_tui.core.proto.cosmos.vesting.v1beta1 import vesting_pb2
from gonka_tui.core.secp256k1 import verify
from gonka_tui.core.tx import MSG_SEND
from gonka_tui.devnet.accounts import FEE_COLLECTOR_ADDRESS
from gonka_tui.devnet.genesis import Fund
from gonka_tui.devnet.server import start_in_thread
from gonka_tui.devnet.testkit import key, wait_until

FUNDS = 10**13
KEYS = {name: key(100 + i) for i, name in enumerate(
    ["rpc", "rest", "search", "v1", "prop", "sim", "block", "fee"])}
VESTING = key(199)
NOBODY = key(198)  # receives, never sends
GHOST = key(197)  # never on chain
RFC3339_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    funds = [Fund(k.address, FUNDS) for k in KEYS.values()] + [Fund(VESTING.address, FUNDS, vesting_seconds=3600)]
    with start_in_thread(tmp_path_factory.mktemp("devnet"), block_time=0.1, funds=funds) as d:
        yield d


@pytest.fixture(scope="module")
def http(devnet):
    with httpx.Client(base_url=devnet.url, timeout=10) as client:
        yield client


def rpc(http, method, _url="/chain-rpc/", **params):
    body = http.post(_url, json={"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
    assert body.status_code == 200
    data = body.json()
    assert data["jsonrpc"] == "2.0" and data["id"] == 7
    if "error" in data:
        raise RuntimeError(json.dumps(data["error"]))
    return data["result"]


def account_number(http, address) -> int:
    return int(http.get(f"/chain-api/cosmos/auth/v1beta1/accounts/{address}").json()["account"]["account_number"])


def committed(http, txhash: str) -> dict:
    def found():
        r = rpc(http, "tx_search", query=f"tx.hash='{txhash}'")
        return r["txs"][0] if r["total_count"] == "1" else None
    return wait_until(found, f"tx {txhash} in a block")


def test_status_looks_like_comet_038_in_both_forms(http, devnet):
    for res in (rpc(http, "status", _url="/chain-rpc"), rpc(http, "status"),
                http.get("/chain-rpc/status").json()["result"]):
        assert res["node_info"]["version"].startswith("0.38.")
        assert res["node_info"]["network"] == "gonka-devnet"
        sync = res["sync_info"]
        assert isinstance(sync["latest_block_height"], str) and int(sync["latest_block_height"]) >= 1
        assert RFC3339_NS.match(sync["latest_block_time"]) and len(sync["latest_block_hash"]) == 64
        assert sync["catching_up"] is False and sync["earliest_block_height"] == "1"
    info = rpc(http, "abci_info")["response"]
    assert int(info["last_block_height"]) >= 1 and base64.b64decode(info["last_block_app_hash"])
    assert rpc(http, "health") == {}
    h = int(rpc(http, "status")["sync_info"]["latest_block_height"])
    wait_until(lambda: int(rpc(http, "status")["sync_info"]["latest_block_height"]) > h + 1, "empty blocks")


def test_abci_queries_in_uri_and_json_forms(http, devnet):
    k = KEYS["rpc"]
    data = bank_query.QueryAllBalancesRequest(address=k.address).SerializeToString()
    # gonka-wallet's form: a GET with the path double-quoted and the data as 0x-hex.
    uri = http.get("/chain-rpc/abci_query", params={"path": '"/cosmos.bank.v1beta1.Query/AllBalances"',
                                                     "data": "0x" + data.hex()}).json()["result"]["response"]
    # cosmjs's form: JSON-RPC POST with the data as hex.
    post = rpc(http, "abci_query", path="/cosmos.bank.v1beta1.Query/AllBalances", data=data.hex(),
               prove=False)["response"]
    for resp in (uri, post):
        assert resp["code"] == 0 and resp["codespace"] == ""
        balances = bank_query.QueryAllBalancesResponse.FromString(base64.b64decode(resp["value"])).balances
        assert [(c.denom, c.amount) for c in balances] == [("ngonka", str(FUNDS))]

    def query(path, msg):
        return rpc(http, "abci_query", path=path, data=msg.SerializeToString().hex())["response"]

    missing = query("/cosmos.auth.v1beta1.Query/Account", auth_query.QueryAccountRequest(address=GHOST.address))
    assert missing["code"] == 22 and missing["codespace"] == "sdk"
    assert missing["log"] == f"rpc error: code = NotFound desc = account {GHOST.address} not found: key not found"
    found = query("/cosmos.auth.v1beta1.Query/Account", auth_query.QueryAccountRequest(address=k.address))
    any_ = auth_query.QueryAccountResponse.FromString(base64.b64decode(found["value"])).account
    assert any_.type_url == "/cosmos.auth.v1beta1.BaseAccount"
    base = auth_pb2.BaseAccount.FromString(any_.value)
    assert base.address == k.address and base.account_number >= 1 and not base.HasField("pub_key")
    vest = query("/cosmos.auth.v1beta1.Query/Account", auth_query.QueryAccountRequest(address=VESTING.address))
    any_ = auth_query.QueryAccountResponse.FromString(base64.b64decode(vest["value"])).account
    assert any_.type_url == "/cosmos.vesting.v1beta1.ContinuousVestingAccount"
    cva = vesting_pb2.ContinuousVestingAccount.FromString(any_.value)
    assert cva.base_vesting_account.end_time - cva.start_time == 3600
    assert cva.base_vesting_account.original_vesting[0].amount == str(FUNDS)

    bal = query("/cosmos.bank.v1beta1.Query/Balance", bank_query.QueryBalanceRequest(address=k.address, denom="ngonka"))
    assert bank_query.QueryBalanceResponse.FromString(base64.b64decode(bal["value"])).balance.amount == str(FUNDS)
    sp = query("/cosmos.bank.v1beta1.Query/SpendableBalances",
               bank_query.QuerySpendableBalancesRequest(address=VESTING.address))
    locked = bank_query.QuerySpendableBalancesResponse.FromString(base64.b64decode(sp["value"] or "")).balances
    assert sum(int(c.amount) for c in locked) < FUNDS // 100  # barely anything vested yet
    spd = query("/cosmos.bank.v1beta1.Query/SpendableBalanceByDenom",
                bank_query.QuerySpendableBalanceByDenomRequest(address=k.address, denom="ngonka"))
    assert bank_query.QuerySpendableBalanceByDenomResponse.FromString(
        base64.b64decode(spd["value"])).balance.amount == str(FUNDS)
    bad = query("/cosmos.bank.v1beta1.Query/AllBalances", bank_query.QueryAllBalancesRequest(address="gonka1xyz"))
    assert bad["code"] != 0 and "invalid address" in bad["log"]
    unknown = rpc(http, "abci_query", path="/cosmos.staking.v1beta1.Query/Validators", data="")["response"]
    assert unknown["code"] == 6 and "unknown query path" in unknown["log"]


def test_broadcast_tx_and_lookups_in_both_forms(http, devnet):
    k, to = KEYS["rpc"], KEYS["search"]
    tx = k.send(to.address, 1234, account_number=account_number(http, k.address), sequence=0, memo="rpc")
    res = rpc(http, "broadcast_tx_sync", tx=base64.b64encode(tx).decode())
    txhash = hashlib.sha256(tx).hexdigest().upper()
    assert res == {"code": 0, "data": "", "log": "", "codespace": "", "hash": txhash}
    found = committed(http, txhash)
    assert found["hash"] == txhash and isinstance(found["index"], int) and int(found["height"]) >= 2
    assert base64.b64decode(found["tx"]) == tx
    result = found["tx_result"]
    assert result["code"] == 0 and int(result["gas_used"]) <= int(result["gas_wanted"]) == 200_000
    assert any(e["type"] == "transfer" for e in result["events"])
    by_json = rpc(http, "tx", hash=base64.b64encode(bytes.fromhex(txhash)).decode())
    by_uri = http.get("/chain-rpc/tx", params={"hash": "0x" + txhash}).json()["result"]
    assert by_json == by_uri == found
    # Searches: POST and GET (quoted string params), by sender and by recipient, with paging and order.
    for q in (f"message.sender='{k.address}'", f"transfer.recipient='{to.address}'"):
        assert rpc(http, "tx_search", query=q)["total_count"] == "1"
        uri = http.get("/chain-rpc/tx_search", params={"query": f'"{q}"', "page": "1", "per_page": "5",
                                                        "order_by": '"desc"'}).json()["result"]
        assert [t["hash"] for t in uri["txs"]] == [txhash]
    with pytest.raises(RuntimeError, match="page should be within"):
        rpc(http, "tx_search", query=f"message.sender='{k.address}'", page="3")
    missing = "AB" * 32
    err = http.post("/chain-rpc/", json={"jsonrpc": "2.0", "id": 1, "method": "tx",
                                          "params": {"hash": base64.b64encode(bytes.fromhex(missing)).decode()}})
    assert err.status_code == 200 and err.json()["error"]["data"] == f"tx ({missing}) not found"
    assert http.get("/chain-rpc/tx", params={"hash": "0x" + missing}).status_code == 404
    # The same tx again after it is committed: its sequence is used up.
    again = rpc(http, "broadcast_tx_sync", tx=base64.b64encode(tx).decode())
    assert again["code"] == 32 and again["codespace"] == "sdk"
    # broadcast_tx_sync in the URI form (0x-hex).
    tx2 = k.send(to.address, 1, account_number=account_number(http, k.address), sequence=1)
    r2 = http.get("/chain-rpc/broadcast_tx_sync", params={"tx": "0x" + tx2.hex()}).json()["result"]
    assert r2["code"] == 0
    committed(http, r2["hash"])


def test_block_rpc(http, devnet):
    k = KEYS["block"]
    tx = k.send(NOBODY.address, 3, account_number=account_number(http, k.address), sequence=0)
    found = committed(http, rpc(http, "broadcast_tx_sync", tx=base64.b64encode(tx).decode())["hash"])
    h = found["height"]
    block = rpc(http, "block", height=h)
    header = block["block"]["header"]
    assert header["height"] == h and header["chain_id"] == "gonka-devnet" and RFC3339_NS.match(header["time"])
    assert base64.b64decode(block["block"]["data"]["txs"][found["index"]]) == tx
    assert block["block_id"]["parts"]["total"] == 1 and len(block["block_id"]["hash"]) == 64
    prev = rpc(http, "block", height=str(int(h) - 1))
    assert header["last_block_id"]["hash"] == prev["block_id"]["hash"]
    latest = http.get("/chain-rpc/block").json()["result"]
    assert int(latest["block"]["header"]["height"]) >= int(h)
    with pytest.raises(RuntimeError, match="must be less than or equal"):
        rpc(http, "block", height="999999")
    with pytest.raises(RuntimeError, match="must be greater than 0"):
        rpc(http, "block", height=0)


@pytest.mark.parametrize("body,code", [
    (b"{not json", -32700),
    (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "no_such_method", "params": {}}).encode(), -32601),
    (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "broadcast_tx_sync", "params": {"tx": "%%%"}}).encode(), -32602),
    (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tx_search", "params": {"query": "a.b=='x"}}).encode(), -32603),
    (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "abci_query", "params": {"path": 5}}).encode(), -32602),
    (json.dumps([1, 2]).encode(), -32600),
])
def test_rpc_errors_are_json_rpc_errors(http, body, code):
    r = http.post("/chain-rpc", content=body, headers={"content-type": "application/json"})
    assert r.status_code in (200, 400)
    data = r.json()
    errors = [d["error"] for d in data] if isinstance(data, list) else [data["error"]]
    assert errors[0]["code"] == code and errors[0]["message"]
    assert http.get("/chain-rpc/nope").status_code == 404
    assert http.get("/chain-rpc/tx_search", params={"query": "tx.height>>1"}).status_code == 400


def test_rest_accounts_balances_and_errors(http, devnet):
    k = KEYS["rest"]
    acc = http.get(f"/chain-api/cosmos/auth/v1beta1/accounts/{k.address}").json()["account"]
    assert acc == {"@type": "/cosmos.auth.v1beta1.BaseAccount", "address": k.address, "pub_key": None,
                   "account_number": acc["account_number"], "sequence": "0"}
    vest = http.get(f"/chain-api/cosmos/auth/v1beta1/accounts/{VESTING.address}").json()["account"]
    assert vest["@type"] == "/cosmos.vesting.v1beta1.ContinuousVestingAccount"
    assert vest["base_vesting_account"]["base_account"]["address"] == VESTING.address
    assert vest["base_vesting_account"]["original_vesting"] == [{"denom": "ngonka", "amount": str(FUNDS)}]
    missing = http.get(f"/chain-api/cosmos/auth/v1beta1/accounts/{GHOST.address}")
    assert missing.status_code == 404
    assert missing.json() == {"code": 5, "message": f"account {GHOST.address} not found", "details": []}
    bad = http.get("/chain-api/cosmos/auth/v1beta1/accounts/gonka1notanaddress")
    assert bad.status_code == 400 and bad.json()["code"] == 3 and "invalid address" in bad.json()["message"]
    assert http.get(f"/chain-api/cosmos/bank/v1beta1/balances/{k.address}").json() == {
        "balances": [{"denom": "ngonka", "amount": str(FUNDS)}], "pagination": {"next_key": None, "total": "1"}}
    assert http.get(f"/chain-api/cosmos/bank/v1beta1/balances/{GHOST.address}").json()["balances"] == []
    assert http.get(f"/chain-api/cosmos/bank/v1beta1/balances/{k.address}/by_denom",
                    params={"denom": "ngonka"}).json() == {"balance": {"denom": "ngonka", "amount": str(FUNDS)}}
    assert http.get(f"/chain-api/cosmos/bank/v1beta1/balances/{k.address}/by_denom").status_code == 400
    spend = http.get(f"/chain-api/cosmos/bank/v1beta1/spendable_balances/{VESTING.address}").json()
    assert sum(int(c["amount"]) for c in spend["balances"]) < FUNDS // 100
    assert http.get(f"/chain-api/cosmos/bank/v1beta1/spendable_balances/{k.address}/by_denom",
                    params={"denom": "ngonka"}).json()["balance"]["amount"] == str(FUNDS)
    assert http.get(f"/chain-api/productscience/inference/streamvesting/total_vesting/{k.address}").json() == {
        "total_amount": []}
    assert http.get("/chain-api/productscience/inference/inference/params").json()["params"]["fee_params"] == {
        "min_gas_price_ngonka": "0"}
    nope = http.get("/chain-api/cosmos/staking/v1beta1/validators")
    assert nope.status_code == 404 and nope.json()["code"] == 5
    assert http.get("/no/such/route").status_code == 404 and "message" in http.get("/no/such/route").json()


def test_rest_broadcast_simulate_get_and_search(http, devnet):
    k, to = KEYS["rest"], KEYS["fee"]
    number = account_number(http, k.address)
    tx = k.send(to.address, 77, account_number=number, sequence=0, memo="rest")
    sim = http.post("/chain-api/cosmos/tx/v1beta1/simulate", json={"tx_bytes": base64.b64encode(tx).decode()})
    assert sim.status_code == 200
    gas_used = int(sim.json()["gas_info"]["gas_used"])
    assert gas_used > 0 and sim.json()["result"]["msg_responses"] == [{"@type": "/cosmos.bank.v1beta1.MsgSendResponse"}]
    r = http.post("/chain-api/cosmos/tx/v1beta1/txs", json={"tx_bytes": base64.b64encode(tx).decode(),
                                                             "mode": "BROADCAST_MODE_SYNC"}).json()["tx_response"]
    txhash = hashlib.sha256(tx).hexdigest().upper()
    assert (r["txhash"], r["code"], r["raw_log"], r["height"]) == (txhash, 0, "", "0")
    committed(http, txhash)
    got = http.get(f"/chain-api/cosmos/tx/v1beta1/txs/{txhash.lower()}").json()
    resp = got["tx_response"]
    assert (resp["txhash"], resp["code"], int(resp["gas_used"]), resp["gas_wanted"]) == (txhash, 0, gas_used, "200000")
    assert resp["tx"]["@type"] == "/cosmos.tx.v1beta1.Tx" and re.match(r"^\d{4}-.*Z$", resp["timestamp"])
    assert got["tx"]["body"]["messages"][0] == {"@type": MSG_SEND, "from_address": k.address,
                                                "to_address": to.address, "amount": [{"denom": "ngonka",
                                                                                      "amount": "77"}]}
    assert got["tx"]["body"]["memo"] == "rest" and got["tx"]["auth_info"]["fee"]["gas_limit"] == "200000"
    assert any(e["type"] == "coin_received" for e in resp["events"])
    # Simulating it again now fails as the node would: 400 with the SDK log.
    again = http.post("/chain-api/cosmos/tx/v1beta1/simulate", json={"tx_bytes": base64.b64encode(tx).decode()})
    assert again.status_code == 400 and "account sequence mismatch, expected 1, got 0" in again.json()["message"]
    # Search: query= (SDK ≥ 0.50) and the older events= form; pagination both ways.
    for params in ({"query": f"message.sender='{k.address}'", "order_by": "ORDER_BY_DESC"},
                   {"events": f"transfer.recipient='{to.address}'", "pagination.limit": "10"},
                   {"events": [f"message.sender={k.address}", f"message.action='{MSG_SEND}'"]},
                   {"query": f"transfer.recipient='{to.address}'", "page": "1", "limit": "1"},
                   {"query": f"message.sender='{k.address}'", "pagination.offset": "0", "pagination.limit": "1"}):
        data = http.get("/chain-api/cosmos/tx/v1beta1/txs", params=params).json()
        assert data["total"] == "1" and data["pagination"]["total"] == "1", params
        assert [t["txhash"] for t in data["tx_responses"]] == [txhash]
        assert data["txs"][0]["body"]["memo"] == "rest"
    empty = http.get("/chain-api/cosmos/tx/v1beta1/txs", params={"query": f"message.sender='{NOBODY.address}'"})
    assert empty.json()["total"] == "0" and empty.json()["txs"] == []
    assert http.get("/chain-api/cosmos/tx/v1beta1/txs").status_code == 400
    assert http.get("/chain-api/cosmos/tx/v1beta1/txs", params={"query": "x='"}).status_code == 400
    assert http.get(f"/chain-api/cosmos/tx/v1beta1/txs/{'AB' * 32}").json() == {
        "code": 5, "message": f"tx not found: {'AB' * 32}", "details": []}
    assert http.get("/chain-api/cosmos/tx/v1beta1/txs/xyz").status_code == 400
    for body in ({"tx_bytes": "%%%", "mode": "BROADCAST_MODE_SYNC"}, {"mode": "BROADCAST_MODE_SYNC"},
                 {"tx_bytes": base64.b64encode(tx).decode(), "mode": "BROADCAST_MODE_BLOCK"}, [1]):
        bad = http.post("/chain-api/cosmos/tx/v1beta1/txs", json=body)
        assert bad.status_code == 400 and bad.json()["code"] == 3, body
    assert http.post("/chain-api/cosmos/tx/v1beta1/txs", content=b"nope").status_code == 400
    garbage = http.post("/chain-api/cosmos/tx/v1beta1/txs", json={"tx_bytes": base64.b64encode(b"junk").decode(),
                                                                  "mode": "BROADCAST_MODE_ASYNC"})
    assert garbage.status_code == 200 and garbage.json()["tx_response"]["code"] == 2


def test_rest_block_and_node_info(http, devnet):
    latest = http.get("/chain-api/cosmos/base/tendermint/v1beta1/blocks/latest").json()
    header = latest["block"]["header"]
    assert int(header["height"]) >= 1 and header["chain_id"] == "gonka-devnet"
    assert base64.b64decode(latest["block_id"]["hash"]) and latest["sdk_block"]["header"]["proposer_address"] \
        .startswith("gonkavalcons1")
    info = http.get("/chain-api/cosmos/base/tendermint/v1beta1/node_info").json()
    assert info["default_node_info"]["network"] == "gonka-devnet"
    assert info["default_node_info"]["version"].startswith("0.38.")


def test_node_api_identity_participants_and_faucet(http, devnet):
    status = http.get("/v1/status").json()
    assert status["chain_id"] == "gonka-devnet" and status["node_address"] == devnet.node_address
    ident = http.get("/v1/identity").json()
    assert ident["data"]["address"] == devnet.node_address and ident["data"]["block"] >= 1
    node_acc = http.get(f"/chain-api/cosmos/auth/v1beta1/accounts/{devnet.node_address}").json()["account"]
    assert node_acc["account_number"] == "0"
    node_pub = base64.b64decode(node_acc["pub_key"]["key"])
    signed = json.dumps(ident["data"], separators=(",", ":"), sort_keys=True).encode()
    assert verify(node_pub, signed, base64.b64decode(ident["signature"]))

    k = KEYS["v1"]
    assert http.get(f"/v1/participants/{k.address}").status_code == 404  # funded, but no pubkey on chain yet
    assert http.get("/v1/participants/gonka1bad").status_code == 400
    wrong = http.post("/v1/participants", json={"pub_key": base64.b64encode(KEYS["rest"].pubkey).decode(),
                                                "address": k.address})
    assert wrong.status_code == 400 and "belongs to" in wrong.json()["message"]
    assert http.post("/v1/participants", json={"pub_key": "AAA", "address": k.address}).status_code == 400
    assert http.post("/v1/participants", content=b"[").status_code == 400
    ok = http.post("/v1/participants", json={"pub_key": base64.b64encode(k.pubkey).decode(), "address": k.address})
    assert ok.status_code == 200
    part = http.get(f"/v1/participants/{k.address}").json()
    assert part == {"pubkey": base64.b64encode(k.pubkey).decode(), "balance": FUNDS, "denom": "ngonka"}
    # A new account registered by key alone: created (with an account number), balance 0.
    fresh = key(4242)
    http.post("/v1/participants", json={"pub_key": base64.b64encode(fresh.pubkey).decode(), "address": fresh.address})
    assert http.get(f"/v1/participants/{fresh.address}").json()["balance"] == 0
    assert account_number(http, fresh.address) > 0

    # Faucet: a real signed tx from the node account, capped at 10,000 GNK.
    r = http.post("/faucet", json={"address": fresh.address, "amount": "2500000000"})
    assert r.status_code == 200 and r.json()["code"] == 0
    tx = committed(http, r.json()["txhash"])
    assert tx["tx_result"]["code"] == 0
    assert http.get(f"/v1/participants/{fresh.address}").json()["balance"] == 2_500_000_000
    node_seq = int(http.get(f"/chain-api/cosmos/auth/v1beta1/accounts/{devnet.node_address}").json()
                   ["account"]["sequence"])
    assert node_seq >= 1
    cap = http.post("/faucet", json={"address": fresh.address, "amount": str(10_000 * 10**9 + 1)})
    assert cap.status_code == 400 and "at most 10000000000000 ngonka (10,000 GNK)" in cap.json()["message"]
    assert http.post("/faucet", json={"address": fresh.address, "amount": str(10_000 * 10**9)}).json()["code"] == 0
    for body in ({"address": "gonka1nope", "amount": "5"}, {"address": fresh.address},
                 {"address": fresh.address, "amount": "-5"}, {"address": fresh.address, "amount": "0"}, "x"):
        bad = http.post("/faucet", json=body)
        assert bad.status_code == 400 and bad.json()["message"], body


def test_min_gas_price_is_published_and_enforced(tmp_path):
    k = key(300)
    with start_in_thread(tmp_path / "priced", block_time=0.1, min_gas_price="0.5",
                         funds=[Fund(k.address, FUNDS)]) as d, httpx.Client(base_url=d.url, timeout=10) as http:
        assert http.get("/chain-api/productscience/inference/inference/params").json()["params"]["fee_params"] == {
            "min_gas_price_ngonka": "0.5"}
        number = account_number(http, k.address)
        low = k.send(NOBODY.address, 1, account_number=number, sequence=0, fee=99_999, gas=200_000)
        r = http.post("/chain-api/cosmos/tx/v1beta1/txs", json={"tx_bytes": base64.b64encode(low).decode(),
                                                                 "mode": "BROADCAST_MODE_SYNC"}).json()
        assert r["tx_response"]["code"] == 13
        assert r["tx_response"]["raw_log"] == ("insufficient fees; got: 99999ngonka required: 100000ngonka: "
                                              "insufficient fee")
        good = k.send(NOBODY.address, 1, account_number=number, sequence=0, fee=100_000, gas=200_000)
        assert rpc(http, "broadcast_tx_sync", tx=base64.b64encode(good).decode())["code"] == 0
        committed(http, hashlib.sha256(good).hexdigest().upper())
        fc = http.get(f"/chain-api/cosmos/bank/v1beta1/balances/{FEE_COLLECTOR_ADDRESS}").json()
        assert fc["balances"] == [{"denom": "ngonka", "amount": "100000"}]
        assert http.get(f"/chain-api/cosmos/auth/v1beta1/accounts/{FEE_COLLECTOR_ADDRESS}").json()["account"][
            "@type"] == "/cosmos.auth.v1beta1.ModuleAccount"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=400))
def test_random_bytes_never_crash_the_server(http, data):
    b64 = base64.b64encode(data).decode()
    r = http.post("/chain-rpc/", json={"jsonrpc": "2.0", "id": 1, "method": "broadcast_tx_sync", "params": {"tx": b64}})
    assert r.status_code in (200, 400)
    body = r.json()
    assert ("error" in body) if not data else body["result"]["code"] != 0
    rest = http.post("/chain-api/cosmos/tx/v1beta1/txs", json={"tx_bytes": b64, "mode": "BROADCAST_MODE_SYNC"})
    assert rest.status_code in (200, 400)
    if rest.status_code == 200:
        assert rest.json()["tx_response"]["code"] != 0
    sim = http.post("/chain-api/cosmos/tx/v1beta1/simulate", json={"tx_bytes": b64})
    assert sim.status_code == 400
    q = http.get("/chain-rpc/abci_query", params={"path": '"/cosmos.auth.v1beta1.Query/Account"',
                                                   "data": "0x" + data.hex()})
    assert q.status_code == 200 and "response" in q.json()["result"]
    assert http.get("/health").status_code == 200


def test_oversized_bodies_are_refused_as_json(http):
    big = b"x" * (3 * 1024 * 1024)
    for path in ("/chain-rpc/", "/chain-api/cosmos/tx/v1beta1/txs", "/faucet"):
        r = http.post(path, content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "too large" in json.dumps(r.json()), path
    assert http.get("/health").json()["status"] == "ok"
