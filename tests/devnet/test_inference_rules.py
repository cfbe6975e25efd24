"""The chain rules of paid inference (inference_rules.py through ante.py): escrow, charge, refund, the executor
paid, the expiry refund, and who may send the messages. The chain is driven block by block (no HTTP)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from gonka_tui.core.proto.inference.inference import tx_pb2
from gonka_tui.core.tx import MSG_FINISH_INFERENCE, MSG_START_INFERENCE, Fee, pack_any, sign_tx
from gonka_tui.core.txrecords import label, parse_tx_response
from gonka_tui.devnet import codes
from gonka_tui.devnet.chain import Chain
from gonka_tui.devnet.epochs import EpochParams, PocConfig
from gonka_tui.devnet.genesis import Fund
from gonka_tui.devnet.inference_rules import EXPIRY_BLOCKS, INFERENCE_MODULE_ADDRESS
from gonka_tui.devnet.shapes import tx_response_json
from gonka_tui.devnet.testkit import key

PRICE = 10_000  # the devnet's default ngonka per token
ALICE, BOB, MALLORY, CAROL = key(301), key(302), key(303), key(304)
CAROL_FUNDS = 100 * PRICE
FUNDS = 10**12
NO_POC = PocConfig(epochs=EpochParams(first_poc_start=10**8))  # no PoC round gets in the way


@pytest.fixture
def chain(tmp_path):
    c, _ = Chain.open(tmp_path / "devnet", min_gas_price=Fraction(1),
                      funds=[Fund(ALICE.address, FUNDS), Fund(BOB.address, 10**5), Fund(MALLORY.address, FUNDS),
                             Fund(CAROL.address, CAROL_FUNDS)],
                      poc=NO_POC)
    yield c
    c.close()


def balance(chain, address) -> int:
    account = chain.ledger.get(address)
    return account.balance if account else 0


def start(chain, requester, inference_id="inf-1", *, prompt=10, max_tokens=20, model="m"):
    msg = tx_pb2.MsgStartInference(creator=chain.node_address, inference_id=inference_id, model=model,
                                   requested_by=requester, assigned_to=chain.node_address,
                                   prompt_token_count=prompt, max_tokens=max_tokens, prompt_hash="ab" * 32)
    return chain.broadcast_from_node([pack_any(MSG_START_INFERENCE, msg)])


def finish(chain, requester, inference_id="inf-1", *, prompt=3, completion=4, model="m"):
    msg = tx_pb2.MsgFinishInference(creator=chain.node_address, inference_id=inference_id,
                                    prompt_token_count=prompt, completion_token_count=completion,
                                    executed_by=chain.node_address, transferred_by=chain.node_address,
                                    requested_by=requester, model=model)
    return chain.broadcast_from_node([pack_any(MSG_FINISH_INFERENCE, msg)])


def delivered(chain, reply):
    assert reply.code == 0, reply.log
    chain.produce_block()
    stored = chain.tx(reply.hash)
    assert stored.result["code"] == 0, stored.result["log"]
    return stored


def test_escrow_then_settlement_balances_the_books(chain):
    node_before, alice_before = balance(chain, chain.node_address), balance(chain, ALICE.address)
    delivered(chain, start(chain, ALICE.address, prompt=10, max_tokens=20))
    escrow = (10 + 20) * PRICE
    assert balance(chain, ALICE.address) == alice_before - escrow
    assert balance(chain, INFERENCE_MODULE_ADDRESS) == escrow
    delivered(chain, finish(chain, ALICE.address, prompt=3, completion=4))
    charge = 7 * PRICE
    assert alice_before - balance(chain, ALICE.address) == charge  # the requester's loss …
    assert balance(chain, chain.node_address) - node_before == charge  # … is the executor's gain (no fee: free msgs)
    assert balance(chain, INFERENCE_MODULE_ADDRESS) == 0


def test_the_charge_never_exceeds_the_escrow(chain):
    before = balance(chain, ALICE.address)
    delivered(chain, start(chain, ALICE.address, prompt=2, max_tokens=3))
    delivered(chain, finish(chain, ALICE.address, prompt=40, completion=3))  # a chat template adds tokens
    assert before - balance(chain, ALICE.address) == 5 * PRICE
    assert balance(chain, INFERENCE_MODULE_ADDRESS) == 0


def test_insufficient_balance_is_refused_at_checktx_and_changes_nothing(chain):
    before = balance(chain, BOB.address)  # 10^5 ngonka: below (10 + 20) × 10^4
    reply = start(chain, BOB.address)
    assert reply.code == codes.INSUFFICIENT_FUNDS
    assert "300000ngonka" in reply.log and "100000ngonka" in reply.log
    assert not chain.mempool
    chain.produce_block()
    assert balance(chain, BOB.address) == before and balance(chain, INFERENCE_MODULE_ADDRESS) == 0


def test_pending_escrows_count_against_the_balance_in_the_mempool(chain):
    per_request = (10 + 20) * PRICE
    assert start(chain, CAROL.address, "a").code == 0
    # the check state already holds the first escrow: asking for all the rest plus one token fails
    left = (CAROL_FUNDS - per_request) // PRICE
    assert start(chain, CAROL.address, "b", prompt=0, max_tokens=left + 1).code == codes.INSUFFICIENT_FUNDS
    assert start(chain, CAROL.address, "c", prompt=0, max_tokens=left).code == 0
    chain.produce_block()
    assert balance(chain, CAROL.address) == 0


def test_only_the_node_may_send_inference_messages(chain):
    number = chain.ledger.get(MALLORY.address).number
    chain.register_pubkey(MALLORY.address, MALLORY.pubkey)
    for type_url, msg in [
        (MSG_START_INFERENCE, tx_pb2.MsgStartInference(creator=MALLORY.address, inference_id="x", model="m",
                                                       requested_by=ALICE.address, assigned_to=MALLORY.address,
                                                       max_tokens=1)),
        (MSG_FINISH_INFERENCE, tx_pb2.MsgFinishInference(creator=MALLORY.address, inference_id="x",
                                                         executed_by=MALLORY.address)),
    ]:
        tx = sign_tx(MALLORY.signer, [pack_any(type_url, msg)], chain_id=chain.chain_id, account_number=number,
                     sequence=0, fee=Fee(10**7, 10**7)).tx_bytes
        reply = chain.broadcast(tx)
        assert reply.code == codes.UNAUTHORIZED and "devnet node only" in reply.log
    assert balance(chain, ALICE.address) == FUNDS


def test_inference_messages_need_no_fee_even_with_a_gas_price(chain):
    assert chain.rules.min_gas_price == 1
    node_before = balance(chain, chain.node_address)
    delivered(chain, start(chain, ALICE.address))
    assert balance(chain, chain.node_address) == node_before


def test_an_inference_settles_once(chain):
    delivered(chain, start(chain, ALICE.address))
    delivered(chain, finish(chain, ALICE.address))
    after = balance(chain, ALICE.address)
    again = finish(chain, ALICE.address)
    assert again.code != 0 and "already finished" in again.log
    assert finish(chain, ALICE.address, "never-started").code != 0
    assert start(chain, ALICE.address).code != 0  # an id is not reused while its record lives
    chain.produce_block()
    assert balance(chain, ALICE.address) == after


def test_settlement_must_match_the_requester_and_model(chain):
    delivered(chain, start(chain, ALICE.address))
    assert finish(chain, MALLORY.address).code == codes.INVALID_REQUEST
    assert finish(chain, ALICE.address, model="other").code == codes.INVALID_REQUEST


def test_an_unfinished_inference_is_refunded_after_100_blocks(chain):
    before = balance(chain, ALICE.address)
    stored = delivered(chain, start(chain, ALICE.address))
    for _ in range(EXPIRY_BLOCKS - 1):
        chain.produce_block()
    assert chain.height == stored.height + EXPIRY_BLOCKS - 1
    assert balance(chain, ALICE.address) < before  # still escrowed one block before the expiry
    chain.produce_block()
    assert balance(chain, ALICE.address) == before
    assert balance(chain, INFERENCE_MODULE_ADDRESS) == 0
    late = finish(chain, ALICE.address)
    assert late.code != 0  # too late: the escrow went back, nothing is paid twice
    chain.produce_block()
    assert balance(chain, ALICE.address) == before


def test_expiry_records_are_dropped_and_survive_a_restart(tmp_path):
    home = tmp_path / "devnet"
    chain, _ = Chain.open(home, funds=[Fund(ALICE.address, FUNDS)], poc=NO_POC)
    delivered(chain, start(chain, ALICE.address, "kept"))
    delivered(chain, start(chain, ALICE.address, "settled"))
    delivered(chain, finish(chain, ALICE.address, "settled"))
    chain.close()
    chain, _ = Chain.open(home)  # the records are in the block's SQLite transaction
    try:
        assert chain.ledger.poc.get(("i", "kept"))["status"] == "started"
        for _ in range(EXPIRY_BLOCKS):
            chain.produce_block()
        assert balance(chain, ALICE.address) == FUNDS - 7 * PRICE
        assert chain.ledger.poc.get(("i", "kept")) is None and chain.ledger.poc.get(("i", "settled")) is None
    finally:
        chain.close()


def test_history_shows_the_escrow_and_the_refund(chain):
    s = delivered(chain, start(chain, ALICE.address))
    f = delivered(chain, finish(chain, ALICE.address, prompt=3, completion=4))
    escrow, charge = 30 * PRICE, 7 * PRICE
    started, settled = parse_tx_response(tx_response_json(s)), parse_tx_response(tx_response_json(f))
    assert [label(m) for m in started.other_messages] == ["inference"]
    assert [label(m) for m in settled.other_messages] == ["inference settled"]
    assert started.net_amount(ALICE.address) == -escrow
    assert settled.net_amount(ALICE.address) == escrow - charge
    assert settled.net_amount(chain.node_address) == charge
    # history finds both: the escrow by message.sender, the refund by transfer.recipient
    assert s.hash in {t.hash for t in chain.search(f"message.sender='{ALICE.address}'")[1]}
    assert f.hash in {t.hash for t in chain.search(f"transfer.recipient='{ALICE.address}'")[1]}
