"""PoC rounds on the devnet: batches, validation with the real kernel, weights, rewards and claims.

Most tests drive the chain block by block (Chain.open + produce_block), so the stages fall on known
heights; the validator still runs in its own process, and the tests wait for it with a deadline.
"""

from __future__ import annotations

import math
import time
import uuid

import httpx
import pytest
import warnings

with warnings.catch_warnings():  # starlette's TestClient on httpx warns that it is deprecated
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from gonka_tui.core import poc_messages as pm
from gonka_tui.core.proto.inference.inference import tx_pb2
from gonka_tui.core.tx import MSG_SUBMIT_POC_BATCH, Fee, pack_any, sign_tx
from gonka_tui.devnet import codes
from gonka_tui.devnet.chain import Chain
from gonka_tui.devnet.epochs import EpochParams, PocConfig
from gonka_tui.devnet.poc_rules import REWARD_MODULE_ADDRESS
from gonka_tui.devnet.server import create_app, start_in_thread
from gonka_tui.devnet.testkit import key, wait_until
from gonka_tui.poc.backends import open_kernel
from gonka_tui.poc.params import PocParams
from gonka_tui.poc.presets import r_target_for

TINY = PocParams.from_mapping({"dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 4, "vocab_size": 512,
                               "ffn_dim_multiplier": 1.0, "multiple_of": 64, "norm_eps": 1e-5,
                               "rope_theta": 10000, "seq_len": 8})
R_TARGET = r_target_for(0.5, 512)  # half of all nonces pass: cheating shows within a few dozen
EPOCHS = EpochParams(epoch_length=30, poc_stage_duration=6, poc_exchange_duration=1, poc_validation_delay=1,
                     poc_validation_duration=3, set_new_validators_delay=1, inference_validation_cutoff=1,
                     first_poc_start=3)
REWARD = 1000 * 10**9
CONFIG = PocConfig(epochs=EPOCHS, preset=None, params=TINY, r_target=R_TARGET, epoch_reward=REWARD)
GAS = 50_000_000


class Miner:
    """A test account on a chain: registers its key, signs x/inference messages in sequence."""

    def __init__(self, chain: Chain, n: int) -> None:
        self.chain, self.key = chain, key(n)
        self.address = self.key.address
        self.number = chain.register_pubkey(self.address, self.key.pubkey).number
        self.sequence = 0
        self.seeds: dict[int, int] = {}

    def tx(self, *msgs, fee: int = 0) -> bytes:
        return sign_tx(self.key.signer, list(msgs), chain_id=self.chain.chain_id, account_number=self.number,
                       sequence=self.sequence, fee=Fee(fee, GAS)).tx_bytes

    def send(self, *msgs, fee: int = 0):
        reply = self.chain.broadcast(self.tx(*msgs, fee=fee))
        if reply.code == 0:
            self.sequence += 1
        return reply

    def join(self):
        return self.send(pm.msg_submit_new_participant(self.address))

    def seed(self, epoch: int):
        seed, signature = pm.new_seed(self.key.signer)
        self.seeds[epoch] = seed
        return self.send(pm.msg_submit_seed(self.address, epoch, signature))

    def batch(self, nonces, dist, *, start: int | None = None, batch_id: str | None = None):
        """A batch as sent (the builder's own checks bypassed, so the chain's are tested)."""
        start = EPOCHS.poc_start(EPOCHS.epoch_at(self.chain.height + 1)) if start is None else start
        msg = tx_pb2.MsgSubmitPocBatch(creator=self.address, poc_stage_start_block_height=start,
                                       batch_id=batch_id or str(uuid.uuid4()), nonces=nonces, dist=dist)
        return self.send(pack_any(MSG_SUBMIT_POC_BATCH, msg))

    def claim(self, epoch: int, seed: int | None = None):
        return self.send(pm.msg_claim_rewards(self.address, self.seeds[epoch] if seed is None else seed, epoch))

    def balance(self) -> int:
        return self.chain.ledger.get(self.address).balance


