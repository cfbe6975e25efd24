"""Known answers: Trezor's BIP39 vectors and the Gonka addresses of 'abandon … about'."""

import json
from pathlib import Path

import pytest

from gonka_tui.core.errors import InputError
from gonka_tui.core.keys import (HDPath, candidate_addresses, check_mnemonic, derive_key, generate_mnemonic,
                                 key_from_private, mnemonic_to_seed, normalize_mnemonic, parse_private_key_hex)
from tests.conftest import ABANDON, ABANDON_1200, ABANDON_118

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "bip39_trezor_vectors.json").read_text())


@pytest.mark.parametrize("entropy,mnemonic,seed", VECTORS)
def test_trezor_vector_seed(entropy, mnemonic, seed):
    assert check_mnemonic(mnemonic).ok
    assert mnemonic_to_seed(mnemonic, "TREZOR").hex() == seed


def test_abandon_about_addresses():
    assert derive_key(ABANDON, HDPath(coin_type=1200)).address == ABANDON_1200
    assert derive_key(ABANDON, HDPath(coin_type=118)).address == ABANDON_118
    coins = [k.path.coin_type for k in candidate_addresses(ABANDON)]
    assert coins == [1200, 118, 60]
    assert [k.address for k in candidate_addresses(ABANDON)][:2] == [ABANDON_1200, ABANDON_118]


def test_accounts_and_indexes_differ():
    addresses = {derive_key(ABANDON, HDPath(1200, a, i)).address for a in range(2) for i in range(3)}
    assert len(addresses) == 6
    assert str(HDPath(1200, 1, 2)) == "m/44'/1200'/1'/0/2"


def test_wrong_word_is_named_by_position_without_echoing_it():
    words = ABANDON.split()
    words[4] = "abandn"
    check = check_mnemonic(" ".join(words))
    assert not check.ok
    assert check.error.startswith("word 5 ")
    assert "abandn" not in check.error  # safe for stderr and logs
    assert "abandon" in check.hint  # the typing screen suggests the real word


def test_checksum_and_length_errors():
    assert "checksum" in check_mnemonic(" ".join(["abandon"] * 12)).error
    assert "12, 15, 18, 21 or 24" in check_mnemonic(" ".join(["abandon"] * 11)).error
    assert "empty" in check_mnemonic("   ").error
    with pytest.raises(InputError):
        normalize_mnemonic("zoo " * 12)


def test_mnemonic_is_normalized():
    messy = "  ABANDON abandon\tabandon abandon abandon abandon abandon abandon abandon abandon abandon  About \n"
    assert normalize_mnemonic(messy) == ABANDON


@pytest.mark.parametrize("words", [12, 24])
def test_generated_mnemonics_are_valid_and_fresh(words):
    a, b = generate_mnemonic(words), generate_mnemonic(words)
    assert len(a.split()) == words and check_mnemonic(a).ok
    assert a != b


def test_generate_refuses_other_lengths():
    with pytest.raises(InputError):
        generate_mnemonic(13)


def test_private_key_hex_parsing():
    key = derive_key(ABANDON)
    assert key_from_private(parse_private_key_hex("0x" + key.private_key.hex().upper())).address == ABANDON_1200
    for bad, msg in [("", "empty"), ("ab", "64 hex"), ("zz" * 32, "hexadecimal"), ("00" * 32, "range"),
                     ("ff" * 32, "range")]:
        with pytest.raises(InputError, match=msg):
            parse_private_key_hex(bad)


def test_secret_reprs_hide_secrets():
    key = derive_key(ABANDON)
    assert key.private_key.hex() not in repr(key)
    assert "abandon" not in repr(check_mnemonic(ABANDON))
