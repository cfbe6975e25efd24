"""The keystore: round trips, one passphrase, wrong passphrase, damage to one file, crashes, secrecy."""

import json
import os
import stat
import subprocess
import sys

import pytest

from gonka_tui.core import envelope
from gonka_tui.core.errors import InputError, KeystoreError, WrongPassphrase
from gonka_tui.core.keys import HDPath, derive_key, parse_private_key_hex
from gonka_tui.core.keystore import Keystore
from tests.conftest import ABANDON, ABANDON_1200, ABANDON_118, HEX_KEY, LEGAL, PASSPHRASE, REPO, fresh



def test_round_trip_mnemonic_hex_watch(ks):
    a = ks.add_mnemonic("a", ABANDON)
    b = ks.add_mnemonic("b", ABANDON, HDPath(coin_type=118))
    h = ks.add_private_key("h", parse_private_key_hex(HEX_KEY))
    w = ks.add_watch("w", "GONKA1GSVDPDXEC8HSU57LHXG5XEM7REFR233ZVYJNAK")
    assert (a.address, b.address) == (ABANDON_1200, ABANDON_118)
    assert h.kind == "hex" and h.path is None
    assert [r.name for r in fresh(ks).list()] == ["a", "b", "h", "w"]
    store = fresh(ks)
    assert not store.unlocked
    store.unlock(PASSPHRASE)
    assert store.secret("a").mnemonic == ABANDON
    assert store.secret("b").path == HDPath(coin_type=118)
    assert store.secret("h").private_key.hex() == HEX_KEY
    assert store.signing_key("a").private_key == derive_key(ABANDON).private_key
    assert w.kind == "watch" and w.pubkey is None and w.path is None
    assert w.address == "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak"
    with pytest.raises(KeystoreError, match="watch-only"):
        store.secret("w")


def test_list_and_show_need_no_unlock(ks):
    ks.add_mnemonic("a", ABANDON)
    store = fresh(ks)
    rec = store.get("a")
    assert rec.to_json() == {"name": "a", "address": ABANDON_1200,
                             "pubkey": "024daacc24ae6754dd460961ea4c6aa114e717e036b7dff3853195483b8d692dd2",
                             "path": "m/44'/1200'/0'/0/0", "kind": "mnemonic"}
    with pytest.raises(KeystoreError, match="locked"):
        store.secret("a")


def test_wrong_passphrase_changes_nothing(ks):
    ks.add_mnemonic("a", ABANDON)
    before = sorted((p.name, p.read_bytes()) for p in ks.root.rglob("*") if p.is_file())
    store = fresh(ks)
    with pytest.raises(WrongPassphrase):
        store.unlock("not the passphrase")
    assert not store.unlocked
    with pytest.raises(KeystoreError):
        store.add_mnemonic("b", LEGAL)
    assert sorted((p.name, p.read_bytes()) for p in ks.root.rglob("*") if p.is_file()) == before


def test_one_passphrase_one_derivation(ks, monkeypatch):
    ks.add_mnemonic("a", ABANDON)
    ks.add_mnemonic("b", LEGAL)
    ks.add_private_key("h", parse_private_key_hex(HEX_KEY))
    store = fresh(ks)
    calls = []
    real = envelope.KdfParams.derive
    monkeypatch.setattr(envelope.KdfParams, "derive", lambda self, p: calls.append(1) or real(self, p))
    store.unlock(PASSPHRASE)
    for name in ("a", "b", "h"):
        store.secret(name)
    assert len(calls) == 1


def test_kdf_parameters_are_stored(ks):
    rec = ks.add_mnemonic("a", ABANDON)
    kdf = json.loads(rec.file.read_text())["secret"]["kdf"]
    assert kdf == {"name": "argon2id", "salt": kdf["salt"], "iterations": 3, "memory_kib": 65536, "lanes": 4}


def test_stronger_kdf_parameters_are_kept_for_new_keys(tmp_path, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(envelope.KdfParams, "new", classmethod(lambda cls: cls(os.urandom(16), iterations=4)))
        store = Keystore(tmp_path / "k")
        store.initialize(PASSPHRASE)
    rec = store.add_mnemonic("a", ABANDON)
    assert json.loads(rec.file.read_text())["secret"]["kdf"]["iterations"] == 4
    again = fresh(store)
    again.unlock(PASSPHRASE)
    assert again.secret("a").mnemonic == ABANDON


def test_tampered_kdf_parameters_are_refused(ks):
    rec = ks.add_mnemonic("a", ABANDON)
    data = json.loads(rec.file.read_text())
    data["secret"]["kdf"]["iterations"] = 1
    rec.file.write_text(json.dumps(data))
    store = fresh(ks)
    store.unlock(PASSPHRASE)
    with pytest.raises(KeystoreError, match="'a'"):
        store.secret("a")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "empty", "not-object"])
