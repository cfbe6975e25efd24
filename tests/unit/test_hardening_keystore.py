"""Issue 6: the keystore cannot be weakened or borrowed, two processes cannot interleave their
writes, and one hostile file costs that file alone."""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import secrets
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gonka_tui.core import envelope
from gonka_tui.core.errors import InputError, KeystoreError, WrongPassphrase
from gonka_tui.core.keys import derive_key
from gonka_tui.core.keystore import Keystore
from tests.conftest import ABANDON, CLOSED_NODE, LEGAL, PASSPHRASE, REPO, fresh

OTHER_PASSPHRASE = "another keystore's passphrase"
CHECK_VALUE = b"gonka keystore passphrase check v1"



def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != ".lock"}


@pytest.fixture
def derivations(monkeypatch):
    """The (iterations, memory) of every Argon2id run from now on."""
    runs = []
    real = envelope.KdfParams.derive
    monkeypatch.setattr(envelope.KdfParams, "derive",
                        lambda self, p: runs.append((self.iterations, self.memory_kib)) or real(self, p))
    return runs


def write_format_1(root: Path, passphrase: str, mnemonic: str = ABANDON, name: str = "old") -> tuple[str, bytes]:
    """A keystore as format 1 wrote it (no keystore id in any associated data), built from the
    envelope primitives; returns (keystore id, derived key)."""
    (root / "keys").mkdir(parents=True)
    kdf = envelope.KdfParams.new()
    key, store_id, key_id = kdf.derive(passphrase), secrets.token_hex(16), secrets.token_hex(8)
    check = envelope.seal(key, kdf, CHECK_VALUE, {"purpose": "passphrase-check"})
    (root / "keystore.json").write_text(json.dumps(
        {"format": "gonka-keystore", "version": 1, "id": store_id, "check": check}))
    derived = derive_key(mnemonic)
    secret = envelope.seal(key, kdf, json.dumps({"mnemonic": mnemonic}).encode(),
                           {"id": key_id, "kind": "mnemonic", "address": derived.address})
    (root / "keys" / f"{key_id}.json").write_text(json.dumps(
        {"format": "gonka-key", "version": 1, "id": key_id, "name": name, "kind": "mnemonic",
         "address": derived.address, "pubkey": derived.pubkey.hex(), "path": "m/44'/1200'/0'/0/0",
         "created": "2025-01-01T00:00:00Z", "secret": secret}))
    return store_id, key


# ----- the KDF parameters cannot be weakened -----

@pytest.mark.parametrize("iterations, memory_kib", [(1, 32), (2, 65536), (3, 32768)])
def test_weakened_keystore_json_never_seals_a_key(ks, derivations, iterations, memory_kib):
    ks.add_mnemonic("a", ABANDON)
    edit_json(ks.store_file, lambda d: d["check"]["kdf"].update(iterations=iterations, memory_kib=memory_kib))
    store = fresh(ks)
    store.unlock(PASSPHRASE)
    assert store.secret("a").mnemonic == ABANDON  # the keys still open for reading
    before = all_files(ks.root)
    with pytest.raises(KeystoreError, match=r"keystore\.json.*weaker than allowed.*nothing was changed"):
        store.add_mnemonic("b", LEGAL)
    assert all_files(ks.root) == before
    assert all(t >= 3 and m >= 65536 for t, m in derivations)  # Argon2 never ran with them
    assert any("keystore.json" in n and "weaker than allowed" in n for n in store.take_notes())


def test_weakened_keystore_json_on_the_command_line(gonka, home):
    ks = Keystore(home / "keystore")
    ks.initialize(PASSPHRASE)
    ks.add_mnemonic("a", ABANDON)
    edit_json(ks.store_file, lambda d: d["check"]["kdf"].update(iterations=1, memory_kib=32))
    r = gonka("keys", "add", "b", "--recover", input=LEGAL)
    assert r.code == 1 and "internal error" not in r.err
    assert r.err.splitlines()[-1].startswith("error: keystore.json") and "weaker than allowed" in r.err
    assert [k.name for k in fresh(ks).list()] == ["a"]


