"""The devnet's chain rules, driven directly (no HTTP): every ante error with its SDK code and log,
a refused tx changing nothing, pipelined sequences, the mempool, blocks, events, gas, vesting."""

from __future__ import annotations

import base64
import hashlib
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gonka_tui.core.proto.cosmos.bank.v1beta1 import tx_pb2 as bank_tx
from gonka_tui.core.proto.cosmos.tx.v1beta1 import service_pb2, tx_pb2
from gonka_tui.core.secp256k1 import N
from gonka_tui.core.tx import (MSG_SEND, Fee, coin, decode_tx, encode_auth_info, encode_sign_doc, encode_tx_raw,
                               msg_send, pack_any)
from gonka_tui.devnet import abci
from gonka_tui.devnet.accounts import FEE_COLLECTOR_ADDRESS
from gonka_tui.devnet.ante import gas_for
from gonka_tui.devnet.chain import Chain
from gonka_tui.devnet.genesis import NODE_FUNDS, Fund
from gonka_tui.devnet.testkit import CHAIN_ID, key

ALICE, BOB, EVE, VERA = key(1), key(2), key(3), key(4)
ALICE_FUNDS = 10**12
EVE_FUNDS = 5 * 10**9
VERA_FUNDS = 100 * 10**9
VEST_SECONDS = 1000


def open_chain(path, min_gas_price=Fraction(0)) -> Chain:
    chain, notes = Chain.open(path, min_gas_price=min_gas_price, funds=[
        Fund(ALICE.address, ALICE_FUNDS), Fund(EVE.address, EVE_FUNDS),
        Fund(VERA.address, VERA_FUNDS, vesting_seconds=VEST_SECONDS)])
    assert notes == []
    return chain


@pytest.fixture
def chain(tmp_path):
    c = open_chain(tmp_path / "devnet")
    yield c
    c.close()


def build(k=ALICE, msgs=None, *, seq=0, acc=1, fee=0, gas=200_000, memo="", chain_id=CHAIN_ID, sigs=None,
          signer_key=None, mode=1, pubkey=True, body=None, fee_denom="ngonka") -> bytes:
    """A tx signed (SIGN_MODE_DIRECT) by `signer_key` (default k), with everything overridable."""
    signer_key = signer_key or k
    if msgs is None:
        msgs = [msg_send(k.address, BOB.address, 5)]
    body_bytes = body if body is not None else tx_pb2.TxBody(messages=msgs, memo=memo).SerializeToString()
    info = tx_pb2.SignerInfo(mode_info=tx_pb2.ModeInfo(single=tx_pb2.ModeInfo.Single(mode=mode)), sequence=seq)
    if pubkey:
        info.public_key.CopyFrom(tx_pb2.SignerInfo.FromString(
            tx_pb2.AuthInfo.FromString(encode_auth_info(signer_key.pubkey, seq, Fee(0, 1))).signer_infos[0]
            .SerializeToString()).public_key)
    auth = tx_pb2.AuthInfo(signer_infos=[info], fee=tx_pb2.Fee(
        amount=[coin(fee, fee_denom)] if fee else [], gas_limit=gas)).SerializeToString()
    if sigs is None:
        sigs = [signer_key.signer.sign(encode_sign_doc(body_bytes, auth, chain_id, acc))]
    return encode_tx_raw(body_bytes, auth, sigs)


def snapshot(chain: Chain):
    return (sorted(a.record() for a in chain.ledger.accounts.values()),
            sorted(a.record() for a in chain.check.accounts.values()),
            [p.hash for p in chain.mempool], chain.check.next_number, chain.ledger.next_number, chain.height)


def high_s(tx: bytes) -> bytes:
    raw = tx_pb2.TxRaw.FromString(tx)
    sig = raw.signatures[0]
    s = int.from_bytes(sig[32:], "big")
    raw.signatures[0] = sig[:32] + (N - s).to_bytes(32, "big")
    return raw.SerializeToString()


def forged(tx: bytes) -> bytes:
    raw = tx_pb2.TxRaw.FromString(tx)
    sig = bytearray(raw.signatures[0])
    sig[10] ^= 0x01
    raw.signatures[0] = bytes(sig)
    return raw.SerializeToString()


def unsigned(tx: bytes) -> bytes:
    raw = tx_pb2.TxRaw.FromString(tx)
    del raw.signatures[:]
    return raw.SerializeToString()


def bad_send(frm: str, to: str, amount: str = "5", denom: str = "ngonka"):
    return pack_any(MSG_SEND, bank_tx.MsgSend(from_address=frm, to_address=to,
                                              amount=[bank_tx.MsgSend().amount.add(denom=denom, amount=amount)]))


