"""What every command needs: the home, config, keystore, output, and the non-interactive rules.

Secrets come from stdin when it is not a terminal, else from a hidden prompt; the passphrase
from GONKA_PASSPHRASE, else a hidden prompt on a terminal; confirmations need --yes when
stdin is not a terminal.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from gonka_tui.config import Config, Home, NetworkProfile, ensure_config, resolve_home
from gonka_tui.core.errors import GonkaError, InputError, WrongPassphrase
from gonka_tui.core.keystore import Keystore, validate_new_passphrase
from gonka_tui.core.session import Session

if TYPE_CHECKING:
    from gonka_tui.core.chain_client import ChainClient
    from gonka_tui.core.recipients import Recipients

PASSPHRASE_ENV = "GONKA_PASSPHRASE"
PROMPT_TRIES = 3


@dataclass
class Context:
    home_arg: str | None = None
    network_arg: str | None = None
    node_arg: str | None = None
    debug: bool = False
    stdin: object = field(default_factory=lambda: sys.stdin)
    stdout: object = field(default_factory=lambda: sys.stdout)
    stderr: object = field(default_factory=lambda: sys.stderr)

    @cached_property
    def home(self) -> Home:
        return resolve_home(self.home_arg)

    @cached_property
    def session(self) -> Session:
        return Session(self.home, network=self.network_arg, node=self.node_arg)

    @property
    def config(self) -> Config:
        return self.session.config

    @property
    def keystore(self) -> Keystore:
        return self.session.keystore

    @property
    def network(self) -> NetworkProfile:
        return self.session.network

    def chain_client(self, **kwargs) -> "ChainClient":
        """A node client for this command (see Session.new_client)."""
        return self.session.new_client(**kwargs)

    def recipients(self) -> "Recipients":
        return self.session.recipients()

    def resolve_address(self, name_or_address: str) -> str:
        """A key name, an address-book name, or an address."""
        from gonka_tui.core.recipients import UnknownRecipient

        try:
            return self.recipients().resolve(name_or_address).address
        except UnknownRecipient as exc:
            raise InputError(f"'{name_or_address}' is neither a key, a contact nor a valid address: "
                             f"{exc.address_error}") from None

    @property
    def stderr_is_tty(self) -> bool:
        return _isatty(self.stderr)

    def progress(self, text: str) -> None:
        """One progress line on stderr (overwritten in place on a terminal)."""
        if self.stderr_is_tty:
            self.stderr.write(f"\r\033[K… {text}")
            self.stderr.flush()
        else:
            print(f"… {text}", file=self.stderr)

    def end_progress(self) -> None:
        if self.stderr_is_tty:
            self.stderr.write("\r\033[K")
            self.stderr.flush()

    # ----- output -----

    def out(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def err(self, text: str) -> None:
        print(text, file=self.stderr)

    def out_json(self, obj: object) -> None:
        print(json.dumps(obj, indent=2), file=self.stdout)

    # ----- input -----

    @property
    def interactive(self) -> bool:
        return _isatty(self.stdin)

    def read_secret(self, prompt: str) -> str:
        """A secret from stdin when piped, else a hidden prompt."""
        if not self.interactive:
            data = self.stdin.read()
            if not data.strip():
                raise InputError(f"expected the {prompt.lower()} on stdin, got nothing")
            return data.strip()
        return getpass.getpass(f"{prompt}: ")

    def confirm(self, question: str, yes: bool) -> None:
        if yes:
            return
        if not self.interactive:
            raise InputError(f"{question} needs confirmation: pass --yes (stdin is not a terminal)")
        answer = input(f"{question}? Type 'yes' to continue: ")
        if answer.strip().lower() != "yes":
            raise GonkaError("cancelled; nothing was changed")

    def prepare_home(self) -> None:
        ensure_config(self.home)

    # ----- passphrase -----

    def unlock(self) -> Keystore:
        """Unlock the keystore: remembered key (opt-in), GONKA_PASSPHRASE, or a prompt."""
        ks = self.keystore
        if ks.unlocked:
            return ks
        if self.session.try_remembered_unlock():
            return self._unlocked(ks)
        env = os.environ.get(PASSPHRASE_ENV)
        if env is not None:
            try:
                self.session.unlock(env)
            except WrongPassphrase:
                raise GonkaError(f"wrong passphrase (from ${PASSPHRASE_ENV})") from None
        elif self.interactive:
            for attempt in range(PROMPT_TRIES):
                try:
                    self.session.unlock(getpass.getpass("Keystore passphrase: "))
                    break
                except WrongPassphrase:
                    if attempt == PROMPT_TRIES - 1:
                        raise
                    self.err("wrong passphrase, try again")
        else:
            raise GonkaError(f"the keystore is locked: set ${PASSPHRASE_ENV} or run in a terminal")
        return self._unlocked(ks)

    def _unlocked(self, ks: Keystore) -> Keystore:
        """Say what the unlock did (a format upgrade) or found (a refused file), then remember it."""
        for note in ks.take_notes():
            self.err(f"note: {note}")
        if self.config.remember_unlock:
            self.session.remember()
        return ks

    def unlock_or_initialize(self) -> Keystore:
        """Unlock, or on a keystore without a passphrase yet, choose one."""
        ks = self.keystore
        if ks.initialized or ks.has_secrets():
            return self.unlock()
        env = os.environ.get(PASSPHRASE_ENV)
        if env is not None:
            self.session.create_or_unlock(env)
        elif self.interactive:
            self.err("Choose a passphrase for the new keystore; it encrypts every key on this machine.")
            for attempt in range(PROMPT_TRIES):
                first = getpass.getpass("New passphrase: ")
                try:
                    validate_new_passphrase(first)
                except InputError as exc:
                    if attempt == PROMPT_TRIES - 1:
                        raise
                    self.err(str(exc))
                    continue
                if getpass.getpass("Repeat passphrase: ") == first:
                    self.session.create_or_unlock(first)
                    break
                if attempt == PROMPT_TRIES - 1:
                    raise InputError("the passphrases did not match; nothing was changed")
                self.err("the passphrases did not match, try again")
        else:
            raise GonkaError(f"a new keystore needs a passphrase: set ${PASSPHRASE_ENV} or run in a terminal")
        return self._unlocked(ks)


def _isatty(stream) -> bool:
    """A terminal (a closed or replaced stream, e.g. under tests, is not)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
