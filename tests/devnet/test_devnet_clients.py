"""Real Cosmos clients, unmodified, against the devnet: the `gonka-wallet` Python package and cosmjs
(@cosmjs/stargate through node). If these work, wallets built on them work."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from gonka_wallet import ChainConfig, GonkaClient, Wallet
from gonka_wallet.dto.coin import CoinDto
from gonka_wallet.exceptions.client import TransactionNotFound

from gonka_tui.devnet.genesis import Fund
from gonka_tui.devnet.server import start_in_thread
from gonka_tui.devnet.testkit import key, wait_until
from tests.conftest import ABANDON, ABANDON_118, ABANDON_1200, REPO

JS = REPO / "tests" / "js"
FUNDS = 1000 * 10**9


def test_gonka_wallet_balance_send_and_get_tx(tmp_path):
    recipient = key(601).address
    with start_in_thread(tmp_path / "dn", block_time=0.1, funds=[Fund(ABANDON_118, FUNDS)]) as devnet:
        config = ChainConfig(chain_id="gonka-devnet", fee_denom="ngonka", address_prefix="gonka",
                             node_chain_rpc_url=f"{devnet.url}/chain-rpc", node_chain_api_url=f"{devnet.url}/chain-api")
        wallet = Wallet.from_mnemonic(ABANDON, config)  # coin type 118, as the package derives
        assert wallet.address == ABANDON_118
        with GonkaClient(config, timeout=10) as client:
            balance = client.balance(wallet.address)
            assert balance.is_success and [(c.denom, c.amount) for c in balance.balances] == [("ngonka", str(FUNDS))]
            assert client.balance(recipient).is_empty
            sent = client.send(wallet.private_key, wallet.address, recipient, CoinDto(denom="ngonka", amount="777"),
                               memo="gonka-wallet")
            assert sent.is_success, sent.log
            assert len(sent.tx_hash) == 64

            def lookup():
                try:
                    return client.get_tx(sent.tx_hash)
                except TransactionNotFound:
                    return None
            tx = wait_until(lookup, "the gonka-wallet tx in a block")
            assert tx["tx_response"]["code"] == 0 and tx["tx"]["body"]["memo"] == "gonka-wallet"
            assert [(c.denom, c.amount) for c in client.balance(recipient).balances] == [("ngonka", "777")]
            assert client.balance(wallet.address).balances[0].amount == str(FUNDS - 777)
            assert client.vesting_balance(wallet.address).balances == []
            # Its account query (abci_query over GET) sees the new sequence; a stale one is refused.
            assert client._query.query_account(wallet.address).sequence == 1
            again = client.send(wallet.private_key, wallet.address, recipient, CoinDto(denom="ngonka", amount=str(FUNDS)))
            assert again.code == 5 and "insufficient funds" in again.log
            # An account the chain has never seen: code 22, which the package reports as not found.
            stranger = Wallet.from_private_key("11" * 32, config)
            missing = client.send(stranger.private_key, stranger.address, recipient, CoinDto(denom="ngonka", amount="1"))
            assert missing.code == 22 and "not found" in missing.log


def _skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (cosmjs needs Node.js)"
    if not (JS / "node_modules" / "@cosmjs" / "stargate").is_dir():
        return "tests/js/node_modules is missing: run `npm ci` in tests/js"
    return None


@pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")
def test_cosmjs_sends_with_explicit_and_auto_fees(tmp_path):
    recipient = key(602).address
    with start_in_thread(tmp_path / "dn", block_time=0.1, funds=[Fund(ABANDON_1200, FUNDS)]) as devnet:
        proc = subprocess.run(["node", str(JS / "cosmjs_send.mjs"), devnet.url, ABANDON, recipient],
                              capture_output=True, text=True, cwd=JS, timeout=60)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        chain = devnet.chain
    assert out["chainId"] == "gonka-devnet" and out["address"] == ABANDON_1200
    assert out["balanceBefore"] == str(FUNDS) and out["sequenceBefore"] == 0
    for name in ("explicit", "auto"):
        r = out[name]
        assert r["code"] == 0 and r["height"] > 1 and len(r["txhash"]) == 64, r
        assert r["msgResponses"] == ["/cosmos.bank.v1beta1.MsgSendResponse"]
        assert {"tx", "message", "coin_spent", "coin_received", "transfer"} <= set(r["events"])
        assert 0 < int(r["gasUsed"]) <= int(r["gasWanted"])
    assert out["explicit"]["gasWanted"] == "200000"
    # "auto": cosmjs simulated the same tx (empty signature) and asked for 1.4 × that; the simulation
    # counts the missing signature, so it is within a few bytes' gas of what the tx really used.
    assert int(out["auto"]["gasWanted"]) == round(out["simulatedGas"] * 1.4)
    assert abs(int(out["auto"]["gasUsed"]) - out["simulatedGas"]) < 500
    assert out["balanceAfter"] == str(FUNDS - 3000) and out["recipientBalance"] == "3000"
    assert out["sequenceAfter"] == 2
    assert out["getTx"]["code"] == 0 and out["getTx"]["hash"] == out["explicit"]["txhash"]
    assert out["searchBySender"] == 2
    assert chain.height >= out["auto"]["height"]