def honest_nonces(chain: Chain, epoch: int, public_key: bytes, count: int, first: int = 0):
    """The valid nonces among `count`, computed with the real kernel for this key and round."""
    kernel = open_kernel(TINY, chain.poc.round_block_hash(epoch), device="cpu")
    try:
        nonces = list(range(first, first + count))
        dist = [float(d) for d in kernel.distances(public_key.hex(), nonces)]
    finally:
        kernel.close()
    valid = [(n, d) for n, d in zip(nonces, dist) if d < R_TARGET]
    return [n for n, _ in valid], [d for _, d in valid]


def advance_to(chain: Chain, height: int) -> None:
    """Produce blocks until `height` is committed (the next tx then executes at height + 1)."""
    while chain.height < height:
        chain.produce_block()


def validated(chain: Chain, epoch: int, timeout: float = 60.0) -> dict:
    """Produce blocks until epoch's validation has been applied (the validator runs in its own process)."""
    def done():
        rec = chain.poc.epoch_record(epoch)
        if rec and rec.get("status") == "validated":
            return rec
        chain.produce_block()  # one block per poll: the validator process works meanwhile
        return None
    return wait_until(done, f"the validation of epoch {epoch}", timeout=timeout)


def tx_result(chain: Chain, reply) -> dict:
    rec = chain.tx(reply.hash)
    assert rec is not None, "the tx was not committed"
    return rec.result


@pytest.fixture
def chain(tmp_path):
    c, _ = Chain.open(tmp_path / "devnet", poc=CONFIG, min_gas_price=0.5)
    yield c
    c.close()


def test_stages_follow_the_chain_formulas():
    s = EPOCHS.stages(1)
    assert s["poc_start"] == 3 and s["poc_generation_end"] == 9 and s["poc_generation_wind_down"] == 3 + 4
    assert s["poc_exchange_window"] == {"start": 4, "end": 10}
    assert s["poc_validation_start"] == 10 and s["poc_validation_end"] == 13
    assert s["set_new_validators"] == 14 and s["claim_money"] == 15 and s["next_poc_start"] == 33
    assert [EPOCHS.phase(h) for h in (2, 3, 7, 10, 12, 13)] == [
        "Inference", "PoCGenerate", "PoCGenerateWindDown", "PoCValidate", "PoCValidateWindDown", "Inference"]
    assert EPOCHS.epoch_at(2) == 0 and EPOCHS.epoch_at(3) == 1 and EPOCHS.epoch_at(33) == 2


def test_batches_only_inside_the_window_from_participants_once(chain):
    miner, stranger = Miner(chain, 11), Miner(chain, 12)
    assert miner.join().code == 0
    early = miner.batch([1], [1.0], start=3)
    assert (early.code, early.codespace) == (codes.POC_TOO_LATE, "inference") and "no PoC round" in early.log
    advance_to(chain, 3)  # block 3 starts round 1; the next block (4) opens the exchange window
    ok = miner.batch([1, 2], [1.0, 1.1], batch_id="b-1")
    assert ok.code == 0, ok.log  # no fee needed, although the chain's minimum gas price is 0.5
    again = miner.batch([3], [1.0], batch_id="b-1")
    assert again.code == codes.POC_NONCE_NOT_ACCEPTED and "already submitted" in again.log
    outsider = stranger.batch([1], [1.0])
    assert (outsider.code, outsider.codespace) == (codes.PARTICIPANT_NOT_FOUND, "inference")
    wrong = miner.batch([4], [1.0], start=4)
    assert wrong.code == codes.POC_WRONG_START and "started at block 3" in wrong.log
    assert miner.batch([5], [R_TARGET]).code == codes.POC_NONCE_NOT_ACCEPTED  # not below r_target
    assert miner.batch([5], [math.nan]).code == codes.POC_NONCE_NOT_ACCEPTED
    assert miner.batch([5, 6], [1.0]).code == codes.POC_NONCE_NOT_ACCEPTED  # lengths differ
    too_many = list(range(pm.MAX_BATCH_NONCES + 1))
    assert miner.batch(too_many, [1.0] * len(too_many)).code == codes.POC_NONCE_NOT_ACCEPTED
    chain.produce_block()
    assert tx_result(chain, ok)["code"] == 0
    assert chain.ledger.poc.get(("b", 3, miner.address, "b-1"))["nonces"] == [1, 2]
    advance_to(chain, 10)  # the window's last block is 10: a tx now would execute at 11
    late = miner.batch([7], [1.0])
    assert late.code == codes.POC_TOO_LATE and "[4, 10] is closed" in late.log
    # A send still pays the minimum fee: only the x/inference messages are free.
    assert chain.broadcast(miner.tx(pm.msg_submit_new_participant(miner.address), fee=0)).code == 0
    miner.sequence += 1
    from gonka_tui.core.tx import msg_send
    assert miner.send(msg_send(miner.address, stranger.address, 1)).code == codes.INSUFFICIENT_FEE


