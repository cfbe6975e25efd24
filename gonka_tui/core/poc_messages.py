"""The x/inference messages a miner signs (packed as Any for core.tx.sign_tx) and the claim seed.

Seeds: at a round's start a participant draws a random int63 and sends its signature in
MsgSubmitSeed; MsgClaimRewards later reveals the seed, and the chain checks the signature with the
account's key. The signed bytes are the seed as 8 bytes big-endian; the signature is secp256k1 over
sha256 of them (what Cosmos' PubKey.VerifySignature checks), 64 bytes r‖s, sent as lowercase hex.
"""

from __future__ import annotations

import math
import secrets
from typing import Sequence

from google.protobuf import any_pb2

from gonka_tui.core.address import HRP, decode_address
from gonka_tui.core.errors import InputError
from gonka_tui.core.proto.inference.inference import tx_pb2 as inference_tx
from gonka_tui.core.secp256k1 import Signer, verify
from gonka_tui.core.tx import (MSG_CLAIM_REWARDS, MSG_SUBMIT_NEW_PARTICIPANT, MSG_SUBMIT_POC_BATCH,
                               MSG_SUBMIT_SEED, pack_any)

INT63_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
MAX_BATCH_NONCES = 10_000  # what the devnet takes in one MsgSubmitPocBatch


def _creator(creator: str, hrp: str) -> str:
    decode_address(creator, hrp)
    return creator


def msg_submit_new_participant(creator: str, url: str = "", *, validator_key: str = "", worker_key: str = "",
                               hrp: str = HRP) -> any_pb2.Any:
    """Join as a participant; a miner leaves `url` empty (it serves no inference)."""
    return pack_any(MSG_SUBMIT_NEW_PARTICIPANT, inference_tx.MsgSubmitNewParticipant(
        creator=_creator(creator, hrp), url=url, validator_key=validator_key, worker_key=worker_key))


def msg_submit_seed(creator: str, epoch_index: int, signature_hex: str, *, hrp: str = HRP) -> any_pb2.Any:
    if not 0 <= epoch_index <= UINT64_MAX:
        raise InputError(f"epoch index {epoch_index} is out of range")
    return pack_any(MSG_SUBMIT_SEED, inference_tx.MsgSubmitSeed(
        creator=_creator(creator, hrp), epoch_index=epoch_index, signature=signature_hex))


def msg_submit_poc_batch(creator: str, poc_stage_start_block_height: int, batch_id: str, nonces: Sequence[int],
                         dist: Sequence[float], node_id: str = "", *, hrp: str = HRP) -> any_pb2.Any:
    """The valid nonces of one batch (dist < r_target), with their distances, in the same order."""
    if len(nonces) != len(dist) or not nonces:
        raise InputError("a PoC batch needs as many distances as nonces, and at least one")
    if any(not math.isfinite(d) for d in dist):
        raise InputError("a PoC batch's distances must be finite numbers")
    if not batch_id:
        raise InputError("a PoC batch needs a batch id")
    return pack_any(MSG_SUBMIT_POC_BATCH, inference_tx.MsgSubmitPocBatch(
        creator=_creator(creator, hrp), poc_stage_start_block_height=poc_stage_start_block_height,
        batch_id=batch_id, nonces=[int(n) for n in nonces], dist=[float(d) for d in dist], node_id=node_id))


def msg_claim_rewards(creator: str, seed: int, epoch_index: int, *, hrp: str = HRP) -> any_pb2.Any:
    """Claim epoch `epoch_index`'s settled reward, revealing the seed signed for that epoch."""
    if not 0 <= seed <= INT63_MAX:
        raise InputError("the seed must be a whole number from 0 to 2**63 − 1")
    if not 0 <= epoch_index <= UINT64_MAX:
        raise InputError(f"epoch index {epoch_index} is out of range")
    return pack_any(MSG_CLAIM_REWARDS, inference_tx.MsgClaimRewards(
        creator=_creator(creator, hrp), seed=seed, epoch_index=epoch_index))


# ----- seeds -----

def seed_bytes(seed: int) -> bytes:
    """The bytes the seed signature covers: the seed as uint64, 8 bytes big-endian."""
    if not 0 <= seed <= INT63_MAX:
        raise InputError("the seed must be a whole number from 0 to 2**63 − 1")
    return seed.to_bytes(8, "big")


def sign_seed(signer: Signer, seed: int) -> str:
    return signer.sign(seed_bytes(seed)).hex()


def new_seed(signer: Signer) -> tuple[int, str]:
    """A fresh random int63 seed and its signature (hex) with the account's key."""
    seed = secrets.randbelow(INT63_MAX + 1)
    return seed, sign_seed(signer, seed)


def verify_seed(pubkey: bytes, seed: int, signature_hex: str) -> bool:
    """True when `signature_hex` is `pubkey`'s signature of `seed` (as MsgClaimRewards is checked)."""
    if not isinstance(seed, int) or not 0 <= seed <= INT63_MAX or not isinstance(signature_hex, str):
        return False
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    return verify(pubkey, seed_bytes(seed), signature)
