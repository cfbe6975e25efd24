"""Remembering the unlock in the OS keyring: opt-in, only with a real backend, never a crash."""

import keyring

from gonka_tui.commands.context import Context
from gonka_tui.core import unlock_cache
from gonka_tui.core.keystore import Keystore
from tests.conftest import ABANDON, PASSPHRASE


def test_headless_backend_is_a_quiet_no_op():
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        assert not unlock_cache.available()
        assert unlock_cache.remember("id", b"k") is False
        assert unlock_cache.recall("id") is None
        unlock_cache.forget("id")
    finally:
        keyring.set_keyring(previous)


def test_remembered_unlock_when_opted_in(home, memory_keyring, monkeypatch):
    (home / "config.toml").write_text("remember_unlock = true\n")
    ks = Keystore(home / "keystore")
    ks.initialize(PASSPHRASE)
    ks.add_mnemonic("a", ABANDON)
    monkeypatch.setenv("GONKA_PASSPHRASE", PASSPHRASE)
    Context(home_arg=str(home)).unlock()
    assert len(memory_keyring.store) == 1
    assert PASSPHRASE not in next(iter(memory_keyring.store.values()))  # the derived key, not the passphrase
    monkeypatch.delenv("GONKA_PASSPHRASE")
    ctx = Context(home_arg=str(home))  # no passphrase anywhere now
    assert ctx.unlock().secret("a").mnemonic == ABANDON


def test_not_remembered_without_opting_in(home, memory_keyring, monkeypatch):
    ks = Keystore(home / "keystore")
    ks.initialize(PASSPHRASE)
    monkeypatch.setenv("GONKA_PASSPHRASE", PASSPHRASE)
    Context(home_arg=str(home)).unlock()
    assert memory_keyring.store == {}