REFUSALS = [
    ("random bytes", lambda: b"\x8f\x03random garbage \xff\x00", 2, "tx parse error"),
    ("truncated tx", lambda: build()[:-7], 2, "tx parse error"),
    ("no signatures", lambda: unsigned(build()), 15, "no signatures supplied"),
    ("two signatures, one signer", lambda: build(sigs=[b"\x01" * 64, b"\x02" * 64]), 4,
     "wrong number of signatures; expected 1, got 2: unauthorized"),
    ("unknown message type", lambda: build(msgs=[pack_any("/cosmos.staking.v1beta1.MsgDelegate", bank_tx.MsgSend())]),
     6, "unrecognized message type: /cosmos.staking.v1beta1.MsgDelegate: unknown request"),
    ("memo too large", lambda: build(memo="m" * 257), 12,
     "maximum number of characters is 256 but received 257 characters: memo too large"),
    ("invalid recipient", lambda: build(msgs=[bad_send(ALICE.address, BOB.address[:-1] + "q")]), 7,
     "invalid to address: address checksum is wrong"),
    ("invalid sender prefix", lambda: build(msgs=[bad_send("cosmos1k4swv40ur28fvu54p8mskjj4lxkgsj07ldnx8k",
                                                           BOB.address)]), 7, "invalid from address: "),
    ("zero amount", lambda: build(msgs=[bad_send(ALICE.address, BOB.address, "0")]), 10, "invalid coins"),
    ("other denom", lambda: build(msgs=[bad_send(ALICE.address, BOB.address, "5", "uatom")]), 10,
     "5uatom: the only denom on this chain is ngonka: invalid coins"),
    ("unknown sender", lambda: build(BOB, acc=9), 9, f"account {BOB.address} does not exist: unknown address"),
    ("someone else's key", lambda: build(EVE, signer_key=ALICE, acc=2), 8,
     f"pubKey does not match signer address {EVE.address} with signer index: 0: invalid pubkey"),
    ("no pubkey anywhere", lambda: build(EVE, acc=2, pubkey=False), 8, "pubkey on account is not set: invalid pubkey"),
    ("sequence ahead", lambda: build(seq=5), 32,
     "account sequence mismatch, expected 0, got 5: incorrect account sequence"),
    ("forged signature", lambda: forged(build()), 4,
     "signature verification failed; please verify account number (1), sequence (0) and chain-id (gonka-devnet): "
     "unauthorized"),
    ("high-S signature", lambda: high_s(build()), 4, "signature verification failed"),
    ("wrong chain id", lambda: build(chain_id="gonka-mainnet"), 4, "chain-id (gonka-devnet): unauthorized"),
    ("wrong account number", lambda: build(acc=7), 4, "account number (1)"),
    ("amino sign mode", lambda: build(mode=127), 4, "SIGN_MODE_LEGACY_AMINO_JSON is not supported"),
    ("fee in another denom", lambda: build(fee=10, fee_denom="uatom"), 13, "only ngonka is accepted as fee"),
    ("out of gas", lambda: build(gas=1000), 11, "gasWanted: 1000, gasUsed: "),
    ("over-spend", lambda: build(msgs=[msg_send(ALICE.address, BOB.address, ALICE_FUNDS + 1)]), 5,
     f"spendable balance {ALICE_FUNDS}ngonka is smaller than {ALICE_FUNDS + 1}ngonka: insufficient funds"),
    ("over-spend with the fee", lambda: build(msgs=[msg_send(ALICE.address, BOB.address, ALICE_FUNDS - 5)], fee=6),
     5, f"spendable balance {ALICE_FUNDS}ngonka is smaller than {ALICE_FUNDS + 1}ngonka: insufficient funds"),
    ("two senders, one signature", lambda: build(msgs=[msg_send(ALICE.address, BOB.address, 1),
                                                       msg_send(EVE.address, BOB.address, 1)]), 4,
     "invalid number of signer; expected: 2, got 1: unauthorized"),
]


