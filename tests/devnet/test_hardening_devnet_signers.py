"""Issue 6, item 1: the devnet verifies every signer of a multi-signer tx, debits are checked for every
account before anything moves, and the ledger can never hold a negative balance."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from gonka_tui.core.errors import InputError
from gonka_tui.core.proto.cosmos.tx.v1beta1 import tx_pb2
from gonka_tui.core.tx import decode_tx, msg_send
from gonka_tui.devnet.accounts import FEE_COLLECTOR_ADDRESS, LedgerAccount
from gonka_tui.devnet.ante import Mode
from gonka_tui.devnet.chain import Chain
from gonka_tui.devnet.genesis import DB_FILE, Fund
from gonka_tui.devnet.ledger import InvariantError, Ledger, Overlay
from gonka_tui.devnet.testkit import CHAIN_ID, key, sign_msgs

ALICE, VICTIM, EMPTY, POOR, VESTED, GHOST, MALLORY, BOB = (key(n) for n in range(11, 19))
ALICE_FUNDS, VICTIM_FUNDS, POOR_FUNDS, VESTED_FUNDS = 10**12, 7 * 10**9, 1_000, 10**6
# Account numbers: 0 is the node, then the genesis funds in order; EMPTY is registered after.
NUMBER = {ALICE.address: 1, VICTIM.address: 2, POOR.address: 3, VESTED.address: 4, EMPTY.address: 5}
BY_ADDRESS = {k.address: k for k in (ALICE, VICTIM, EMPTY, POOR, VESTED, GHOST, MALLORY, BOB)}


def open_chain(path) -> Chain:
    chain, _ = Chain.open(path, funds=[Fund(ALICE.address, ALICE_FUNDS), Fund(VICTIM.address, VICTIM_FUNDS),
                                       Fund(POOR.address, POOR_FUNDS),
                                       Fund(VESTED.address, VESTED_FUNDS, vesting_seconds=10**9)])
    return chain


@pytest.fixture
def chain(tmp_path):
    c = open_chain(tmp_path / "devnet")
    # An account that exists, with its key on record, and nothing in it.
    assert c.register_pubkey(EMPTY.address, EMPTY.pubkey).number == NUMBER[EMPTY.address]
    # The victim has sent before: its pubkey is public and recorded.
    assert c.register_pubkey(VICTIM.address, VICTIM.pubkey).balance == VICTIM_FUNDS
    c.produce_block()
    yield c
    c.close()


def snapshot(chain: Chain):
    return (sorted(a.record() for a in chain.ledger.accounts.values()),
            sorted(a.record() for a in chain.check.accounts.values()),
            [p.hash for p in chain.mempool], chain.check.next_number, chain.ledger.next_number)


def supply(accounts) -> int:
    return sum(a.balance for a in accounts)


def signer(k, chain: Chain, seq_offset: int = 0):
    account = chain.check.get(k.address)
    return k, (account.number if account else 99), (account.sequence if account else 0) + seq_offset


def with_sigs(tx: bytes, sigs: list[bytes]) -> bytes:
    raw = tx_pb2.TxRaw.FromString(tx)
    del raw.signatures[:]
    raw.signatures.extend(sigs)
    return raw.SerializeToString()


def two_sends(a, b, amount_a=5, amount_b=7, to=BOB):
    return [msg_send(a.address, to.address, amount_a), msg_send(b.address, to.address, amount_b)]


def assert_refused(chain: Chain, tx: bytes, code: int, log: str):
    before = snapshot(chain)
    result = chain.broadcast(tx)
    assert (result.code, result.codespace) == (code, "sdk"), result.log
    assert log in result.log
    assert snapshot(chain) == before
    # DeliverTx refuses it too, writing nothing.
    out = chain.rules.run(chain.ledger, tx, Mode.DELIVER)
    assert out.code == code and not chain.ledger.dirty
    assert snapshot(chain) == before


# ----- the attack and its relatives -----

def test_a_victims_send_with_a_zero_signature_is_refused(chain):
    tx = sign_msgs([signer(ALICE, chain), signer(VICTIM, chain)], two_sends(ALICE, VICTIM, 1, VICTIM_FUNDS))
    attack = with_sigs(tx, [tx_pb2.TxRaw.FromString(tx).signatures[0], bytes(64)])
    assert_refused(chain, attack, 4, "signature verification failed; please verify account number (2)")
    chain.produce_block()
    assert chain.account(VICTIM.address).balance == VICTIM_FUNDS
    assert chain.account(BOB.address) is None
    assert chain.account(ALICE.address).sequence == 0


def test_a_victims_send_without_any_key_is_refused(tmp_path):
    # A victim whose key is not on record, and a SignerInfo that supplies none.
    fresh = open_chain(tmp_path / "fresh")
    try:
        tx = sign_msgs([signer(ALICE, fresh), signer(VICTIM, fresh)], two_sends(ALICE, VICTIM), omit_pubkey={1})
        assert_refused(fresh, with_sigs(tx, [tx_pb2.TxRaw.FromString(tx).signatures[0], bytes(64)]), 8,
                       "pubkey on account is not set: invalid pubkey")
    finally:
        fresh.close()


def test_coins_from_an_empty_account_are_refused_and_stay_refused_after_a_restart(chain, tmp_path):
    # Both keys are the attacker's and both signatures are valid: only the funds check stands in the way.
    tx = sign_msgs([signer(ALICE, chain), signer(EMPTY, chain)],
                   [msg_send(ALICE.address, BOB.address, 1), msg_send(EMPTY.address, ALICE.address, 10**6)])
    assert_refused(chain, tx, 5, f"{EMPTY.address}: spendable balance 0ngonka is smaller than 1000000ngonka: "
                                 "insufficient funds")
    # From an account that does not exist at all: 9.
    ghost = sign_msgs([signer(ALICE, chain), signer(GHOST, chain)],
                      [msg_send(ALICE.address, BOB.address, 1), msg_send(GHOST.address, ALICE.address, 10**6)])
    assert_refused(chain, ghost, 9, f"account {GHOST.address} does not exist: unknown address")
    # Vesting-locked coins are not spendable, even with a balance.
    locked = sign_msgs([signer(ALICE, chain), signer(VESTED, chain)], two_sends(ALICE, VESTED, 1, 10))
    assert_refused(chain, locked, 5, f"{VESTED.address}: spendable balance 0ngonka is smaller than 10ngonka")
    chain.produce_block()
    total = supply(chain.ledger.accounts.values())
    chain.close()
    reopened = open_chain(tmp_path / "devnet")
    try:
        accounts = reopened.ledger.accounts.values()
        assert min(a.balance for a in accounts) >= 0 and supply(accounts) == total
        assert reopened.account(EMPTY.address).balance == 0
        assert reopened.account(ALICE.address).balance == ALICE_FUNDS
    finally:
        reopened.close()


def test_debits_of_one_account_across_messages_are_summed_with_its_fee(chain):
    # POOR pays the fee and sends in two messages: each fits alone, together they do not.
    msgs = [msg_send(POOR.address, BOB.address, 400), msg_send(ALICE.address, BOB.address, 1),
            msg_send(POOR.address, BOB.address, 400)]
    tx = sign_msgs([signer(POOR, chain), signer(ALICE, chain)], msgs, fee=201)
    assert_refused(chain, tx, 5, f"{POOR.address}: spendable balance 1000ngonka is smaller than 1001ngonka")
    ok = sign_msgs([signer(POOR, chain), signer(ALICE, chain)], msgs, fee=200)
    assert chain.broadcast(ok).code == 0
    chain.produce_block()
    assert chain.account(POOR.address).balance == 0
    assert chain.account(FEE_COLLECTOR_ADDRESS).balance == 200


def test_signatures_in_the_wrong_order_are_refused(chain):
    tx = sign_msgs([signer(ALICE, chain), signer(VICTIM, chain)], two_sends(ALICE, VICTIM))
    sigs = list(tx_pb2.TxRaw.FromString(tx).signatures)
    assert_refused(chain, with_sigs(tx, sigs[::-1]), 4, "please verify account number (1)")


def test_a_missing_signature_or_signer_info_is_refused(chain):
    tx = sign_msgs([signer(ALICE, chain), signer(VICTIM, chain)], two_sends(ALICE, VICTIM))
    first = tx_pb2.TxRaw.FromString(tx).signatures[0]
    assert_refused(chain, with_sigs(tx, [first]), 4, "wrong number of signatures; expected 2, got 1: unauthorized")
    # One SignerInfo for two senders.
    one = sign_msgs([signer(ALICE, chain)], two_sends(ALICE, VICTIM))
    assert_refused(chain, one, 4, "invalid number of signer; expected: 2, got 1: unauthorized")
    # A third SignerInfo (and signature) nobody's message needs.
    three = sign_msgs([signer(ALICE, chain), signer(VICTIM, chain), signer(BOB, chain)], two_sends(ALICE, VICTIM))
    assert_refused(chain, three, 4, "invalid number of signer; expected: 2, got 3: unauthorized")


def test_signer_two_signed_by_the_wrong_key_is_refused(chain):
    tx = sign_msgs([signer(ALICE, chain), signer(VICTIM, chain)], two_sends(ALICE, VICTIM))
    # MALLORY signs the victim's exact SignDoc (right account number): still not the victim's key.
    forged = MALLORY.signer.sign(decode_tx(tx).sign_doc(CHAIN_ID, NUMBER[VICTIM.address]))
    assert_refused(chain, with_sigs(tx, [tx_pb2.TxRaw.FromString(tx).signatures[0], forged]), 4,
                   "please verify account number (2)")
    # MALLORY supplying her own key for the victim's SignerInfo: the key is not the victim's.
    own = sign_msgs([signer(ALICE, chain), (MALLORY, NUMBER[VICTIM.address], 0)], two_sends(ALICE, VICTIM))
    assert_refused(chain, own, 8, f"pubKey does not match signer address {VICTIM.address} with signer index: 1")
    # Nor does the first signer's key, signing both slots.
    both = ALICE.signer.sign(decode_tx(tx).sign_doc(CHAIN_ID, NUMBER[VICTIM.address]))
    assert_refused(chain, with_sigs(tx, [tx_pb2.TxRaw.FromString(tx).signatures[0], both]), 4, "account number (2)")


def test_signer_two_with_the_wrong_sequence_is_refused(chain):
    for offset in (1, -1):
        if offset < 0:  # move the victim's sequence to 1 first, then try 0 again
            assert chain.broadcast(sign_msgs([signer(VICTIM, chain)], [msg_send(VICTIM.address, BOB.address, 1)])
                                   ).code == 0
            chain.produce_block()
        tx = sign_msgs([signer(ALICE, chain), signer(VICTIM, chain, offset)], two_sends(ALICE, VICTIM))
        expected = chain.account(VICTIM.address).sequence
        assert_refused(chain, tx, 32, f"account sequence mismatch, expected {expected}, got {expected + offset}")


def test_a_valid_two_signer_tx_applies_both_sends_and_both_sequences(chain):
    before = supply(chain.ledger.accounts.values())
    # The victim's key is on record, so its SignerInfo may leave it out; the duplicate sender signs once.
    msgs = [msg_send(ALICE.address, BOB.address, 5), msg_send(VICTIM.address, BOB.address, 7),
            msg_send(ALICE.address, VICTIM.address, 11)]
    tx = sign_msgs([signer(ALICE, chain), signer(VICTIM, chain)], msgs, fee=100, omit_pubkey={1})
    result = chain.broadcast(tx)
    assert result.code == 0, result.log
    # The check state already counts both sequences: the victim's next tx pipelines on sequence 1.
    assert chain.check.get(VICTIM.address).sequence == 1
    nxt = sign_msgs([signer(VICTIM, chain)], [msg_send(VICTIM.address, BOB.address, 1)])
    assert chain.broadcast(nxt).code == 0
    chain.produce_block()
    alice, victim, bob = (chain.account(k.address) for k in (ALICE, VICTIM, BOB))
    assert (alice.balance, alice.sequence, alice.pubkey) == (ALICE_FUNDS - 100 - 5 - 11, 1, ALICE.pubkey)
    assert (victim.balance, victim.sequence, victim.pubkey) == (VICTIM_FUNDS - 7 + 11 - 1, 2, VICTIM.pubkey)
    assert bob.balance == 5 + 7 + 1
    assert chain.account(FEE_COLLECTOR_ADDRESS).balance == 100
    assert supply(chain.ledger.accounts.values()) == before
    rec = chain.tx(result.hash)
    assert rec.result["code"] == 0
    tx_attrs = [(a["key"], a["value"]) for e in rec.result["events"] if e["type"] == "tx" for a in e["attributes"]]
    assert [kv for kv in tx_attrs if kv[0] in ("fee_payer", "acc_seq")] == [
        ("fee_payer", ALICE.address), ("acc_seq", f"{ALICE.address}/0"), ("acc_seq", f"{VICTIM.address}/0")]
    assert chain.search(f"tx.acc_seq='{VICTIM.address}/0'")[0] == 1
    # Replaying it: both sequences are old now.
    assert chain.broadcast(tx).code == 32


def test_a_second_signers_key_is_recorded(chain):
    # POOR has no key on record until it signs as the second signer.
    assert chain.account(POOR.address).pubkey is None
    tx = sign_msgs([signer(ALICE, chain), signer(POOR, chain)], two_sends(ALICE, POOR, 1, 1))
    assert chain.broadcast(tx).code == 0
    chain.produce_block()
    assert chain.account(POOR.address).pubkey == POOR.pubkey


def test_the_fee_payer_must_be_the_first_signer(chain):
    tx = sign_msgs([signer(ALICE, chain), signer(VICTIM, chain)], two_sends(ALICE, VICTIM), fee=10,
                   payer=VICTIM.address)
    assert_refused(chain, tx, 4, f"fee payer {VICTIM.address} is not the first signer {ALICE.address}")
    outsider = sign_msgs([signer(ALICE, chain)], [msg_send(ALICE.address, BOB.address, 1)], fee=10,
                         payer=VICTIM.address)
    assert_refused(chain, outsider, 4, f"fee payer {VICTIM.address} is not the first signer")
    named = sign_msgs([signer(ALICE, chain), signer(VICTIM, chain)], two_sends(ALICE, VICTIM), fee=10,
                      payer=ALICE.address)
    assert chain.broadcast(named).code == 0
    chain.produce_block()
    assert chain.account(VICTIM.address).balance == VICTIM_FUNDS - 7
    assert chain.account(ALICE.address).balance == ALICE_FUNDS - 10 - 5


def test_simulate_resolves_every_signer_without_signatures(chain):
    # cosmjs-style: empty signatures, a signer with no key on record nor supplied; a refused signer
    # sequence is still refused.
    msgs = two_sends(ALICE, POOR, 1, 1)
    tx = sign_msgs([signer(ALICE, chain), signer(POOR, chain)], msgs, omit_pubkey={1})
    sim = chain.simulate(with_sigs(tx, [b"", b""]))
    assert sim.ok, sim.log
    assert chain.account(POOR.address).pubkey is None and chain.check.get(POOR.address).sequence == 0
    late = sign_msgs([signer(ALICE, chain), signer(POOR, chain, 1)], msgs)
    assert chain.simulate(late).code == 32
    assert chain.simulate(sign_msgs([signer(ALICE, chain), signer(GHOST, chain)], two_sends(ALICE, GHOST))).code == 9


def test_a_cached_verification_never_stands_in_for_another_signer(chain):
    tx = sign_msgs([signer(ALICE, chain), signer(VICTIM, chain)], two_sends(ALICE, VICTIM))
    decoded, digest = decode_tx(tx), b"d" * 32
    alice_sig = decoded.signatures[0]
    assert chain.rules._verify(digest, 1, ALICE.pubkey, decoded, alice_sig)
    # The same digest and signature under another key or account number are checked afresh (and fail).
    assert not chain.rules._verify(digest, 2, VICTIM.pubkey, decoded, alice_sig)
    assert not chain.rules._verify(digest, 2, ALICE.pubkey, decoded, alice_sig)
    assert not chain.rules._verify(digest, 1, ALICE.pubkey, decoded, bytes(64))


# ----- the ledger invariant -----

def test_the_ledger_refuses_a_negative_balance():
    good, bad = LedgerAccount(ALICE.address, 1, balance=5), LedgerAccount(BOB.address, 2, balance=-1)
    ledger = Ledger({good.address: good}, 3, height=1, block_time_ns=0, last_block_hash=b"", app_hash=b"")
    with pytest.raises(InvariantError, match=f"account {BOB.address} with a balance of -1ngonka, below zero"):
        ledger.put(bad)
    # put_many stores all or none.
    with pytest.raises(InvariantError):
        ledger.put_many([LedgerAccount(ALICE.address, 1, balance=0), bad])
    assert ledger.get(ALICE.address) is good and ledger.get(BOB.address) is None and not ledger.dirty
    overlay = Overlay(ledger)
    with pytest.raises(InvariantError):
        overlay.put(bad)
    assert overlay.get(BOB.address) is None
    with pytest.raises(InvariantError):
        Ledger({bad.address: bad}, 3, height=1, block_time_ns=0, last_block_hash=b"", app_hash=b"")


def test_a_rule_bug_cannot_write_a_negative_balance(chain, monkeypatch):
    # Simulate a broken funds rule: every account claims it can spend anything.
    monkeypatch.setattr(LedgerAccount, "spendable", lambda self, now: 10**30)
    over = sign_msgs([signer(POOR, chain)], [msg_send(POOR.address, BOB.address, POOR_FUNDS + 1)])
    assert_refused(chain, over, 5, f"refused by the ledger: account {POOR.address} with a balance of -1ngonka")
    # The node keeps working: an honest tx still goes through.
    assert chain.broadcast(sign_msgs([signer(POOR, chain)], [msg_send(POOR.address, BOB.address, 1)])).code == 0
    chain.produce_block()
    assert chain.account(POOR.address).balance == POOR_FUNDS - 1


def set_balance(home, address: str, balance: str) -> None:
    with closing(sqlite3.connect(home / DB_FILE)) as db, db:
        db.execute("UPDATE accounts SET balance = ? WHERE address = ?", (balance, address))


def test_a_stored_negative_balance_is_refused_on_open(tmp_path):
    home = tmp_path / "devnet"
    open_chain(home).close()
    set_balance(home, POOR.address, "-5")
    with pytest.raises(InputError, match=f"the devnet state in {home} is damaged: account {POOR.address} with a "
                                         "balance of -5ngonka, below zero; use a fresh --home"):
        Chain.open(home)
    # The refusal released the home: with the row repaired, it opens.
    set_balance(home, POOR.address, "0")
    Chain.open(home)[0].close()


# ----- property: random multi-message, multi-signer txs -----

SENDERS = [ALICE, VICTIM, EMPTY, POOR, VESTED, GHOST, BOB]
RECIPIENTS = [ALICE, VICTIM, EMPTY, POOR, GHOST, BOB]
FAULTS = ["none", "none", "none", "zero signature", "wrong key", "foreign pubkey", "sequence", "no pubkey"]


def _expected(chain: Chain, signers, faults, transfers, fee: int) -> dict[str, int] | None:
    """The balance changes the tx should make, or None where it must be refused."""
    now = chain.check.block_time_s
    debits = dict.fromkeys(signers, 0)
    debits[signers[0]] += fee
    for src, _, amount in transfers:
        debits[src] += amount
    for address, fault in zip(signers, faults):
        account = chain.check.get(address)
        if account is None or fault not in ("none", "no pubkey") or (fault == "no pubkey" and account.pubkey is None):
            return None
        if account.spendable(now) < debits[address]:
            return None
    delta: dict[str, int] = {FEE_COLLECTOR_ADDRESS: fee}
    for address, debit in debits.items():
        delta[address] = delta.get(address, 0) - debit
    for _, dst, amount in transfers:
        delta[dst] = delta.get(dst, 0) + amount
    return delta


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_multi_signer_txs_conserve_supply_and_never_go_negative(chain, data):
    # Half the txs are honest attempts (small amounts, no tampering: most apply), half hostile.
    honest = data.draw(st.booleans(), label="honest")
    amounts = st.integers(1, 300) if honest else st.one_of(st.integers(1, 2_000), st.integers(1, 2 * 10**12))
    n = data.draw(st.integers(1, 4), label="messages")
    senders = st.sampled_from([ALICE, VICTIM, POOR] if honest else SENDERS)
    transfers = [(data.draw(senders).address, data.draw(st.sampled_from(RECIPIENTS)).address, data.draw(amounts))
                 for _ in range(n)]
    signers = list(dict.fromkeys(src for src, _, _ in transfers))
    faults = [data.draw(st.sampled_from(["none"] if honest else FAULTS)) for _ in signers]
    fee = data.draw(st.sampled_from([0, 300] if honest else [0, 300, 5 * 10**9]), label="fee")
    parties, omit, sigs_fix = [], set(), {}
    for i, (address, fault) in enumerate(zip(signers, faults)):
        k, number, seq = signer(BY_ADDRESS[address], chain, 1 if fault == "sequence" else 0)
        if fault == "foreign pubkey":
            k = MALLORY
        parties.append((k, number, seq))
        if fault == "no pubkey":
            omit.add(i)
        if fault in ("zero signature", "wrong key"):
            sigs_fix[i] = fault
    tx = sign_msgs(parties, [msg_send(s, d, a) for s, d, a in transfers], fee=fee, omit_pubkey=omit)
    if sigs_fix:
        sigs = list(tx_pb2.TxRaw.FromString(tx).signatures)
        for i, fault in sigs_fix.items():
            sigs[i] = bytes(64) if fault == "zero signature" else \
                MALLORY.signer.sign(decode_tx(tx).sign_doc(CHAIN_ID, parties[i][1]))
        tx = with_sigs(tx, sigs)
    expected = _expected(chain, signers, faults, transfers, fee)

    before = {a.address: a.balance for a in chain.ledger.accounts.values()}
    total, state = sum(before.values()), snapshot(chain)
    result = chain.broadcast(tx)
    event(f"code {result.code}, {len(signers)} signer(s)")
    if expected is None:
        assert result.code != 0
        assert snapshot(chain) == state  # CheckTx changed nothing
        out = chain.rules.run(chain.ledger, tx, Mode.DELIVER)
        assert out.code == result.code and not chain.ledger.dirty and snapshot(chain) == state
    else:
        assert result.code == 0, result.log
        chain.produce_block()
        assert chain.tx(result.hash).result["code"] == 0
        after = {a.address: a.balance for a in chain.ledger.accounts.values()}
        assert {a: after[a] - before.get(a, 0) for a in after if after[a] != before.get(a, 0)} \
            == {a: d for a, d in expected.items() if d}
        assert all(chain.account(a).pubkey == BY_ADDRESS[a].pubkey for a in signers)  # every key recorded
    balances = [a.balance for a in chain.ledger.accounts.values()]
    assert sum(balances) == total and min(balances) >= 0