def test_refused_validation_messages_and_bad_creators(chain):
    from gonka_tui.core.proto.inference.inference import tx_pb2
    from gonka_tui.core.tx import MSG_SUBMIT_POC_VALIDATION, pack_any

    miner = Miner(chain, 13)
    msg = pack_any(MSG_SUBMIT_POC_VALIDATION, tx_pb2.MsgSubmitPocValidation(creator=miner.address))
    r = miner.send(msg)
    assert r.code == codes.UNAUTHORIZED and "only validator" in r.log
    other = key(14)
    r = miner.send(pm.msg_submit_new_participant(other.address))  # signed by the wrong key
    assert r.code in (codes.UNKNOWN_ADDRESS, codes.INVALID_PUBKEY, codes.UNAUTHORIZED)
    assert chain.ledger.poc.get(("p", other.address)) is None


def test_seed_signatures_verify_only_for_their_key_and_seed():
    k, other = key(21), key(22)
    seed, signature = pm.new_seed(k.signer)
    assert 0 <= seed < 2**63 and len(signature) == 128
    assert pm.verify_seed(k.pubkey, seed, signature)
    assert not pm.verify_seed(k.pubkey, seed ^ 1, signature)
    assert not pm.verify_seed(other.pubkey, seed, signature)
    assert not pm.verify_seed(k.pubkey, seed, "zz")
    # Cosmos verifies sha256(8-byte big-endian seed): check with an independent verifier.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    sig = bytes.fromhex(signature)
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), k.pubkey)
    pub.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
               seed.to_bytes(8, "big"), ec.ECDSA(hashes.SHA256()))