@pytest.mark.parametrize("damage", ["stronger-but-edited", "ciphertext"])
def test_check_that_does_not_authenticate_is_an_error_that_says_so(ks, damage):
    ks.add_mnemonic("a", ABANDON)

    def alter(d):
        if damage == "ciphertext":
            d["check"]["ciphertext"] = envelope._b64(b"\0" * 50)
        else:
            d["check"]["kdf"]["iterations"] = 4
    edit_json(ks.store_file, alter)
    store = fresh(ks)
    store.unlock(PASSPHRASE)
    assert store.secret("a").mnemonic == ABANDON
    with pytest.raises(KeystoreError, match=r"keystore\.json's check does not authenticate.*'a' opens"):
        store.add_mnemonic("b", LEGAL)
    with pytest.raises(KeystoreError, match="does not authenticate"):
        store.delete("a")
    assert [r.name for r in fresh(ks).list()] == ["a"]
    with pytest.raises(WrongPassphrase):
        fresh(ks).unlock("not the passphrase")


BAD_KDF_VALUES = [
    ("Infinity", "has Infinity, which is not a JSON number"),
    ("-Infinity", "has -Infinity, which is not a JSON number"),
    ("NaN", "has NaN, which is not a JSON number"),
    ("1e999", "has the number 1e999, which is out of range"),
    ("3.5", "'iterations' is not a whole number"),
    ("true", "'iterations' is not a whole number"),
    ('"3"', "'iterations' is not a whole number"),
    ('"+3"', "'iterations' is not a whole number"),
    ('"1_000"', "'iterations' is not a whole number"),
    ('" 3"', "'iterations' is not a whole number"),
    ('"\u0661\u0662"', "'iterations' is not a whole number"),  # Arabic-Indic 12: int() takes it
    ("1", "weaker than allowed"),
    ("1000000", "exceed the maximum"),
    ("9" * 6000, "at most 20 are allowed"),
]


def test_bad_kdf_parameters_in_a_key_file_are_refused_clearly(ks, derivations):
    ks.add_mnemonic("good", LEGAL)
    rec = ks.add_mnemonic("a", ABANDON)
    data = json.loads(rec.file.read_text())
    data["secret"]["kdf"]["iterations"] = "@@"
    store = fresh(ks)
    store.unlock(PASSPHRASE)  # one unlock for every case: secret() reads the file again each time
    runs = len(derivations)
    for raw, message in BAD_KDF_VALUES:
        rec.file.write_text(json.dumps(data).replace('"@@"', raw))
        with pytest.raises(KeystoreError) as err:
            store.secret("a")
        assert message in str(err.value) and ("'a'" in str(err.value) or rec.file.name in str(err.value)), raw
        assert len(derivations) == runs, raw  # refused before any Argon2 run
        assert store.secret("good").mnemonic == LEGAL


# ----- a file from another keystore is not borrowed -----

@pytest.fixture
def foreign(tmp_path):
    """A key from another keystore (another passphrase), its file copied into ours."""
    other = Keystore(tmp_path / "other")
    other.initialize(OTHER_PASSPHRASE)
    return other.add_mnemonic("theirs", LEGAL)


def test_copied_key_file_does_not_make_its_passphrase_accepted(gonka, home, foreign):
    ours = Keystore(home / "keystore")
    ours.initialize(PASSPHRASE)
    ours.add_mnemonic("mine", ABANDON)
    copied = ours.keys_dir / foreign.file.name
    shutil.copy(foreign.file, copied)
    assert [r.name for r in fresh(ours).list()] == ["mine"]
    with pytest.raises(WrongPassphrase):
        fresh(ours).unlock(OTHER_PASSPHRASE)
    before = all_files(ours.root)
    for args in (("keys", "delete", "theirs", "--yes"), ("keys", "add", "new", "--recover")):
        r = gonka(*args, input=LEGAL, passphrase=OTHER_PASSPHRASE)
        assert r.code == 1 and "internal error" not in r.err, args
    assert all_files(ours.root) == before
    r = gonka("keys", "list")
    assert r.code == 0 and f"warning: key file {copied.name} ('theirs') belongs to another keystore" in r.err
    store = fresh(ours)
    store.unlock(PASSPHRASE)
    assert store.secret("mine").mnemonic == ABANDON


def test_copied_key_file_cannot_carry_this_keystores_id(ks, foreign):
    ks.add_mnemonic("mine", ABANDON)
    copied = ks.keys_dir / foreign.file.name
    shutil.copy(foreign.file, copied)
    edit_json(copied, lambda d: d.update(keystore=ks.store_id()))  # claim to be ours
    with pytest.raises(WrongPassphrase):
        fresh(ks).unlock(OTHER_PASSPHRASE)
    store = fresh(ks)
    store.unlock(PASSPHRASE)
    with pytest.raises(KeystoreError, match="'theirs'.*another keystore"):
        store.secret("theirs")
    assert store.secret("mine").mnemonic == ABANDON


