"""Every `gonka keys` command end to end: the real command, a temporary home, stdin a pipe."""

import json

from tests.conftest import ABANDON, ABANDON_1200, ABANDON_118, HEX_KEY, LEGAL, PASSPHRASE

ABANDON_60 = "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak"


def test_add_prints_mnemonic_once_with_warning(gonka, home):
    r = gonka("keys", "add", "alice")
    assert r.code == 0, r.err
    words = r.out.split()
    assert len(words) == 24
    assert "WARNING" in r.err and "shown once" in r.err and " ".join(words) not in r.err
    listed = gonka("keys", "list", "--json", passphrase=None).json()
    assert [k["name"] for k in listed] == ["alice"] and listed[0]["kind"] == "mnemonic"
    assert (home / "config.toml").exists()
    # the key recovers from what was printed
    r2 = gonka("keys", "add", "again", "--recover", input=r.out, home_dir=home.parent / "other")
    assert r2.code == 0 and listed[0]["address"] in r2.out


def test_add_12_words_json(gonka):
    r = gonka("keys", "add", "b", "--words", "12", "--json")
    data = r.json()
    assert len(data["mnemonic"].split()) == 12
    assert set(data) == {"name", "address", "pubkey", "path", "kind", "mnemonic"}


def test_recover_at_each_coin_type(gonka):
    for name, coin, address in [("g", "1200", ABANDON_1200), ("c", "118", ABANDON_118), ("e", "60", ABANDON_60)]:
        r = gonka("keys", "add", name, "--recover", "--coin-type", coin, "--json", input=ABANDON + "\n")
        assert r.code == 0, r.err
        assert r.json() == {**r.json(), "address": address, "path": f"m/44'/{coin}'/0'/0/0", "kind": "mnemonic"}


def test_recover_wrong_word_names_it_and_changes_nothing(gonka, home):
    words = ABANDON.split()
    words[6] = "abandn"
    r = gonka("keys", "add", "x", "--recover", input=" ".join(words))
    assert r.code == 1
    assert r.err.strip() == "error: word 7 is not in the BIP39 English word list"
    assert not (home / "keystore").exists()
    r = gonka("keys", "add", "x", "--recover", input=" ".join(["abandon"] * 12))
    assert r.code == 1 and "checksum" in r.err and "Traceback" not in r.err


def test_from_index_derives_more_accounts(gonka):
    gonka("keys", "add", "main", "--recover", input=ABANDON)
    r = gonka("keys", "add", "second", "--from", "main", "--index", "1", "--json")
    assert r.code == 0, r.err
    assert r.json()["path"] == "m/44'/1200'/0'/0/1" and r.json()["address"] != ABANDON_1200
    r = gonka("keys", "add", "acct", "--from", "main", "--account", "2", "--json")
    assert r.json()["path"] == "m/44'/1200'/2'/0/0"


def test_import_hex_and_export(gonka):
    r = gonka("keys", "import-hex", "h", "--json", input=HEX_KEY + "\n")
    assert r.code == 0, r.err
    assert r.json()["kind"] == "hex" and r.json()["path"] is None
    r = gonka("keys", "export", "h", "--yes")
    assert r.out.strip() == HEX_KEY and "WARNING" in r.err
    r = gonka("keys", "import-hex", "bad", input="abc")
    assert r.code == 1 and "64 hex characters" in r.err


def test_export_mnemonic_needs_confirmation_and_passphrase(gonka):
    gonka("keys", "add", "a", "--recover", input=ABANDON)
    r = gonka("keys", "export", "a")
    assert r.code == 1 and "--yes" in r.err and "abandon" not in r.out
    r = gonka("keys", "export", "a", "--yes", passphrase="wrong passphrase")
    assert r.code == 1 and "wrong passphrase" in r.err and "abandon" not in r.out + r.err
    assert gonka("keys", "export", "a", "--yes").out.strip() == ABANDON


def test_watch_list_show(gonka):
    r = gonka("keys", "add-watch", "cold", ABANDON_60.upper(), passphrase=None)
    assert r.code == 0, r.err
    gonka("keys", "add", "a", "--recover", input=ABANDON)
    listed = gonka("keys", "list", "--json", passphrase=None).json()
    assert listed == [
        {"name": "a", "address": ABANDON_1200,
         "pubkey": "024daacc24ae6754dd460961ea4c6aa114e717e036b7dff3853195483b8d692dd2",
         "path": "m/44'/1200'/0'/0/0", "kind": "mnemonic"},
        {"name": "cold", "address": ABANDON_60, "pubkey": None, "path": None, "kind": "watch"},
    ]
    table = gonka("keys", "list", passphrase=None).out
    assert "cold" in table and ABANDON_60 in table and table.splitlines()[0].split()[:3] == ["NAME", "KIND", "ADDRESS"]
    show = gonka("keys", "show", "cold", "--json", passphrase=None).json()
    assert show == listed[1]
    assert gonka("keys", "show", "a", "-a", passphrase=None).out.strip() == ABANDON_1200
    assert "address: " + ABANDON_1200 in gonka("keys", "show", "a", passphrase=None).out