def test_honest_miners_are_paid_cheaters_caught_and_unclaimed_rewards_burn(chain):
    honest, lazy, inventor, copier = (Miner(chain, n) for n in (31, 32, 33, 34))
    for m in (honest, lazy, inventor, copier):
        assert m.join().code == 0
    advance_to(chain, 3)
    assert honest.seed(1).code == 0 and lazy.seed(1).code == 0 and inventor.seed(1).code == 0
    h_nonces, h_dist = honest_nonces(chain, 1, honest.key.pubkey, 60)
    l_nonces, l_dist = honest_nonces(chain, 1, lazy.key.pubkey, 30)
    assert h_nonces and l_nonces
    half = len(h_nonces) // 2
    assert honest.batch(h_nonces[:half], h_dist[:half]).code == 0
    assert honest.batch(h_nonces[half:], h_dist[half:]).code == 0
    assert honest.batch(h_nonces[:3], h_dist[:3]).code == 0  # repeated nonces count once
    assert lazy.batch(l_nonces, l_dist).code == 0
    assert inventor.batch(list(range(1000, 1060)), [1.0] * 60).code == 0  # invented distances
    c_nonces, c_dist = honest_nonces(chain, 1, key(99).pubkey, 160)  # valid, but for another key
    assert copier.batch(c_nonces, c_dist).code == 0
    record = validated(chain, 1)
    assert record["weights"] == {honest.address: len(h_nonces), lazy.address: len(l_nonces)}
    excluded = {e["address"]: e["reason"] for e in record["excluded"]}
    assert set(excluded) == {inventor.address, copier.address}
    assert all("fraud" in reason for reason in excluded.values())

    # Epoch 1's reward is settled at the end of round 2's validation, claimable from epoch 2's claim stage.
    advance_to(chain, EPOCHS.poc_start(2))
    assert honest.claim(1).code == codes.ILLEGAL_STATE  # not settled yet
    validated(chain, 2)
    total = len(h_nonces) + len(l_nonces)
    mine = chain.ledger.poc.get(("r", 1, honest.address))
    assert mine["settled"] and mine["rewarded"] == REWARD * len(h_nonces) // total
    assert chain.ledger.poc.get(("r", 1, inventor.address)) is None
    assert chain.ledger.get(REWARD_MODULE_ADDRESS).balance == mine["rewarded"] + REWARD * len(l_nonces) // total
    claim_at = EPOCHS.poc_start(2) + EPOCHS.claim_money_offset
    if chain.height + 1 < claim_at:
        early = honest.claim(1)
        assert early.code == codes.ILLEGAL_STATE and "claimable from block" in early.log
    advance_to(chain, claim_at - 1)
    wrong = honest.claim(1, seed=honest.seeds[1] ^ 0x55)
    assert (wrong.code, wrong.codespace) == (codes.CLAIM_SIGNATURE_INVALID, "inference")
    assert inventor.claim(1).code == codes.ILLEGAL_STATE  # caught: nothing to claim
    before = honest.balance()
    paid = honest.claim(1)
    assert paid.code == 0, paid.log
    assert honest.claim(1).code == codes.ILLEGAL_STATE  # once only (also while the first is pending)
    chain.produce_block()
    result = tx_result(chain, paid)
    assert result["code"] == 0
    assert honest.balance() == before + mine["rewarded"]
    from gonka_tui.core.proto.cosmos.base.abci.v1beta1 import abci_pb2
    from gonka_tui.core.proto.inference.inference import tx_pb2
    import base64
    data = abci_pb2.TxMsgData.FromString(base64.b64decode(result["data"]))
    response = tx_pb2.MsgClaimRewardsResponse.FromString(data.msg_responses[0].value)
    assert response.amount == mine["rewarded"]
    assert chain.search(f"transfer.recipient='{honest.address}'")[0] == 1  # history finds the payment
    again = honest.claim(1)
    assert again.code == codes.ILLEGAL_STATE and "already claimed" in again.log

    # The lazy miner never claims: its reward burns when epoch 3 begins.
    module_before = chain.ledger.get(REWARD_MODULE_ADDRESS).balance
    advance_to(chain, EPOCHS.poc_start(3))
    assert chain.ledger.get(REWARD_MODULE_ADDRESS).balance == module_before - REWARD * len(l_nonces) // total
    assert lazy.claim(1).code == codes.ILLEGAL_STATE
    assert chain.ledger.poc.get(("r", 1, lazy.address))["burned"]

    # The shapes of §3.1 (the chain's REST: int64 as strings; the API node: numbers).
    http = TestClient(create_app(chain, 1.0))
    s = http.get(f"/chain-api/productscience/inference/inference/epoch_performance_summary/1/{honest.address}")
    assert s.json() == {"epochPerformanceSummary": {
        "epoch_index": "1", "participant_id": honest.address, "inference_count": "0", "missed_requests": "0",
        "earned_coins": "0", "rewarded_coins": str(mine["rewarded"]), "burned_coins": "0",
        "validated_inferences": "0", "invalidated_inferences": "0", "claimed": True}}
    listed = http.get("/chain-api/productscience/inference/inference/epoch_performance_summary/1").json()
    by = {x["participant_id"]: x for x in listed["epochPerformanceSummary"]}
    assert set(by) == {honest.address, lazy.address} and by[lazy.address]["burned_coins"] != "0"
    assert http.get(f"/chain-api/productscience/inference/inference/epoch_performance_summary/1/"
                    f"{inventor.address}").status_code == 404
    p = http.get(f"/chain-api/productscience/inference/inference/participant/{honest.address}").json()
    assert p["participant"]["index"] == honest.address and p["participant"]["inference_url"] == ""
    # It did not mine in round 2, so epoch 2 (the effective one now) does not count it as active.
    assert isinstance(p["participant"]["join_height"], str) and p["participant"]["status"] == "INACTIVE"
    assert p["participant"]["weight"] == 0 and isinstance(p["participant"]["epochs_completed"], int)
    assert http.get(f"/chain-api/productscience/inference/inference/participant/{key(77).address}"
                    ).status_code == 404


