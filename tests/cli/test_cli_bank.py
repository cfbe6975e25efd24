"""Tokens end to end as a user types them: balance, send, history, tx show, tx sign-send, fail-over,
over-spend and fee rules, against a real devnet (in-process, on a free port)."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from gonka_tui.devnet.genesis import Fund
from gonka_tui.devnet.server import start_in_thread
from gonka_tui.devnet.testkit import key, wait_until
from tests.conftest import ABANDON, ABANDON_1200, ABANDON_118, CLOSED_NODE, LEGAL

GNK = 10**9
NEW = key(701).address  # never seen before: a fresh recipient


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    funds = [Fund(ABANDON_1200, 1000 * GNK), Fund(ABANDON_118, 3 * GNK)]
    with start_in_thread(tmp_path_factory.mktemp("devnet"), block_time=0.1, funds=funds) as d:
        yield d


@pytest.fixture(scope="module")
def priced(tmp_path_factory):
    """A devnet whose minimum gas price is 1 ngonka/gas (as v0.2.16 may have set it)."""
    with start_in_thread(tmp_path_factory.mktemp("priced"), block_time=0.1, min_gas_price=1,
                         funds=[Fund(ABANDON_1200, 1000 * GNK)]) as d:
        yield d


@pytest.fixture
def cli(gonka, devnet):
    """`gonka` with the devnet as its node and the 'abandon' key recovered as 'alice'."""

    def run(*args, node=devnet.url, **kw):
        env = {"GONKA_NODE": node, **kw.pop("env", {})}
        return gonka(*args, env=env, **kw)

    assert run("keys", "add", "alice", "--recover", input=ABANDON).code == 0
    return run


def sequence(devnet, address) -> int:
    r = httpx.get(f"{devnet.url}/chain-api/cosmos/auth/v1beta1/accounts/{address}")
    return int(r.json()["account"]["sequence"]) if r.status_code == 200 else -1


def test_balance_by_name_and_address(cli):
    r = cli("balance", "alice", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["address"] == ABANDON_1200
    assert data["balances"] == [{"denom": "ngonka", "amount": str(1000 * GNK - sent_so_far(cli))}]
    text = cli("balance", ABANDON_118).out
    assert "3 GNK" in text and "spendable" in text


def sent_so_far(cli) -> int:
    """What alice has spent in earlier tests of this module (amounts and fees)."""
    hist = cli("history", "alice", "--json", "--limit", "100").json()["txs"]
    return -sum(int(t["net"]) for t in hist)


def test_send_end_to_end_with_both_histories(cli, devnet):
    before = sent_so_far(cli)
    r = cli("send", "alice", NEW, "1.5gnk", "--memo", "first", "--yes", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["code"] == 0 and out["height"] > 0 and len(out["txhash"]) == 64
    assert base64.b64decode(out["tx_bytes"])
    assert cli("balance", NEW, "--json").json()["balances"] == [{"denom": "ngonka", "amount": "1500000000"}]
    assert sent_so_far(cli) == before + 1_500_000_000  # fee 0 on this devnet
    mine = cli("history", "alice", "--json").json()["txs"]
    theirs = cli("history", NEW, "--json").json()["txs"]
    assert mine[0]["txhash"] == theirs[0]["txhash"] == out["txhash"]
    assert (mine[0]["direction"], theirs[0]["direction"]) == ("out", "in")
    assert theirs[0]["net"] == "1500000000" and mine[0]["memo"] == "first"
    shown = cli("tx", "show", out["txhash"], "--json").json()
    assert shown["transfers"] == [{"from": ABANDON_1200, "to": NEW, "amount": "1500000000"}]
    assert shown["height"] == out["height"] and shown["fee"] == "0"
    text = cli("tx", "show", out["txhash"].lower()).out
    assert "1.5 GNK" in text and "status    ok" in text


def test_send_summary_and_confirmation(cli, devnet):
    seq = sequence(devnet, ABANDON_1200)
    r = cli("send", "alice", NEW, "1gnk")  # stdin is not a terminal and no --yes
    assert r.code == 1 and "--yes" in r.err
    for label in ("From", "To", "Amount", "Fee", "Gas", "Chain"):
        assert label in r.err
    assert "0 GNK (0 ngonka)" in r.err  # the fee is shown even when it is 0
    assert sequence(devnet, ABANDON_1200) == seq  # nothing was signed or sent


def test_over_spend_is_refused_before_signing(cli, devnet):
    seq = sequence(devnet, ABANDON_1200)
    r = cli("send", "alice", NEW, "5000gnk", "--yes")
    assert r.code == 1 and "not enough spendable funds" in r.err
    assert sequence(devnet, ABANDON_1200) == seq


@pytest.mark.parametrize("args,message", [
    (["1.5"], "no denom"), (["-1gnk"], "negative"), (["0gnk"], "more than zero"),
    (["1gnk", "--memo", "x" * 257], "257 bytes"), (["1gnk", "--gas", "lots"], "--gas"),
])
def test_bad_input_is_one_line(cli, args, message):
    r = cli("send", "alice", NEW, *args, "--yes")
    assert r.code != 0 and message in r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


def test_bad_recipient(cli):
    r = cli("send", "alice", NEW[:-1] + ("q" if NEW[-1] != "q" else "p"), "1gnk", "--yes")
    assert r.code == 1 and "checksum" in r.err


def test_watch_only_cannot_send(cli):
    cli("keys", "add-watch", "cold", ABANDON_118)
    r = cli("send", "cold", NEW, "1gnk", "--yes")
    assert r.code == 1 and "watch-only" in r.err


def test_fee_from_the_chain_minimum_gas_price(cli, priced):
    r = cli("send", "alice", NEW, "1gnk", "--yes", "--json", node=priced.url)
    assert r.code == 0, r.err
    shown = cli("tx", "show", r.json()["txhash"], "--json", node=priced.url).json()
    assert int(shown["fee"]) == int(shown["gas_wanted"]) > 0  # 1 ngonka per gas
    r = cli("send", "alice", NEW, "1gnk", "--fees", "0ngonka", "--yes", node=priced.url)
    assert r.code == 1 and "below the network's minimum" in r.err
    r = cli("send", "alice", NEW, "1gnk", "--gas", "50", "--fees", "50ngonka", "--yes", node=priced.url)
    assert r.code == 1 and "out of gas" in r.err


def test_offline_signing_then_broadcast(cli, devnet):
    seq = sequence(devnet, ABANDON_1200)
    account = httpx.get(f"{devnet.url}/chain-api/cosmos/auth/v1beta1/accounts/{ABANDON_1200}").json()["account"]
    r = cli("tx", "sign-send", "alice", NEW, "2gnk", "--offline", "--account-number", account["account_number"],
            "--sequence", str(seq), "--chain-id", "gonka-devnet", "--gas", "200000", "--fees", "0ngonka", "--json",
            node=CLOSED_NODE)  # no network needed at all
    assert r.code == 0, r.err
    signed = r.json()
    reply = httpx.post(f"{devnet.url}/chain-api/cosmos/tx/v1beta1/txs",
                       json={"tx_bytes": signed["tx_bytes"], "mode": "BROADCAST_MODE_SYNC"}).json()
    assert reply["tx_response"]["code"] == 0 and reply["tx_response"]["txhash"] == signed["txhash"]
    wait_until(lambda: cli("tx", "show", signed["txhash"], "--json").code == 0, "offline tx committed")
    r = cli("tx", "sign-send", "alice", NEW, "2gnk", "--offline", "--chain-id", "x", node=CLOSED_NODE)
    assert r.code == 1 and "--account-number" in r.err and "--gas" in r.err


def test_fail_over_to_the_next_node(cli, devnet, home):
    (home / "config.toml").write_text(
        f'[networks.multi]\nchain_id = "gonka-devnet"\nnodes = ["{CLOSED_NODE}", "{devnet.url}"]\n')
    r = cli("--network", "multi", "balance", "alice", "--json", env={"GONKA_NODE": ""})
    assert r.code == 0, r.err
    (home / "config.toml").write_text(
        f'[networks.dead]\nchain_id = "gonka-devnet"\nnodes = ["{CLOSED_NODE}", "http://127.0.0.1:7"]\n')
    r = cli("--network", "dead", "balance", "alice", env={"GONKA_NODE": ""})
    assert r.code == 1 and CLOSED_NODE in r.err and "127.0.0.1:7" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_wrong_chain_profile_is_refused(cli, devnet, home):
    (home / "config.toml").write_text(f'[networks.other]\nchain_id = "gonka-mainnet"\nnodes = ["{devnet.url}"]\n')
    seq = sequence(devnet, ABANDON_1200)
    r = cli("--network", "other", "send", "alice", NEW, "1gnk", "--yes", env={"GONKA_NODE": ""})
    assert r.code == 1 and "gonka-devnet" in r.err and "gonka-mainnet" in r.err
    assert sequence(devnet, ABANDON_1200) == seq


def test_recover_reports_where_the_funds_are(gonka, devnet):
    r = gonka("keys", "add", "old", "--recover", input=ABANDON, env={"GONKA_NODE": devnet.url})
    assert r.code == 0, r.err
    lines = {line.split()[0]: line for line in r.err.splitlines() if re.match(r"^ *[0-9]+ ", line)}
    assert "holds" in lines["1200"] and "← saved" in lines["1200"]
    assert "holds 3 GNK" in lines["118"]
    assert "empty" in lines["60"]
    r = gonka("keys", "add", "fresh", "--recover", input=LEGAL, env={"GONKA_NODE": devnet.url})
    assert r.code == 0 and "empty" in r.err and "funds are at" not in r.err


def test_tx_show_unknown_and_malformed(cli):
    r = cli("tx", "show", "AB" * 32)
    assert r.code == 1 and "not found" in r.err
    r = cli("tx", "show", "xyz")
    assert r.code == 1 and "64 hexadecimal" in r.err


def test_history_pages(cli):
    for _ in range(2):
        assert cli("send", "alice", ABANDON_118, "1ngonka", "--yes").code == 0
    first = cli("history", "alice", "--json", "--limit", "1").json()
    second = cli("history", "alice", "--json", "--limit", "1", "--page", "2").json()
    assert first["more"] and len(first["txs"]) == len(second["txs"]) == 1
    assert first["txs"][0]["txhash"] != second["txs"][0]["txhash"]
    assert first["txs"][0]["height"] >= second["txs"][0]["height"]