def test_format_1_file_from_another_keystore_is_refused_not_resealed(ks, tmp_path):
    ks.add_mnemonic("mine", ABANDON)
    write_format_1(tmp_path / "old", PASSPHRASE, LEGAL, "theirs")  # even with the same passphrase
    copied = next((tmp_path / "old" / "keys").iterdir())
    shutil.copy(copied, ks.keys_dir / copied.name)
    before = (ks.keys_dir / copied.name).read_bytes()
    store = fresh(ks)
    store.unlock(PASSPHRASE)
    with pytest.raises(KeystoreError, match="'theirs'.*another keystore"):
        store.secret("theirs")
    assert (ks.keys_dir / copied.name).read_bytes() == before
    assert any("not upgraded" in n and "'theirs'" in n and "another keystore" in n for n in store.take_notes())
    with pytest.raises(WrongPassphrase):
        fresh(ks).unlock(OTHER_PASSPHRASE)


def test_no_change_without_this_keystores_check(ks):
    ks.add_mnemonic("a", ABANDON)
    ks.store_file.write_text("{trunc")
    store = fresh(ks)
    store.unlock(PASSPHRASE)
    assert store.secret("a").mnemonic == ABANDON  # a damaged keystore.json costs no key
    assert store.master_key() is None  # nothing for the OS keyring to remember
    with pytest.raises(KeystoreError, match=r"keystore\.json.*nothing was changed"):
        store.delete("a")
    with pytest.raises(KeystoreError, match=r"keystore\.json.*nothing was changed"):
        store.add_mnemonic("b", LEGAL)
    assert [r.name for r in fresh(ks).list()] == ["a"]


def test_keystore_json_replaced_after_unlock_is_noticed(ks, tmp_path):
    ks.add_mnemonic("a", ABANDON)
    other = Keystore(tmp_path / "other")
    other.initialize(PASSPHRASE)  # the same passphrase, another keystore
    shutil.copy(other.store_file, ks.store_file)
    before = all_files(ks.root)
    with pytest.raises(KeystoreError, match="changed since the keystore was unlocked"):
        ks.add_mnemonic("b", LEGAL)
    assert all_files(ks.root) == before


# ----- format 1 keeps opening and is re-sealed -----

def test_format_1_keystore_opens_and_is_resealed(tmp_path):
    root = tmp_path / "keystore"
    store_id, key = write_format_1(root, PASSPHRASE)
    store = Keystore(root)
    store.unlock(PASSPHRASE)
    check = json.loads((root / "keystore.json").read_text())
    assert check["version"] == 2 and check["id"] == store_id
    assert check["check"]["context"] == {"purpose": "passphrase-check", "keystore": store_id}
    key_file = json.loads(next((root / "keys").iterdir()).read_text())
    assert key_file["version"] == 2 and key_file["keystore"] == store_id
    assert key_file["secret"]["context"]["keystore"] == store_id
    assert store.secret("old").mnemonic == ABANDON
    notes = store.take_notes()
    assert len(notes) == 1 and "upgraded the keystore to format 2" in notes[0] and "keystore.json" in notes[0]
    again = Keystore(root)
    again.unlock(PASSPHRASE)
    assert again.take_notes() == [] and again.secret("old").mnemonic == ABANDON
    assert again.master_key() == key  # same salt: a key the OS keyring remembers still fits


def test_format_1_keystore_upgrades_on_a_remembered_key_too(tmp_path, derivations):
    root = tmp_path / "keystore"
    store_id, key = write_format_1(root, PASSPHRASE)
    runs = len(derivations)
    store = Keystore(root)
    assert store.unlock_with_key(key) and store.store_id() == store_id
    assert json.loads((root / "keystore.json").read_text())["version"] == 2
    assert "upgraded" in store.take_notes()[0]
    assert Keystore(root).unlock_with_key(key)
    assert store.secret("old").mnemonic == ABANDON and len(derivations) == runs
    assert not Keystore(root).unlock_with_key(os.urandom(32))


# ----- two processes at once -----

MEET_TIMEOUT = 2.0  # how long the first writer waits for the second: the lock keeps it out


