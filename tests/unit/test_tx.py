"""Byte-exact transactions: cosmjs proto-signing vectors, libsecp256k1 cross-checks, decoding."""

import base64
import hashlib
import json
from pathlib import Path

import coincurve
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings, strategies as st

from gonka_tui.core.errors import InputError
from gonka_tui.core.keys import HDPath, derive_key
from gonka_tui.core.proto.cosmos.tx.v1beta1 import tx_pb2
from gonka_tui.core.secp256k1 import HALF_N, N, Signer, verify
from gonka_tui.core.tx import (MSG_SEND, Fee, TxDecodeError, decode_tx, encode_tx_raw, msg_send, sign_send,
                               tx_hash)
from tests.conftest import ABANDON, ABANDON_1200, ABANDON_118

V = json.loads((Path(__file__).parent.parent / "data" / "cosmjs_proto_signing_vectors.json").read_text())


@pytest.fixture(scope="module")
def faucet():
    key = derive_key(V["mnemonic"], HDPath(coin_type=118), hrp="cosmos")
    assert key.address == V["address"]
    assert base64.b64encode(key.pubkey).decode() == V["pubkey_base64"]
    return key, Signer(key.private_key)


@pytest.mark.parametrize("vector", V["vectors"], ids=lambda v: f"seq{v['sequence']}")
def test_cosmjs_vectors_byte_exact(faucet, vector):
    key, signer = faucet
    signed = sign_send(signer, key.address, V["to_address"], 1234567, chain_id=V["chain_id"],
                       account_number=V["account_number"], sequence=vector["sequence"],
                       fee=Fee(2000, V["gas"], "ucosm"), hrp="cosmos")
    assert signed.body_bytes.hex() == V["body_bytes"]
    assert signed.tx_bytes[-64:].hex() == vector["signature"]
    # The vector's own sign bytes (an older encoder wrote default fields): same key, same
    # RFC 6979 signature as in its signed transaction, and the same TxRaw around it.
    sign_bytes = bytes.fromhex(vector["sign_bytes"])
    doc = tx_pb2.SignDoc.FromString(sign_bytes)
    assert doc.SerializeToString() == sign_bytes
    signature = signer.sign(sign_bytes)
    assert encode_tx_raw(doc.body_bytes, doc.auth_info_bytes, [signature]).hex() == vector["signed_tx_bytes"]
    decoded = decode_tx(signed.tx_bytes)
    assert decoded.sign_doc(V["chain_id"], 1) == signed.sign_doc_bytes
    assert decoded.signers[0].sequence == vector["sequence"]


def test_txhash_is_upper_hex_sha256(faucet):
    key, signer = faucet
    signed = sign_send(signer, key.address, V["to_address"], 1, chain_id="c", account_number=0, sequence=0,
                       fee=Fee(0, 100000, "ucosm"), hrp="cosmos")
    assert signed.txhash == hashlib.sha256(signed.tx_bytes).hexdigest().upper() == tx_hash(signed.tx_bytes)


def test_zero_fee_has_no_coin():
    key = derive_key(ABANDON)
    signed = sign_send(Signer(key.private_key), ABANDON_1200, ABANDON_118, 5, chain_id="gonka-devnet",
                       account_number=3, sequence=0, fee=Fee(0, 200000))
    decoded = decode_tx(signed.tx_bytes)
    assert decoded.fee_amount == [] and decoded.gas_limit == 200000
    (type_url, msg), = decoded.messages()
    assert type_url == MSG_SEND and msg.to_address == ABANDON_118 and msg.amount[0].amount == "5"


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.integers(min_value=1, max_value=N - 1))
def test_signatures_match_an_independent_implementation(message, secret):
    """Our signer (libsecp256k1) against OpenSSL via `cryptography`: RFC 6979 makes the
    signatures equal once both are in the low-S form."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = secret.to_bytes(32, "big")
    ours = Signer(private)
    openssl = ec.derive_private_key(secret, ec.SECP256K1())
    assert ours.pubkey == openssl.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    signature = ours.sign(message)
    r, s = decode_dss_signature(openssl.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)))
    s = min(s, N - s)
    assert signature == r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert int.from_bytes(signature[32:], "big") <= HALF_N
    assert verify(ours.pubkey, message, signature)
    assert coincurve.PublicKey(ours.pubkey).verify(coincurve.ecdsa.cdata_to_der(
        coincurve.ecdsa.deserialize_compact(signature)), message)


def test_high_s_and_forgeries_are_refused():
    signer = Signer(derive_key(ABANDON).private_key)
    message = b"gonka"
    sig = signer.sign(message)
    r, s = sig[:32], int.from_bytes(sig[32:], "big")
    high = r + (N - s).to_bytes(32, "big")
    assert verify(signer.pubkey, message, sig)
    assert not verify(signer.pubkey, message, high)  # the malleated twin
    assert not verify(signer.pubkey, message + b"!", sig)
    other = Signer(derive_key(ABANDON, HDPath(coin_type=118)).private_key)
    assert not verify(other.pubkey, message, sig)
    assert not verify(signer.pubkey, message, sig[:63])
    assert not verify(b"\x02" + b"\x00" * 32, message, sig)


def test_memo_limit_and_bad_addresses():
    signer = Signer(derive_key(ABANDON).private_key)
    args = dict(chain_id="c", account_number=0, sequence=0, fee=Fee(0, 1000))
    sign_send(signer, ABANDON_1200, ABANDON_118, 1, memo="é" * 128, **args)
    with pytest.raises(InputError, match="257 bytes"):
        sign_send(signer, ABANDON_1200, ABANDON_118, 1, memo="x" * 257, **args)
    with pytest.raises(InputError, match="checksum"):
        msg_send(ABANDON_1200, ABANDON_118[:-1] + "q", 1)
    with pytest.raises(InputError):
        msg_send(ABANDON_1200, ABANDON_118, 0)


@pytest.mark.parametrize("data", [b"", b"\x00", b"garbage", b"\x0a\xff\xff\xff\xff\x0f", bytes(range(256))])
def test_decoding_garbage_is_a_clean_error(data):
    with pytest.raises(TxDecodeError):
        decode_tx(data)


def test_truncated_tx_is_a_clean_error():
    signer = Signer(derive_key(ABANDON).private_key)
    tx = sign_send(signer, ABANDON_1200, ABANDON_118, 1, chain_id="c", account_number=0, sequence=0,
                   fee=Fee(0, 1000)).tx_bytes
    for cut in (1, 10, len(tx) // 2, len(tx) - 1):
        with pytest.raises(TxDecodeError):
            decode_tx(tx[:cut])


@given(st.binary(max_size=300))
def test_decoder_never_crashes(data):
    try:
        decode_tx(data)
    except TxDecodeError:
        pass
