"""The committed generated code is exactly what scripts/gen_proto.py makes from proto/."""

import filecmp
import subprocess
import sys

from tests.conftest import REPO


def test_generated_code_is_in_sync(tmp_path):
    out = tmp_path / "proto"
    subprocess.run([sys.executable, str(REPO / "scripts" / "gen_proto.py"), str(out)], check=True, timeout=120)
    committed = REPO / "gonka_tui" / "core" / "proto"

    def files(root):
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)

    assert files(out) == files(committed)
    different = [f for f in files(out) if not filecmp.cmp(out / f, committed / f, shallow=False)]
    assert different == [], f"regenerate with scripts/gen-proto: {different}"


def test_field_numbers_match_the_chain():
    from gonka_tui.core.proto.cosmos.tx.v1beta1 import tx_pb2
    from gonka_tui.core.proto.cosmos.vesting.v1beta1 import vesting_pb2

    numbers = {f.name: f.number for f in tx_pb2.TxBody.DESCRIPTOR.fields}
    assert numbers == {"messages": 1, "memo": 2, "timeout_height": 3, "unordered": 4, "timeout_timestamp": 5,
                       "extension_options": 1023, "non_critical_extension_options": 2047}
    assert {f.name: f.number for f in vesting_pb2.ContinuousVestingAccount.DESCRIPTOR.fields} == {
        "base_vesting_account": 1, "start_time": 2}


def test_the_miner_messages_have_the_chains_field_numbers_and_wire_form():
    from gonka_tui.core.proto.inference.inference import tx_pb2

    def numbers(message) -> dict:
        return {f.name: f.number for f in message.DESCRIPTOR.fields}

    assert numbers(tx_pb2.MsgSubmitNewParticipant) == {"creator": 1, "url": 2, "validator_key": 3, "worker_key": 4}
    assert numbers(tx_pb2.MsgSubmitSeed) == {"creator": 1, "epoch_index": 2, "signature": 3}
    assert numbers(tx_pb2.MsgSubmitPocBatch) == {"creator": 1, "poc_stage_start_block_height": 2, "batch_id": 3,
                                                  "nonces": 4, "dist": 5, "node_id": 6}
    assert numbers(tx_pb2.MsgSubmitPocValidation) == {
        "creator": 1, "participant_address": 2, "poc_stage_start_block_height": 3, "nonces": 4, "dist": 5,
        "received_dist": 6, "r_target": 7, "fraud_threshold": 8, "n_invalid": 9, "probability_honest": 10,
        "fraud_detected": 11}
    assert numbers(tx_pb2.MsgClaimRewards) == {"creator": 1, "seed": 2, "epoch_index": 3}
    assert numbers(tx_pb2.MsgClaimRewardsResponse) == {"amount": 1, "result": 2}
    assert tx_pb2.MsgSubmitPocBatch.DESCRIPTOR.full_name == "inference.inference.MsgSubmitPocBatch"
    # proto3 packs repeated scalars: nonces 300 and 1 → tag 0x22, length 3, varints; dist 1.5 → tag 0x2a, 8 bytes
    batch = tx_pb2.MsgSubmitPocBatch(poc_stage_start_block_height=7, nonces=[300, 1], dist=[1.5])
    assert batch.SerializeToString() == bytes.fromhex("1007" "2203ac0201" "2a08000000000000f83f")