def test_damaged_key_file_costs_that_key_alone(ks, damage):
    ks.add_mnemonic("good", LEGAL)
    bad = ks.add_mnemonic("bad", ABANDON)
    raw = bad.file.read_bytes()
    if damage == "truncate":
        bad.file.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        bad.file.write_bytes(os.urandom(200))
    elif damage == "empty":
        bad.file.write_bytes(b"")
    elif damage == "not-object":
        bad.file.write_text("[1, 2]")
    else:
        data = json.loads(raw)
        ct = bytearray(envelope._unb64(data["secret"]["ciphertext"], "x"))
        ct[3] ^= 1
        data["secret"]["ciphertext"] = envelope._b64(bytes(ct))
        bad.file.write_text(json.dumps(data))
    store = fresh(ks)
    names = [r.name for r in store.list()]
    assert "good" in names
    store.unlock(PASSPHRASE)
    assert store.secret("good").mnemonic == LEGAL
    if damage == "flip":
        with pytest.raises(KeystoreError, match="corrupt or was altered"):
            store.secret("bad")
    else:
        assert "bad" not in names
        assert len(store.problems) == 1 and "unaffected" in store.problems[0].message


def test_damaged_keystore_json_falls_back_to_key_files(ks):
    ks.add_mnemonic("a", ABANDON)
    ks.store_file.write_text("{trunc")
    store = fresh(ks)
    store.unlock(PASSPHRASE)
    assert store.secret("a").mnemonic == ABANDON
    with pytest.raises(WrongPassphrase):
        fresh(ks).unlock("wrong passphrase")


def test_altered_public_address_is_detected(ks):
    rec = ks.add_mnemonic("a", ABANDON)
    data = json.loads(rec.file.read_text())
    data["address"] = ABANDON_118
    rec.file.write_text(json.dumps(data))
    store = fresh(ks)
    store.unlock(PASSPHRASE)
    with pytest.raises(KeystoreError):
        store.secret("a")


def test_files_are_private(ks):
    ks.add_mnemonic("a", ABANDON)
    ks.add_watch("w", "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak")
    for path in [ks.root, ks.keys_dir, ks.store_file, *ks.keys_dir.iterdir()]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))


def test_no_secret_in_any_file(ks):
    ks.add_mnemonic("a", ABANDON)
    ks.add_private_key("h", parse_private_key_hex(HEX_KEY))
    priv = derive_key(ABANDON).private_key.hex()
    for path in ks.root.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode()
            for secret in ("abandon", HEX_KEY, priv, PASSPHRASE):
                assert secret not in text, (path, secret)


def test_names_and_duplicates(ks):
    ks.add_mnemonic("a", ABANDON)
    with pytest.raises(KeystoreError, match="already exists"):
        ks.add_mnemonic("a", LEGAL)
    with pytest.raises(KeystoreError, match="already in the keystore as 'a'"):
        ks.add_watch("b", ABANDON_1200)
    with pytest.raises(InputError, match="not allowed"):
        ks.add_watch("bad name", ABANDON_118)
    with pytest.raises(InputError):
        ks.add_watch("w", "gonka1notanaddress")
    assert [r.name for r in ks.list()] == ["a"]


def test_rename_keeps_the_secret(ks):
    ks.add_mnemonic("a", ABANDON)
    ks.rename("a", "main")
    store = fresh(ks)
    store.unlock(PASSPHRASE)
    assert store.secret("main").mnemonic == ABANDON
    with pytest.raises(KeystoreError, match="no key named 'a'"):
        store.get("a")


def test_derive_from_another_account(ks):
    ks.add_mnemonic("a", ABANDON)
    rec = ks.derive_from("a", "a2", HDPath(index=1))
    assert rec.path == "m/44'/1200'/0'/0/1" and rec.address != ABANDON_1200
    ks.delete("a")
    store = fresh(ks)
    store.unlock(PASSPHRASE)
    assert store.secret("a2").mnemonic == ABANDON  # survives the deletion of its source


def test_initialize_rules(tmp_path):
    store = Keystore(tmp_path / "k")
    with pytest.raises(InputError, match="at least 8"):
        store.initialize("short")
    assert not store.initialized
    store.initialize(PASSPHRASE)
    with pytest.raises(KeystoreError):
        store.initialize(PASSPHRASE)


def test_lock_forgets(ks):
    ks.add_mnemonic("a", ABANDON)
    ks.lock()
    with pytest.raises(KeystoreError, match="locked"):
        ks.secret("a")


CRASH_CHILD = r"""
import os, signal, sys
sys.path.insert(0, {repo!r})
from gonka_tui.core import fileio
from gonka_tui.core.keystore import Keystore
ks = Keystore({root!r})
ks.unlock({passphrase!r})
def die(src, dst):
    os.kill(os.getpid(), signal.SIGKILL)  # the power goes out between writing and renaming
fileio.os.replace = die
ks.rename("a", "renamed")
"""


def test_crash_in_the_middle_of_a_write_leaves_the_old_file(ks):
    ks.add_mnemonic("a", ABANDON)
    code = CRASH_CHILD.format(repo=str(REPO), root=str(ks.root), passphrase=PASSPHRASE)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == -9
    assert any(p.name.endswith(".tmp") for p in ks.keys_dir.iterdir())  # the half-done write is there
    store = fresh(ks)
    assert [r.name for r in store.list()] == ["a"] and not store.problems
    store.unlock(PASSPHRASE)
    assert store.secret("a").mnemonic == ABANDON


def test_failed_write_removes_its_temp_file(ks, monkeypatch):
    from gonka_tui.core import fileio

    rec = ks.add_mnemonic("a", ABANDON)
    before = rec.file.read_bytes()

    def boom(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "fsync", boom)
    with pytest.raises(OSError):
        ks.rename("a", "b")
    assert rec.file.read_bytes() == before
    assert not [p for p in ks.keys_dir.iterdir() if p.name.endswith(".tmp")]
