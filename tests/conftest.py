"""Shared fixtures: a temporary home, known keys, and a CLI runner that spawns the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
ABANDON_1200 = "gonka1k4swv40ur28fvu54p8mskjj4lxkgsj07u9f8ny"
ABANDON_118 = "gonka19rl4cm2hmr8afy4kldpxz3fka4jguq0av42rch"
LEGAL = "legal winner thank year wave sausage worth useful legal winner thank yellow"
PASSPHRASE = "correct horse battery"
# A fixed private key (not derived from the mnemonics above).
HEX_KEY = "1f" * 32
REPO = Path(__file__).resolve().parent.parent
CLOSED_NODE = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    """No test may see the developer's real home, passphrase or node."""
    for var in ("GONKA_HOME", "GONKA_PASSPHRASE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GONKA_NODE", CLOSED_NODE)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def home(tmp_path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def gonka(home):
    """Run `gonka ARGS` as a subprocess with a temporary home; stdin is a pipe (not a terminal)."""

    def run(*args: str, input: str | None = None, passphrase: str | None = PASSPHRASE,
            env: dict | None = None, home_dir: Path | None = home) -> Result:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GONKA_")}
        full_env["GONKA_NODE"] = CLOSED_NODE  # never a node that happens to run on this machine
        if home_dir is not None:
            full_env["GONKA_HOME"] = str(home_dir)
        if passphrase is not None:
            full_env["GONKA_PASSPHRASE"] = passphrase
        full_env.update(env or {})
        proc = subprocess.run([sys.executable, "-m", "gonka_tui", *args], input=input or "", capture_output=True,
                              text=True, env=full_env, cwd=REPO, timeout=60)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def ks(tmp_path):
    """A keystore with its passphrase (PASSPHRASE) and no keys yet."""
    from gonka_tui.core.keystore import Keystore

    store = Keystore(tmp_path / "keystore")
    store.initialize(PASSPHRASE)
    return store


def fresh(ks):
    """A new process's view of the same keystore: locked."""
    from gonka_tui.core.keystore import Keystore

    return Keystore(ks.root)


@pytest.fixture
def memory_keyring():
    """An OS keyring in memory, for the remembered-unlock paths (a headless box has none)."""
    import keyring
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def __init__(self):
            super().__init__()
            self.store = {}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