@pytest.mark.parametrize("name,make,code,log", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_tx_has_sdk_code_and_changes_nothing(chain, name, make, code, log):
    before = snapshot(chain)
    result = chain.broadcast(make())
    assert (result.code, result.codespace) == (code, "sdk"), result.log
    assert log in result.log
    if code != 2:
        assert result.log.endswith(": " + {4: "unauthorized", 5: "insufficient funds", 6: "unknown request",
                                            7: "invalid address", 8: "invalid pubkey", 9: "unknown address",
                                            10: "invalid coins", 11: "out of gas", 12: "memo too large",
                                            13: "insufficient fee", 15: "no signatures supplied",
                                            32: "incorrect account sequence"}[code]) or code == 15
    assert snapshot(chain) == before
    chain.produce_block()
    assert chain.account(ALICE.address).balance == ALICE_FUNDS
    assert chain.account(ALICE.address).sequence == 0


def test_send_commits_with_balances_sequences_and_events(chain):
    tx = build(fee=250, memo="hello")
    result = chain.broadcast(tx)
    assert (result.code, result.log) == (0, "")
    assert result.hash == hashlib.sha256(tx).hexdigest().upper()
    assert chain.account(BOB.address) is None  # nothing is committed before the block
    block = chain.produce_block()
    assert block.num_txs == 1
    alice, bob = chain.account(ALICE.address), chain.account(BOB.address)
    assert (alice.balance, alice.sequence, alice.pubkey) == (ALICE_FUNDS - 255, 1, ALICE.pubkey)
    # Accounts are made when they first receive funds, numbered in that order: the fee collector
    # (paid first), then the recipient.
    collector = chain.account(FEE_COLLECTOR_ADDRESS)
    assert (collector.balance, collector.number, collector.module) == (250, 4, "fee_collector")
    assert (bob.balance, bob.number) == (5, 5)
    rec = chain.tx(result.hash)
    assert (rec.height, rec.index, rec.result["code"], rec.tx_bytes) == (block.height, 0, 0, tx)
    events = [(e["type"], [(a["key"], a["value"]) for a in e["attributes"]]) for e in rec.result["events"]]
    a, b, fc = ALICE.address, BOB.address, FEE_COLLECTOR_ADDRESS
    sig = base64.b64encode(tx_pb2.TxRaw.FromString(tx).signatures[0]).decode()
    assert events == [
        ("coin_spent", [("spender", a), ("amount", "250ngonka")]),
        ("coin_received", [("receiver", fc), ("amount", "250ngonka")]),
        ("transfer", [("recipient", fc), ("sender", a), ("amount", "250ngonka")]),
        ("message", [("sender", a)]),
        ("tx", [("fee", "250ngonka"), ("fee_payer", a)]),
        ("tx", [("acc_seq", f"{a}/0")]),
        ("tx", [("signature", sig)]),
        ("message", [("action", MSG_SEND), ("sender", a), ("module", "bank"), ("msg_index", "0")]),
        ("coin_spent", [("spender", a), ("amount", "5ngonka"), ("msg_index", "0")]),
        ("coin_received", [("receiver", b), ("amount", "5ngonka"), ("msg_index", "0")]),
        ("transfer", [("recipient", b), ("sender", a), ("amount", "5ngonka"), ("msg_index", "0")]),
        ("message", [("sender", a), ("msg_index", "0")]),
    ]
    assert int(rec.result["gas_used"]) == gas_for(len(tx), 1, [len(tx_pb2.TxBody.FromString(
        tx_pb2.TxRaw.FromString(tx).body_bytes).messages[0].value)])
    for query in (f"message.sender='{a}'", f"transfer.recipient='{b}'", f"tx.hash='{result.hash}'",
                  f"tx.acc_seq='{a}/0'", f"message.action='{MSG_SEND}' AND transfer.sender='{a}'",
                  f"tx.height={block.height}"):
        total, found = chain.search(query)
        assert (total, [r.hash for r in found]) == (1, [result.hash]), query
    assert chain.search(f"transfer.recipient='{a}'")[0] == 0


def test_zero_fee_fee_event_absent(chain):
    assert chain.broadcast(build()).code == 0
    chain.produce_block()
    rec = chain.search(f"message.sender='{ALICE.address}'")[1][0]
    types = [e["type"] for e in rec.result["events"]]
    assert types[:3] == ["tx", "tx", "tx"] and "250" not in str(rec.result["events"])
    assert rec.result["events"][0]["attributes"][0] == {"key": "fee", "value": "", "index": True}
    assert chain.account(FEE_COLLECTOR_ADDRESS) is None


def test_pipelined_sequences_and_mempool(chain):
    txs = [build(seq=s, msgs=[msg_send(ALICE.address, BOB.address, 10 + s)]) for s in range(5)]
    for tx in txs:
        assert chain.broadcast(tx).code == 0
    # The same bytes again while they wait in the mempool: 19; a later sequence skipped: 32.
    dup = chain.broadcast(txs[2])
    assert (dup.code, dup.log) == (19, "tx already in mempool")
    assert chain.broadcast(build(seq=7)).code == 32
    block = chain.produce_block()
    assert block.num_txs == 5
    assert [chain.tx(hashlib.sha256(t).hexdigest()).index for t in txs] == [0, 1, 2, 3, 4]
    assert chain.account(ALICE.address).sequence == 5
    assert chain.account(BOB.address).balance == sum(10 + s for s in range(5))
    # Replaying a committed tx: its sequence is old now.
    replay = chain.broadcast(txs[0])
    assert (replay.code, replay.log) == (32, "account sequence mismatch, expected 5, got 0: incorrect account sequence")
    total, page = chain.search(f"message.sender='{ALICE.address}'", per_page=2, page=2, descending=True)
    assert total == 5 and [r.hash for r in page] == [hashlib.sha256(t).hexdigest().upper() for t in txs[2:0:-1]]


def test_check_state_counts_mempool_spends(chain):
    half = ALICE_FUNDS // 2
    assert chain.broadcast(build(msgs=[msg_send(ALICE.address, BOB.address, half)])).code == 0
    second = chain.broadcast(build(seq=1, msgs=[msg_send(ALICE.address, BOB.address, half + 1)]))
    assert second.code == 5 and f"spendable balance {ALICE_FUNDS - half}ngonka" in second.log


def test_multiple_sends_in_one_tx(chain):
    tx = build(msgs=[msg_send(ALICE.address, BOB.address, 3), msg_send(ALICE.address, EVE.address, 4)])
    assert chain.broadcast(tx).code == 0
    chain.produce_block()
    assert chain.account(BOB.address).balance == 3
    assert chain.account(EVE.address).balance == EVE_FUNDS + 4
    rec = chain.tx(hashlib.sha256(tx).hexdigest())
    assert [a["value"] for e in rec.result["events"] for a in e["attributes"] if a["key"] == "msg_index"] \
        == ["0"] * 5 + ["1"] * 5


def test_insufficient_fee_with_a_min_gas_price(tmp_path):
    chain = open_chain(tmp_path / "priced", min_gas_price=Fraction(1, 10))
    try:
        before = snapshot(chain)
        low = chain.broadcast(build(fee=0, gas=100_000))
        assert (low.code, low.log) == (13, "insufficient fees; got: 0ngonka required: 10000ngonka: insufficient fee")
        assert chain.broadcast(build(fee=9_999, gas=100_000)).code == 13
        assert snapshot(chain) == before
        ok = chain.broadcast(build(fee=10_000, gas=100_000))
        assert ok.code == 0
        chain.produce_block()
        assert chain.account(FEE_COLLECTOR_ADDRESS).balance == 10_000
        # The node's own transfers (faucet) pay the price too.
        assert chain.faucet(BOB.address, 7).code == 0
        chain.produce_block()
        assert chain.account(BOB.address).balance == 12
    finally:
        chain.close()


def test_simulate_gas_is_deterministic_and_matches_delivery(chain):
    tx = build()
    first, second = chain.simulate(tx), chain.simulate(tx)
    assert first.ok and (first.gas_used, first.events) == (second.gas_used, second.events)
    # cosmjs simulates with an empty signature, SIGN_MODE_UNSPECIFIED and no fee: no signature check,
    # and the empty signature counts as 64 bytes, so the gas is that of the same tx signed.
    cosm = build(sigs=[b""], mode=0, gas=0)
    sim = chain.simulate(cosm)
    assert sim.ok and sim.gas_used == gas_for(len(cosm) + 64, 1, [len(decode_tx(cosm).body.messages[0].value)])
    assert snapshot(chain)[2] == [] and chain.account(ALICE.address).sequence == 0  # simulate changes nothing
    assert chain.broadcast(tx).code == 0
    chain.produce_block()
    assert int(chain.tx(hashlib.sha256(tx).hexdigest()).result["gas_used"]) == first.gas_used
    # Through abci_query: a SimulateResponse, or the error as a code and log.
    req = service_pb2.SimulateRequest(tx_bytes=tx).SerializeToString()
    r = abci.query(chain, "/cosmos.tx.v1beta1.Service/Simulate", req)
    assert (r.code, r.codespace) == (32, "sdk") and "account sequence mismatch, expected 1, got 0" in r.log
    ok = abci.query(chain, "/cosmos.tx.v1beta1.Service/Simulate",
                    service_pb2.SimulateRequest(tx_bytes=build(seq=1)).SerializeToString())
    resp = service_pb2.SimulateResponse.FromString(ok.value)
    assert ok.code == 0 and resp.gas_info.gas_used > 0 and resp.result.msg_responses[0].type_url.endswith(
        "MsgSendResponse")


def test_vesting_spendable_follows_the_sdk_formula(chain):
    vera = chain.account(VERA.address)
    start = vera.vesting.start_time
    assert vera.vesting.end_time - start == VEST_SECONDS
    assert chain.spendable(vera) == 0 and vera.balance == VERA_FUNDS
    assert chain.broadcast(build(VERA, acc=vera.number, msgs=[msg_send(VERA.address, BOB.address, 1)])).code == 5
    # A quarter of the way: a quarter is vested and spendable.
    chain.produce_block(now_ns=(start + VEST_SECONDS // 4) * 1_000_000_000)
    assert chain.spendable(chain.account(VERA.address)) == VERA_FUNDS // 4
    too_much = chain.broadcast(build(VERA, acc=vera.number, msgs=[msg_send(VERA.address, BOB.address,
                                                                           VERA_FUNDS // 4 + 1)]))
    assert too_much.code == 5 and f"spendable balance {VERA_FUNDS // 4}ngonka" in too_much.log
    assert chain.broadcast(build(VERA, acc=vera.number, msgs=[msg_send(VERA.address, BOB.address,
                                                                       VERA_FUNDS // 4)])).code == 0
    chain.produce_block(now_ns=(start + VEST_SECONDS // 4 + 1) * 1_000_000_000)
    vera = chain.account(VERA.address)
    assert vera.balance == VERA_FUNDS * 3 // 4
    # Spent coins come out of the vested part: locked stays what the schedule says.
    assert chain.spendable(vera) == max(vera.balance - vera.vesting.locked(start + VEST_SECONDS // 4 + 1), 0)
    chain.produce_block(now_ns=(start + VEST_SECONDS) * 1_000_000_000)
    assert chain.spendable(chain.account(VERA.address)) == VERA_FUNDS * 3 // 4


def test_genesis_accounts_numbers_and_node_account(chain):
    node = chain.account(chain.node_address)
    assert (node.number, node.balance, node.pubkey) == (0, NODE_FUNDS, chain.node_signer.pubkey)
    assert [chain.account(k.address).number for k in (ALICE, EVE, VERA)] == [1, 2, 3]
    assert chain.height == 1


def test_faucet_is_a_real_signed_tx_with_a_cap(chain):
    result = chain.faucet(BOB.address, 10**9)
    assert result.code == 0
    chain.produce_block()
    rec = chain.tx(result.hash)
    assert rec.result["code"] == 0
    decoded = decode_tx(rec.tx_bytes)
    assert decoded.signers[0].pubkey == chain.node_signer.pubkey and decoded.body.memo == "faucet"
    assert chain.account(BOB.address).balance == 10**9
    assert chain.account(chain.node_address).sequence == 1
    with pytest.raises(Exception, match="at most 10000000000000 ngonka"):
        chain.faucet(BOB.address, 10_000 * 10**9 + 1)


def test_register_pubkey_creates_account_and_keeps_mempool(chain):
    assert chain.broadcast(build()).code == 0
    acc = chain.register_pubkey(BOB.address, BOB.pubkey)
    assert (acc.pubkey, acc.balance) == (BOB.pubkey, 0)
    assert len(chain.mempool) == 1  # rechecked, still valid
    with pytest.raises(Exception, match="belongs to"):
        chain.register_pubkey(EVE.address, BOB.pubkey)
    chain.produce_block()
    assert chain.account(BOB.address).balance == 5 and chain.account(BOB.address).pubkey == BOB.pubkey


def test_full_mempool_refuses_until_the_next_block(chain, monkeypatch):
    monkeypatch.setattr("gonka_tui.devnet.chain.MAX_MEMPOOL_TXS", 2)
    assert [chain.broadcast(build(seq=s)).code for s in range(2)] == [0, 0]
    full = chain.broadcast(build(seq=2))
    assert (full.code, full.codespace) == (20, "sdk") and full.log.endswith("mempool is full")
    chain.produce_block()
    assert chain.broadcast(build(seq=2)).code == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_changed_byte_of_a_signed_tx_is_refused(chain, data):
    tx = bytearray(build(fee=10, memo="property"))
    i = data.draw(st.integers(0, len(tx) - 1), label="index")
    tx[i] ^= data.draw(st.integers(1, 255), label="xor")
    before = snapshot(chain)
    result = chain.broadcast(bytes(tx))
    assert result.code != 0 and result.codespace == "sdk"
    assert snapshot(chain) == before
