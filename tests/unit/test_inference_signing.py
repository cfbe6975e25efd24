"""core/inference_signing.py: the signed request of network.md §4, cross-checked with the official SDK."""

from __future__ import annotations

import base64
import hashlib
import time

import coincurve
from coincurve.ecdsa import cdata_to_der, deserialize_compact
from gonka_openai.utils import gonka_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from gonka_tui.core.inference_signing import RequestSigner, next_timestamp_ns, signed_bytes
from gonka_tui.core.keys import derive_key
from gonka_tui.core.secp256k1 import HALF_N, verify
from tests.conftest import ABANDON, ABANDON_1200

KEY = derive_key(ABANDON)
TRANSFER = "gonka19rl4cm2hmr8afy4kldpxz3fka4jguq0av42rch"
BODY = b'{"model":"HuggingFaceTB/SmolLM2-135M-Instruct","messages":[{"role":"user","content":"hi \xc3\xa9"}]}'


def _coincurve_verifies(pubkey: bytes, message: bytes, sig: bytes) -> bool:
    return coincurve.PublicKey(pubkey).verify(cdata_to_der(deserialize_compact(sig)), message)


def test_the_signed_bytes_are_the_body_hash_the_timestamp_and_the_transfer_address():
    ts = 1_767_225_600_123_456_789
    assert signed_bytes(BODY, ts, TRANSFER) == (hashlib.sha256(BODY).hexdigest() + str(ts) + TRANSFER).encode()


def test_our_signature_is_the_official_sdks_and_libsecp256k1_verifies_it():
    signer = RequestSigner(KEY.private_key, KEY.address)
    ts = 1_767_225_600_123_456_789
    ours = signer.signature(BODY, ts, TRANSFER)
    assert ours == gonka_signature(BODY, KEY.private_key.hex(), ts, TRANSFER)
    raw = base64.b64decode(ours, validate=True)
    assert len(raw) == 64 and int.from_bytes(raw[32:], "big") <= HALF_N  # low-S
    message = signed_bytes(BODY, ts, TRANSFER)
    assert _coincurve_verifies(KEY.pubkey, message, raw)
    assert verify(KEY.pubkey, message, raw)
    assert not verify(KEY.pubkey, signed_bytes(BODY + b" ", ts, TRANSFER), raw)  # a tampered body fails


@settings(max_examples=25, deadline=None)
@given(body=st.binary(max_size=300), ts=st.integers(min_value=1, max_value=2**63 - 1),
       secret=st.integers(min_value=1, max_value=2**255))
def test_any_body_key_and_timestamp_sign_as_the_sdk_does(body, ts, secret):
    private = secret.to_bytes(32, "big")
    signer = RequestSigner(private, "gonka1whatever")
    assert signer.signature(body, ts, TRANSFER) == gonka_signature(body, private.hex(), ts, TRANSFER)


def test_the_headers_carry_the_signature_without_bearer_the_address_and_a_fresh_timestamp():
    signer = RequestSigner(KEY.private_key, KEY.address)
    before = time.time_ns()
    first, second = signer.headers(BODY, TRANSFER), signer.headers(BODY, TRANSFER)
    assert set(first) == {"Authorization", "X-Requester-Address", "X-Timestamp"}
    assert not first["Authorization"].startswith("Bearer")
    assert first["X-Requester-Address"] == ABANDON_1200
    assert before <= int(first["X-Timestamp"]) < int(second["X-Timestamp"])
    assert first["Authorization"] != second["Authorization"]  # each signature is usable once
    assert first["Authorization"] == signer.signature(BODY, int(first["X-Timestamp"]), TRANSFER)
    assert KEY.private_key.hex() not in repr(signer)


def test_timestamps_never_repeat_when_the_clock_stalls_or_steps_back():
    now = time.time_ns()
    stamps = [next_timestamp_ns(lambda: now) for _ in range(3)] + [next_timestamp_ns(lambda: now - 10**9)]
    assert all(a < b for a, b in zip(stamps, stamps[1:]))
    assert stamps[0] >= now