def test_query_shapes(chain):
    chain.base_url = "http://127.0.0.1:1"
    miner = Miner(chain, 41)
    assert miner.join().code == 0
    advance_to(chain, 3)
    http = TestClient(create_app(chain, 1.0))
    latest = http.get("/v1/epochs/latest").json()
    assert latest["latest_epoch"] == {"index": 1, "poc_start_block_height": 3}
    assert latest["block_height"] == 3 and latest["phase"] == "PoCGenerate"
    assert latest["epoch_stages"] == EPOCHS.stages(1) and latest["next_epoch_stages"]["poc_start"] == 33
    assert latest["epoch_params"]["poc_stage_duration"] == 6 and latest["is_confirmation_poc_active"] is False
    params = http.get("/chain-api/productscience/inference/inference/params").json()["params"]
    assert params["epoch_params"]["epoch_length"] == "30"
    poc = params["poc_params"]
    assert poc["validation_sample_size"] == 200
    mp = poc["model_params"]
    assert mp["dim"] == "64" and mp["seq_len"] == "8" and mp["use_scaled_rope"] is False
    r = mp["r_target"]
    assert isinstance(r["value"], str) and isinstance(r["exponent"], int)
    assert abs(int(r["value"]) * 10 ** r["exponent"] - R_TARGET) < 1e-12
    assert mp["norm_eps"] == {"value": "1", "exponent": -5}
    assert params["bitcoin_reward_params"]["initial_epoch_reward"] == str(REWARD)
    assert params["tokenomics_params"]["reward_vesting_period"] == "0"
    assert params["transfer_agent_access_params"]["allowed_transfer_addresses"] == [chain.node_address]
    current = http.get("/v1/epochs/current/participants").json()
    node = current["active_participants"]["participants"][0]
    assert node["index"] == chain.node_address and node["weight"] == 0
    assert node["inference_url"] == "http://127.0.0.1:1"
    assert current["addresses"] == [chain.node_address] and current["excluded_participants"] == []
    me = http.get(f"/chain-api/productscience/inference/inference/participant/{chain.node_address}").json()
    assert me["participant"]["inference_url"] == "http://127.0.0.1:1" and me["participant"]["status"] == "ACTIVE"
    assert http.get(f"/chain-api/productscience/inference/streamvesting/total_vesting/{miner.address}"
                    ).json() == {"total_amount": []}


def test_state_survives_a_restart_during_validation(tmp_path):
    home = tmp_path / "devnet"
    chain, _ = Chain.open(home, poc=CONFIG)
    miner = Miner(chain, 51)
    assert miner.join().code == 0
    advance_to(chain, 3)
    nonces, dist = honest_nonces(chain, 1, miner.key.pubkey, 30)
    assert miner.batch(nonces, dist, batch_id="one").code == 0
    advance_to(chain, EPOCHS.poc_start(1) + EPOCHS.validation_start_offset)  # validation has started
    chain.close()
    chain, notes = Chain.open(home, poc=PocConfig())  # other flags: the stored config wins, and says so
    try:
        assert any("ignored" in n for n in notes)
        assert chain.poc_config == CONFIG
        assert chain.ledger.poc.get(("p", miner.address)) is not None
        record = validated(chain, 1)  # the validation under way is started again
        assert record["weights"] == {miner.address: len(nonces)}
        assert chain.poc.effective_epoch(chain.height) == 1
    finally:
        chain.close()


