"""One user's session, without a user interface: home, config, network, keystore, the node client,
the address book, unlocking, recipients and account lists.

The CLI's context and the app each hold one; the front ends keep only the asking (a hidden
prompt, a modal) and the showing. Everything is read when first needed, so a command that needs
no network never fails on a bad network setting.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Callable

from gonka_tui.config import DEVNET_URL, Config, Home, NetworkProfile, load_config, request_deadline, select_network
from gonka_tui.core import unlock_cache
from gonka_tui.core.account_list import AccountList
from gonka_tui.core.keystore import Keystore

if TYPE_CHECKING:
    from gonka_tui.core.address_book import AddressBook
    from gonka_tui.core.brokers import BrokerBook
    from gonka_tui.core.chain_client import ChainClient
    from gonka_tui.core.recipients import Recipients

# Added to "node unreachable" when the node is the local devnet's; the error carries it as `hint`.
DEVNET_HINT = "; is the local network running? start it with `gonka devnet`"

ClientFactory = Callable[[NetworkProfile], "ChainClient"]


class Session:
    def __init__(self, home: Home, config: Config | None = None, *, network: str | None = None,
                 node: str | None = None, keystore: Keystore | None = None,
                 client_factory: ClientFactory | None = None) -> None:
        self.home = home
        if config is not None:
            self.config = config
        if keystore is not None:
            self.keystore = keystore
        self._network_arg, self._node_arg = network, node
        self._client_factory = client_factory
        self._client: ChainClient | None = None

    @cached_property
    def config(self) -> Config:
        return load_config(self.home)

    @cached_property
    def network(self) -> NetworkProfile:
        return select_network(self.config, self._network_arg, self._node_arg)

    @cached_property
    def keystore(self) -> Keystore:
        return Keystore(self.home.keystore_dir)

    @cached_property
    def deadline(self) -> float:
        """Seconds one request may take in all (a bad $GONKA_REQUEST_DEADLINE raises here)."""
        return request_deadline(self.config)

    @property
    def address_book(self) -> "AddressBook":
        from gonka_tui.core.address_book import AddressBook

        return AddressBook(self.home.address_book_file)

    @property
    def brokers(self) -> "BrokerBook":
        from gonka_tui.core.brokers import BrokerBook

        return BrokerBook(self.home.data_dir, self.keystore)

    # ----- the node client -----

    def new_client(self, **kwargs) -> "ChainClient":
        """A fresh client for this network (the caller closes it); a `deadline` asked for here never
        exceeds the configured one."""
        from gonka_tui.core.chain_client import ChainClient

        if DEVNET_URL in self.network.nodes:
            kwargs.setdefault("unreachable_hint", DEVNET_HINT)
        kwargs["deadline"] = min(kwargs.get("deadline", float("inf")), self.deadline)
        return ChainClient(self.network.nodes, self.network.chain_id, **kwargs)

    @property
    def client(self) -> "ChainClient":
        """The session's one client, made on first use; `aclose` closes it."""
        if self._client is None:
            factory = self._client_factory or (lambda _network: self.new_client())
            self._client = factory(self.network)
        return self._client

    def client_now(self) -> "ChainClient":
        """The client for a request the user asked for: ask the node now, whatever its back-off, and
        not the short read cache."""
        self.client.retry_now()
        self.client.invalidate()
        return self.client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    # ----- unlocking (the front ends ask for the passphrase) -----

    def try_remembered_unlock(self) -> bool:
        """Unlock with the key remembered in the OS keyring, where the config opts in."""
        ks = self.keystore
        store_id = ks.store_id()
        if self.config.remember_unlock and store_id:
            key = unlock_cache.recall(store_id)
            if key and ks.unlock_with_key(key):
                return True
        return False

    def unlock(self, passphrase: str, *, remember: bool = False) -> None:
        """Unlock with the passphrase (WrongPassphrase if it is not); `remember` keeps the derived key
        in the OS keyring for next time."""
        self.keystore.unlock(passphrase)
        if remember:
            self.remember()

    def create_or_unlock(self, passphrase: str, *, remember: bool = False) -> None:
        """Give a new keystore its passphrase, or unlock it if another process just gave it one."""
        self.keystore.create_or_unlock(passphrase)
        if remember:
            self.remember()

    def remember(self) -> bool:
        ks = self.keystore
        store_id, key = ks.store_id(), ks.master_key()
        return bool(store_id and key) and unlock_cache.remember(store_id, key)

    # ----- who is who -----

    def recipients(self, *, damaged_book_ok: bool = False) -> "Recipients":
        """Your accounts and contacts as they are now (see core/recipients.py)."""
        from gonka_tui.core.recipients import Recipients

        return Recipients(self.keystore, self.address_book, damaged_book_ok=damaged_book_ok)

    def accounts(self, *, can_send: bool = False) -> AccountList:
        """Your accounts for an account field; `can_send`: only those whose key is here."""
        accounts = AccountList(tuple(self.keystore.list()))
        return accounts.senders() if can_send else accounts