def test_watch_bad_address(gonka, home):
    r = gonka("keys", "add-watch", "x", ABANDON_1200[:-1] + "q", passphrase=None)
    assert r.code == 1 and r.err.strip() == "error: address checksum is wrong: a character is mistyped or missing"
    r = gonka("keys", "add-watch", "x", "cosmos1k4swv40ur28fvu54p8mskjj4lxkgsj07u9f8ny", passphrase=None)
    assert r.code == 1 and "checksum" in r.err
    assert gonka("keys", "list", "--json").json() == []


def test_rename_and_delete(gonka):
    gonka("keys", "add", "a", "--recover", input=ABANDON)
    gonka("keys", "add-watch", "w", ABANDON_60)
    assert gonka("keys", "rename", "a", "b").code == 0
    r = gonka("keys", "rename", "b", "w")
    assert r.code == 1 and "already exists" in r.err
    r = gonka("keys", "delete", "b")
    assert r.code == 1 and "--yes" in r.err
    r = gonka("keys", "delete", "b", "--yes", passphrase="wrong passphrase")
    assert r.code == 1 and "wrong passphrase" in r.err
    assert [k["name"] for k in gonka("keys", "list", "--json").json()] == ["b", "w"]
    assert gonka("keys", "delete", "b", "--yes").code == 0
    assert gonka("keys", "delete", "w", "--yes", passphrase=None).code == 0
    assert gonka("keys", "list", "--json").json() == []
    r = gonka("keys", "show", "nobody")
    assert r.code == 1 and "no key named 'nobody'" in r.err


def test_one_passphrase_for_all_keys(gonka):
    gonka("keys", "add", "a", "--recover", input=ABANDON)
    r = gonka("keys", "add", "b", "--recover", input=LEGAL, passphrase="a different one")
    assert r.code == 1 and "wrong passphrase" in r.err
    assert [k["name"] for k in gonka("keys", "list", "--json").json()] == ["a"]


def test_non_interactive_needs_a_passphrase(gonka, home):
    r = gonka("keys", "add", "a", passphrase=None)
    assert r.code == 1 and "GONKA_PASSPHRASE" in r.err
    assert not (home / "keystore" / "keys").exists()
    r = gonka("keys", "add", "a", passphrase="short")
    assert r.code == 1 and "at least 8 characters" in r.err


def test_duplicate_name_is_refused_before_reading_the_secret(gonka):
    gonka("keys", "add", "a", "--recover", input=ABANDON)
    r = gonka("keys", "add", "a", "--recover", input=LEGAL)
    assert r.code == 1 and "already exists" in r.err


def test_home_flag_after_the_command_and_env(gonka, tmp_path):
    other = tmp_path / "elsewhere"
    r = gonka("keys", "add", "a", "--recover", "--home", str(other), input=ABANDON)
    assert r.code == 0, r.err
    assert (other / "keystore" / "keystore.json").exists()
    assert gonka("keys", "list", "--json").json() == []


def test_malformed_config_is_one_clear_line(gonka, home):
    gonka("keys", "add", "a", "--recover", input=ABANDON)
    (home / "config.toml").write_text('theme = "x"\ndefault_network = [\n')
    r = gonka("keys", "export", "a", "--yes")
    assert r.code == 1 and "abandon" not in r.out
    assert r.err.startswith(f"error: {home / 'config.toml'}") and "line 2" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_secret_never_in_error_output(gonka, home):
    gonka("keys", "add", "a", "--recover", input=ABANDON)
    key_file = next((home / "keystore" / "keys").glob("*.json"))
    data = json.loads(key_file.read_text())
    data["secret"]["ciphertext"] = data["secret"]["ciphertext"][:-8] + "AAAAAAA="
    key_file.write_text(json.dumps(data))
    r = gonka("keys", "export", "a", "--yes")
    assert r.code == 1 and "corrupt" in r.err
    for secret in ("abandon", PASSPHRASE):
        assert secret not in r.out + r.err
    assert len(r.err.strip().splitlines()) == 1