def _race_cli(argv, passphrase, start, meet, meet_at, results):
    """`gonka ARGV` in a child process, held at the start line until the other child is there too,
    then at the write of `meet_at` until the other reaches it (or the lock keeps it away)."""
    import contextlib
    import io

    from gonka_tui import cli
    from gonka_tui.commands.context import Context
    from gonka_tui.core import keystore as module

    real_write, real_open = module.write_json_atomic, Context.unlock_or_initialize

    def at_start(self):
        start.wait(timeout=60)
        return real_open(self)

    def meeting_write(path, obj, *args, **kwargs):
        if path.name == meet_at or (meet_at == "key file" and path.parent.name == "keys"):
            try:
                meet.wait(timeout=MEET_TIMEOUT)
            except threading.BrokenBarrierError:
                pass
        return real_write(path, obj, *args, **kwargs)

    Context.unlock_or_initialize = at_start
    module.write_json_atomic = meeting_write
    os.environ["GONKA_PASSPHRASE"] = passphrase
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    results.put((passphrase, code, err.getvalue()))


def race(runs: list[tuple[list[str], str]], meet_at: str) -> list[tuple[str, int, str]]:
    mp = multiprocessing.get_context("spawn")
    start, meet, results = mp.Barrier(len(runs)), mp.Barrier(len(runs)), mp.Queue()
    procs = [mp.Process(target=_race_cli, args=(argv, pw, start, meet, meet_at, results)) for argv, pw in runs]
    for p in procs:
        p.start()
    try:
        outcomes = [results.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
    return sorted(outcomes, key=lambda o: o[1])


def test_two_adds_of_one_name_at_once_leave_one_key(home):
    Keystore(home / "keystore").initialize(PASSPHRASE)
    argv = ["--home", str(home), "keys", "add", "same"]
    (_, ok_code, _), (_, fail_code, fail_err) = race([(argv, PASSPHRASE)] * 2, "key file")
    assert (ok_code, fail_code) == (0, 1) and "a key named 'same' already exists" in fail_err
    assert [r.name for r in Keystore(home / "keystore").list()] == ["same"]


def test_two_first_adds_with_different_passphrases_agree_on_one(home):
    runs = [(["--home", str(home), "keys", "add", name], pw) for name, pw in (("a", PASSPHRASE), ("b", OTHER_PASSPHRASE))]
    (winner, ok_code, _), (loser, fail_code, fail_err) = race(runs, "keystore.json")
    assert (ok_code, fail_code) == (0, 1)
    assert "different passphrase" in fail_err and "internal error" not in fail_err
    store = Keystore(home / "keystore")
    records = store.list()
    assert len(records) == 1
    with pytest.raises(WrongPassphrase):
        Keystore(home / "keystore").unlock(loser)
    store.unlock(winner)
    assert store.secret(records[0].name).mnemonic


def test_a_symlinked_lock_file_is_refused(ks, tmp_path):
    target = tmp_path / "elsewhere"
    (ks.root / ".lock").unlink(missing_ok=True)
    (ks.root / ".lock").symlink_to(target)
    with pytest.raises(KeystoreError, match="cannot lock the keystore"):
        ks.add_watch("w", "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak")
    assert not target.exists() and fresh(ks).list() == []


# ----- one hostile file costs that file alone -----

def _hostile(ks: Keystore, kind: str, tmp_path: Path) -> Path:
    """Put one hostile file of `kind` into keys/; returns its path."""
    bad = ks.keys_dir / "bad.json"
    if kind == "huge-int":
        bad.write_text('{"format": "gonka-key", "version": 1, "id": ' + "9" * 6000 + "}")
    elif kind == "deep-nesting":
        bad.write_text("[" * 30000 + "]" * 30000)  # under 64 KiB: the parser's recursion
    elif kind == "deep-nesting-200k":
        bad.write_text("[" * 200000 + "]" * 200000)
    else:  # a well-formed key file, then spoiled
        rec = ks.add_mnemonic("victim", ABANDON)
        rec.file.rename(bad)
        data = json.loads(bad.read_text())
        if kind == "oversized":
            bad.write_text(json.dumps(data) + " " * (64 * 1024))
        elif kind == "symlink":
            outside = tmp_path / "outside.json"
            bad.rename(outside)
            bad.symlink_to(outside)
        elif kind == "name-int":
            edit_json(bad, lambda d: d.update(name=123))
        elif kind == "path-int":
            edit_json(bad, lambda d: d.update(path=5))
        elif kind == "path-list":
            edit_json(bad, lambda d: d.update(path=["m/44'/1200'/0'/0/0"]))
        elif kind == "pubkey-of-another-key":
            edit_json(bad, lambda d: d.update(pubkey=derive_key(LEGAL).pubkey.hex()))
    return bad


HOSTILE = ["huge-int", "deep-nesting", "deep-nesting-200k", "oversized", "symlink", "name-int", "path-int",
           "path-list", "pubkey-of-another-key"]


def test_one_hostile_key_file_costs_that_file_alone(ks, tmp_path):
    ks.add_mnemonic("good", LEGAL)
    unlocked = fresh(ks)
    unlocked.unlock(PASSPHRASE)
    for kind in HOSTILE:
        bad = _hostile(ks, kind, tmp_path)
        store = fresh(ks)
        assert [r.name for r in store.list()] == ["good"], kind
        assert len(store.problems) == 1 and store.problems[0].file == bad, kind
        assert "bad.json" in store.problems[0].message, kind
        assert unlocked.secret("good").mnemonic == LEGAL, kind
        with pytest.raises(KeystoreError, match="no key named 'victim'.*bad.json"):
            unlocked.secret("victim")
        bad.unlink()
        (tmp_path / "outside.json").unlink(missing_ok=True)


def test_a_name_with_a_trailing_newline_is_refused(ks):
    with pytest.raises(InputError, match="not allowed"):
        ks.add_watch("alice\n", "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak")
    store = fresh(ks)
    assert store.list() == [] and store.problems == []


def test_hostile_file_name_is_printed_escaped(ks):
    (ks.keys_dir).mkdir(exist_ok=True)
    (ks.keys_dir / "x\x1b[2J\n.json").write_text("garbage")
    store = fresh(ks)
    assert store.list() == [] and len(store.problems) == 1
    assert "\x1b" not in store.problems[0].message and "\n" not in store.problems[0].message


def run_limited(home: Path, *args: str) -> subprocess.CompletedProcess:
    """The real command with its memory capped and a deadline: a hang or a runaway read fails the test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GONKA_")}
    env.update(GONKA_HOME=str(home), GONKA_PASSPHRASE=PASSPHRASE, GONKA_NODE=CLOSED_NODE)

    def cap_memory():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    return subprocess.run([sys.executable, "-m", "gonka_tui", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=30, preexec_fn=cap_memory)


@pytest.mark.skipif(not os.path.exists("/dev/zero") or not hasattr(os, "mkfifo"), reason="POSIX only")
def test_fifo_and_dev_zero_in_keys_cost_their_file_alone(home):
    ks = Keystore(home / "keystore")
    ks.initialize(PASSPHRASE)
    ks.add_mnemonic("good", ABANDON)
    os.mkfifo(ks.keys_dir / "fifo.json")
    (ks.keys_dir / "zero.json").symlink_to("/dev/zero")
    listed = run_limited(home, "keys", "list")
    assert listed.returncode == 0 and "good" in listed.stdout
    assert "fifo.json is not a regular file" in listed.stderr and "zero.json is a symbolic link" in listed.stderr
    assert run_limited(home, "keys", "show", "good").returncode == 0
    exported = run_limited(home, "keys", "export", "good", "--yes")
    assert exported.returncode == 0 and exported.stdout.strip() == ABANDON


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
def test_keystore_json_as_a_fifo_does_not_hang(home):
    ks = Keystore(home / "keystore")
    ks.initialize(PASSPHRASE)
    ks.add_mnemonic("good", ABANDON)
    ks.store_file.unlink()
    os.mkfifo(ks.store_file)
    exported = run_limited(home, "keys", "export", "good", "--yes")
    assert exported.returncode == 0 and exported.stdout.strip() == ABANDON
    assert "keystore.json is not a regular file" in exported.stderr and "reading and export only" in exported.stderr
    added = run_limited(home, "keys", "add", "b")
    assert added.returncode == 1 and "nothing was changed" in added.stderr and "internal error" not in added.stderr


@pytest.mark.parametrize("field, value", [("path", 5), ("path", [1]), ("iterations", "Infinity")])
def test_malformed_key_file_is_one_clear_line(gonka, home, field, value):
    ks = Keystore(home / "keystore")
    ks.initialize(PASSPHRASE)
    ks.add_mnemonic("good", LEGAL)
    file = ks.add_mnemonic("a", ABANDON).file
    data = json.loads(file.read_text())
    if field == "path":
        data["path"] = value
        file.write_text(json.dumps(data))
    else:
        data["secret"]["kdf"]["iterations"] = "@@"
        file.write_text(json.dumps(data).replace('"@@"', value))
    listed = gonka("keys", "list")
    assert listed.code == 0 and "good" in listed.out and f"warning: key file {file.name}" in listed.err
    r = gonka("keys", "export", "a", "--yes")
    assert r.code == 1 and "internal error" not in r.err and len(r.err.strip().splitlines()) == 1
    assert r.err.startswith("error: no key named 'a'") and file.name in r.err