def test_reward_vesting_releases_one_tranche_per_epoch(tmp_path):
    cfg = PocConfig(epochs=EPOCHS, preset=None, params=TINY, r_target=R_TARGET, epoch_reward=REWARD,
                    reward_vesting_epochs=2)
    chain, _ = Chain.open(tmp_path / "devnet", poc=cfg)
    try:
        miner = Miner(chain, 61)
        assert miner.join().code == 0
        advance_to(chain, 3)
        assert miner.seed(1).code == 0
        nonces, dist = honest_nonces(chain, 1, miner.key.pubkey, 20)
        assert miner.batch(nonces, dist).code == 0
        validated(chain, 1)
        advance_to(chain, EPOCHS.poc_start(2))
        validated(chain, 2)
        advance_to(chain, EPOCHS.poc_start(2) + EPOCHS.claim_money_offset - 1)
        before = miner.balance()
        assert miner.claim(1).code == 0
        chain.produce_block()
        assert miner.balance() == before  # vesting: nothing liquid yet
        http = TestClient(create_app(chain, 1.0))
        url = f"/chain-api/productscience/inference/streamvesting/total_vesting/{miner.address}"
        assert http.get(url).json() == {"total_amount": [{"denom": "ngonka", "amount": str(REWARD)}]}
        advance_to(chain, EPOCHS.poc_start(3))
        assert miner.balance() == before + REWARD // 2
        advance_to(chain, EPOCHS.poc_start(4))
        assert miner.balance() == before + REWARD
        assert http.get(url).json() == {"total_amount": []}
    finally:
        chain.close()


def test_blocks_keep_coming_while_validation_runs(tmp_path):
    """The validator recomputes in another process: the block interval stays short meanwhile."""
    cfg = PocConfig(epochs=EpochParams(epoch_length=60, poc_stage_duration=10, poc_exchange_duration=1,
                                       poc_validation_delay=1, poc_validation_duration=2,
                                       set_new_validators_delay=1, inference_validation_cutoff=1,
                                       first_poc_start=3),
                    preset="cpu", validation_sample_size=64)
    import base64

    times: list[tuple[int, float]] = []
    k = key(71)
    with start_in_thread(tmp_path / "devnet", block_time=0.05, poc=cfg) as d, \
            httpx.Client(base_url=d.url, timeout=10) as http:
        d.chain.block_listeners.append(lambda info: times.append((info.height, time.monotonic())))
        assert http.post("/v1/participants", json={"address": k.address, "pub_key": base64.b64encode(
            k.pubkey).decode()}).status_code == 200
        number = int(http.get(f"/chain-api/cosmos/auth/v1beta1/accounts/{k.address}").json()["account"][
            "account_number"])

        def broadcast(msg, sequence: int) -> dict:
            tx = sign_tx(k.signer, [msg], chain_id=d.chain.chain_id, account_number=number, sequence=sequence,
                         fee=Fee(0, GAS)).tx_bytes
            return http.post("/chain-api/cosmos/tx/v1beta1/txs", json={
                "tx_bytes": base64.b64encode(tx).decode(), "mode": "BROADCAST_MODE_SYNC"}).json()["tx_response"]

        assert broadcast(pm.msg_submit_new_participant(k.address), 0)["code"] == 0
        wait_until(lambda: d.chain.height >= 4, "round 1's exchange window")
        # The validator recomputes 64 claimed nonces with the cpu preset (the work that must not hold
        # the blocks up); the distances are invented, so it also catches them.
        r = broadcast(pm.msg_submit_poc_batch(k.address, 3, "x", list(range(64)), [1.0] * 64), 1)
        assert r["code"] == 0, r
        rec = wait_until(lambda: (d.chain.poc.epoch_record(1) or {}).get("status") == "validated"
                         and d.chain.poc.epoch_record(1), "validation of round 1", timeout=120)
        start = cfg.epochs.poc_start(1) + cfg.epochs.validation_start_offset
        end = rec["validated_height"]
        during = [t for h, t in times if start <= h <= end]
        gaps = [b - a for a, b in zip(during, during[1:])]
        assert len(gaps) >= 5  # the validation spanned several blocks
        assert max(gaps) < 1.0, f"longest block interval during validation: {max(gaps):.3f} s"
        assert rec["excluded"] and rec["weights"] == {}  # invented distances: caught
