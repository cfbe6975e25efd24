"""The headless session: recipients and labels, account lists, the remembered unlock, the client."""

import asyncio

import httpx
import pytest

from gonka_tui.config import resolve_home
from gonka_tui.core.address import short_address
from gonka_tui.commands.context import Context
from gonka_tui.core.errors import InputError, NodeUnreachable
from gonka_tui.core.recipients import UnknownRecipient
from gonka_tui.core.session import DEVNET_HINT, Session
from tests.conftest import ABANDON, ABANDON_118, ABANDON_1200, PASSPHRASE

COLD = "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak"
POISON = "gonka1gsvdqurnn0fe84ljjmk0jegflf7glej5n8jnak"  # same ends as COLD


@pytest.fixture
def session(home):
    s = Session(resolve_home(str(home)))
    s.keystore.initialize(PASSPHRASE)
    s.keystore.add_mnemonic("main", ABANDON)
    s.keystore.add_watch("watch", ABANDON_118)
    s.address_book.add("bob", COLD, "cold storage")
    return s


def test_resolves_a_key_name_a_contact_and_an_address(session):
    r = session.recipients()
    assert r.resolve("main").address == ABANDON_1200 and r.resolve("main").label == "your account 'main'"
    assert r.resolve(" bob ").address == COLD and r.resolve("bob").label == "contact 'bob'"
    assert r.resolve(COLD.upper()).address == COLD and r.resolve(COLD).label == "contact 'bob'"
    assert r.resolve(POISON).label is None


def test_refuses_a_wrong_one_with_todays_messages(session):
    r = session.recipients()
    with pytest.raises(InputError, match="^enter an address"):
        r.resolve("  ")
    with pytest.raises(UnknownRecipient, match="^no contact or account is named 'nobody', and it is not an address$"):
        r.resolve("nobody")
    with pytest.raises(UnknownRecipient) as exc:
        r.resolve(COLD[:-1] + "q")  # an address attempt: the address's own problem
    assert "no contact" not in str(exc.value) and str(exc.value) == str(exc.value.address_error)


def test_the_cli_words_the_same_lookup_its_own_way(session, home):
    ctx = Context(home_arg=str(home))
    assert ctx.resolve_address("main") == ABANDON_1200 and ctx.resolve_address("bob") == COLD
    with pytest.raises(InputError, match="^'nobody' is neither a key, a contact nor a valid address: "):
        ctx.resolve_address("nobody")


def test_labels_accounts_first_then_contacts(session):
    r = session.recipients()
    assert r.name_for(ABANDON_1200) == "main" and r.label_for(COLD) == "contact 'bob'"
    assert r.name_for(POISON) is None and r.label_for(POISON) is None


def test_known_addresses_feed_the_lookalike_guard(session):
    from gonka_tui.core.address_book import lookalikes

    session.address_book.record_use(ABANDON_1200)
    known = session.recipients().known()
    assert [k.kind for k in known] == ["contact", "account", "account"]  # a recent own account is named once
    hits = lookalikes(POISON, [(k.label, k.address) for k in known])
    assert hits == [("contact 'bob'", COLD)]


def test_a_damaged_book_stops_only_what_needs_it(session):
    path = session.home.address_book_file
    path.write_text("{not json")
    assert session.recipients().resolve("main").address == ABANDON_1200
    with pytest.raises(Exception, match="address book .* is corrupt"):
        session.recipients().resolve("bob")
    labels = session.recipients(damaged_book_ok=True)
    assert labels.name_for(ABANDON_1200) == "main" and labels.name_for(COLD) is None


def test_account_lists_and_which_one_a_screen_shows(session):
    from gonka_tui.core.account_list import AccountPick

    assert session.accounts().names == ["main", "watch"]
    senders = session.accounts(can_send=True)
    assert senders.names == ["main"] and senders.options == [(f"main · {short_address(ABANDON_1200, 6)}", "main")]
    pick = AccountPick()
    names = ["a", "b", "c"]
    assert pick.choose(names, None, None, None) == "a"
    assert pick.choose(names, "a", None, "c") == "a"  # the shown one stays
    assert pick.choose(names, "a", "b", "c") == "b"  # the Wallet choice changed: it wins
    assert pick.choose(names, "c", "b", None) == "c"  # ... once
    assert pick.choose(names, None, "b", "c") == "c"  # the default, then the first
    assert pick.choose([], "a", "z", None) is None


def test_the_remembered_unlock(home, memory_keyring, monkeypatch):  # noqa: F811
    h = resolve_home(str(home))
    first = Session(h)
    first.create_or_unlock(PASSPHRASE)
    assert not Session(h).try_remembered_unlock()  # nothing remembered yet
    assert first.remember() and len(memory_keyring.store) == 1
    assert not Session(h).try_remembered_unlock()  # remembered, but the config does not opt in
    h.config_file.write_text("remember_unlock = true\n")
    again = Session(h)
    assert again.try_remembered_unlock() and again.keystore.unlocked
    memory_keyring.store.clear()
    assert not Session(h).try_remembered_unlock()


def test_unlock_remembers_only_when_asked(home, memory_keyring):  # noqa: F811
    h = resolve_home(str(home))
    Session(h).create_or_unlock(PASSPHRASE)
    s = Session(h)
    s.unlock(PASSPHRASE)
    assert memory_keyring.store == {}
    Session(h).unlock(PASSPHRASE, remember=True)
    assert len(memory_keyring.store) == 1


def _refused(request):
    raise httpx.ConnectError("connection refused")


def test_the_devnet_hint_is_carried_as_data(home, monkeypatch):
    monkeypatch.delenv("GONKA_NODE")
    h = resolve_home(str(home))

    async def failure(session):
        async with session.new_client(transport=httpx.MockTransport(_refused)) as client:
            with pytest.raises(NodeUnreachable) as exc:
                await client.status()
        return exc.value

    local = asyncio.run(failure(Session(h, network="devnet")))
    assert local.hint == DEVNET_HINT and str(local).endswith(DEVNET_HINT)
    other = asyncio.run(failure(Session(h, node="http://127.0.0.1:1234")))
    assert other.hint == "" and "gonka devnet" not in str(other)


def test_one_client_made_on_first_use_with_the_configured_deadline(home, monkeypatch):
    monkeypatch.setenv("GONKA_REQUEST_DEADLINE", "2.5")
    s = Session(resolve_home(str(home)))
    client = s.client
    assert s.client is client and client.deadline == 2.5
    closed = []
    client.aclose = lambda: asyncio.sleep(0, closed.append(True))
    asyncio.run(s.aclose())
    assert closed == [True]


async def test_a_deadline_asked_for_never_exceeds_the_configured_one(home, monkeypatch):
    monkeypatch.setenv("GONKA_REQUEST_DEADLINE", "2.5")
    s = Session(resolve_home(str(home)))
    async with s.new_client(deadline=60) as longer, s.new_client(deadline=1) as shorter:
        assert longer.deadline == 2.5 and shorter.deadline == 1
