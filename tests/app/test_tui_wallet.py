"""The app as a user drives it: create (quiz passed, failed, skipped), recover, import, watch,
receive, lock and auto-lock, help, remapped keys, errors as modals."""

from __future__ import annotations

from textual.widgets import DataTable, RadioButton, Static

from gonka_tui.core.errors import KeystoreError
from gonka_tui.core.keys import derive_key
from gonka_tui.tui.screens.add_key import AddKeyModal
from gonka_tui.tui.screens.create import CreateWizard
from gonka_tui.tui.screens.dialogs import ConfirmModal, ErrorModal
from gonka_tui.tui.screens.help import HelpModal
from gonka_tui.tui.screens.passphrase import LockScreen, NewPassphraseModal, UnlockModal
from gonka_tui.tui.screens.receive import ReceiveModal
from gonka_tui.tui.screens.recover import RecoverWizard
from gonka_tui.tui.screens.wallet import WalletScreen
from tests.conftest import ABANDON, ABANDON_1200, ABANDON_118, HEX_KEY, PASSPHRASE
from tests.tui_helpers import FakeClock, keystore, make_app, type_into, wait_for, wait_screen

SIZE = (80, 24)


def existing_keystore(home, *names):
    ks = keystore(home)
    ks.initialize(PASSPHRASE)
    if "abandon" in names:
        ks.add_mnemonic("abandon", ABANDON)
    return ks


async def choose_passphrase(pilot):
    await wait_screen(pilot, NewPassphraseModal)
    await type_into(pilot, "#first", PASSPHRASE)
    await type_into(pilot, "#second", PASSPHRASE)
    await pilot.press("enter")


async def unlock(pilot, passphrase=PASSPHRASE):
    await wait_screen(pilot, UnlockModal)
    await type_into(pilot, "#passphrase", passphrase)
    await pilot.press("enter")


async def start_create(pilot, name="alice") -> CreateWizard:
    await pilot.press("c")
    wizard = await wait_screen(pilot, CreateWizard)
    await type_into(pilot, "#name", name)
    await pilot.press("enter")
    await wait_for(pilot, lambda: wizard.query_one("#steps").current == "step-phrase", what="phrase step")
    return wizard


async def answer(pilot, wizard: CreateWizard, words: list[str], correct: bool) -> None:
    for q in wizard.quiz.questions:
        right = words[q.position - 1]
        pick = right if correct else next(c for c in q.choices if c != right)
        button = next(b for b in wizard.query(f"#q{q.position} RadioButton").results(RadioButton) if b.name == pick)
        await pilot.click(button)
    await pilot.click("#verify")
    await pilot.pause()


async def test_create_wallet_and_pass_the_quiz(home):
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await start_create(pilot)
        words = wizard.mnemonic.split()
        shown = [str(w.render()) for w in wizard.query(".phrase-word").results(Static)]
        assert len(shown) == 24 and shown[0].endswith(words[0]) and shown[23].endswith(words[23])
        await pilot.click("#to-quiz")
        await wait_for(pilot, lambda: wizard.query_one("#steps").current == "step-quiz", what="quiz")
        assert not wizard.query(".phrase-word")  # the phrase is gone once the quiz starts
        assert len(wizard.quiz.questions) >= 3
        for q in wizard.quiz.questions:
            assert words[q.position - 1] in q.choices and len(set(q.choices)) >= 4
        await answer(pilot, wizard, words, correct=True)
        await choose_passphrase(pilot)
        await wait_screen(pilot, WalletScreen)
        records = keystore(home).list()
        assert [r.name for r in records] == ["alice"]
        assert records[0].address == derive_key(" ".join(words)).address
        table = app.screen.query_one("#accounts", DataTable)
        assert table.row_count == 1 and " unlocked" in app.sub_title


async def test_failed_quiz_saves_nothing(home):
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await start_create(pilot)
        words = wizard.mnemonic.split()
        await pilot.click("#to-quiz")
        await wait_for(pilot, lambda: wizard.query_one("#steps").current == "step-quiz")
        first_positions = [q.position for q in wizard.quiz.questions]
        await answer(pilot, wizard, words, correct=False)
        assert wizard.quiz.attempts_left == 2
        assert "Attempts left: 2" in str(wizard.query_one("#quiz-intro", Static).render())
        await answer(pilot, wizard, words, correct=False)
        await answer(pilot, wizard, words, correct=False)
        await wait_for(pilot, lambda: wizard.query_one("#steps").current == "step-failed", what="failure step")
        assert wizard.mnemonic is None
        await pilot.click("#close-failed")
        await wait_screen(pilot, WalletScreen)
        assert keystore(home).list() == [] and not keystore(home).initialized
        assert first_positions  # questions were asked


async def test_skipping_the_quiz_needs_an_explicit_warned_choice(home):
    existing_keystore(home)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await start_create(pilot, "skipper")
        await pilot.click("#to-quiz")
        await wait_for(pilot, lambda: wizard.query_one("#steps").current == "step-quiz")
        await pilot.click("#skip")
        modal = await wait_screen(pilot, ConfirmModal)
        assert "loses the funds" in str(modal.query_one(".dialog-body", Static).render())
        await pilot.press("enter")  # the focused button is "Back to the quiz"
        await wait_screen(pilot, CreateWizard)
        assert keystore(home).list() == []
        await pilot.click("#skip")
        await wait_screen(pilot, ConfirmModal)
        await pilot.click("#confirm")
        await unlock(pilot)
        await wait_screen(pilot, WalletScreen)
        assert [r.name for r in keystore(home).list()] == ["skipper"]


async def test_recover_with_completion_and_pick_118(home):
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        wizard = await wait_screen(pilot, RecoverWizard)
        await type_into(pilot, "#name", "old")
        await pilot.press("enter")
        words = ABANDON.split()
        await pilot.press(*list(" ".join(words[:-1]) + " abo"))
        await pilot.press("right")  # accept the completion: "about"
        status = wizard.query_one("#phrase-status", Static)
        await wait_for(pilot, lambda: "checksum OK" in str(status.render()), what="checksum OK")
        await pilot.press("enter")
        await wait_for(pilot, lambda: wizard.query_one("#steps").current == "step-pick", what="pick step")
        labels = [str(b.label) for b in wizard.query("#pick RadioButton").results(RadioButton)]
        assert ABANDON_1200 in labels[0] and ABANDON_118 in labels[1] and len(labels) == 3
        await pilot.click("#c118")
        await pilot.click("#save")
        await choose_passphrase(pilot)
        await wait_screen(pilot, WalletScreen)
        rec = keystore(home).get("old")
        assert rec.address == ABANDON_118 and rec.path == "m/44'/118'/0'/0/0"


async def test_recover_points_at_the_wrong_word(home):
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        wizard = await wait_screen(pilot, RecoverWizard)
        await type_into(pilot, "#name", "x")
        words = ABANDON.split()
        words[2] = "abandn"
        await type_into(pilot, "#phrase", " ".join(words))
        status = str(wizard.query_one("#phrase-status", Static).render())
        assert "word 3 'abandn'" in status and "abandon" in status
        await pilot.press("enter")
        assert wizard.query_one("#steps").current == "step-phrase"


async def test_import_hex(home):
    existing_keystore(home)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        modal = await wait_screen(pilot, AddKeyModal)
        await type_into(pilot, "#name", "hot")
        await type_into(pilot, "#value", "12ab")
        assert "64 hex characters" in str(modal.query_one("#preview", Static).render())
        modal.query_one("#value").value = ""
        await type_into(pilot, "#value", HEX_KEY)
        expected = "Address: gonka1"
        assert str(modal.query_one("#preview", Static).render()).startswith(expected)
        await pilot.press("enter")
        await unlock(pilot, "wrong passphrase")
        problem = app.screen.query_one("#problem", Static)
        await wait_for(pilot, lambda: "Wrong passphrase" in str(problem.render()), what="wrong passphrase")
        await type_into(pilot, "#passphrase", PASSPHRASE)
        await pilot.press("enter")
        await wait_screen(pilot, WalletScreen)
        assert keystore(home).get("hot").kind == "hex"


async def test_watch_and_receive(home):
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        modal = await wait_screen(pilot, AddKeyModal)
        await type_into(pilot, "#name", "cold")
        await type_into(pilot, "#value", ABANDON_118[:-1] + "x")
        assert "checksum" in str(modal.query_one("#preview", Static).render())
        await pilot.press("backspace", *list(ABANDON_118[-1]))
        await pilot.press("enter")
        await wait_screen(pilot, WalletScreen)
        assert keystore(home).get("cold").kind == "watch"  # no passphrase asked for a watch-only
        await pilot.press("v")
        receive = await wait_screen(pilot, ReceiveModal)
        assert str(receive.query_one("#receive-address", Static).render()) == ABANDON_118
        assert receive.query_one("#qr").size.width == 33
        await pilot.press("c")
        assert app.clipboard == ABANDON_118
        await pilot.press("escape")
        await wait_screen(pilot, WalletScreen)


async def test_lock_and_auto_lock(home):
    existing_keystore(home, "abandon")
    clock = FakeClock()
    app = make_app(home, clock, config_text="auto_lock_minutes = 2\n")
    async with app.run_test(size=SIZE) as pilot:
        assert not app.keystore.unlocked
        await pilot.press("ctrl+l")  # locking a locked keystore still covers the screen
        lock = await wait_screen(pilot, LockScreen)
        await type_into(pilot, "#passphrase", "nope nope")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Wrong" in str(lock.query_one("#problem", Static).render()))
        assert isinstance(app.screen, LockScreen)
        await type_into(pilot, "#passphrase", PASSPHRASE)
        await pilot.press("enter")
        await wait_screen(pilot, WalletScreen)
        assert app.keystore.unlocked and "unlocked" in app.sub_title
        clock.now += 60
        app.check_auto_lock()
        assert isinstance(app.screen, WalletScreen)  # one idle minute: still open
        await pilot.press("down")  # activity resets the idle clock
        clock.now += 100
        app.check_auto_lock()
        assert isinstance(app.screen, WalletScreen)
        clock.now += 30
        app.check_auto_lock()
        await wait_screen(pilot, LockScreen)
        assert not app.keystore.unlocked and "locked" in app.sub_title
        await pilot.press("escape", "q")  # nothing but the passphrase opens it
        assert isinstance(app.screen, LockScreen)


async def test_lock_without_keys_says_so(home):
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert isinstance(app.screen, WalletScreen)


async def test_help_lists_keys_and_ids(home):
    app = make_app(home, config_text='[keys]\n"wallet.create" = "ctrl+n"\n')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        help_modal = await wait_screen(pilot, HelpModal)
        table = help_modal.query_one("#help-keys", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert ("ctrl+n", "wallet.create", "Create a new wallet (a new recovery phrase)") in [tuple(map(str, r)) for r in rows]
        await pilot.press("escape")
        await wait_screen(pilot, WalletScreen)
        await pilot.press("c")  # remapped away
        await pilot.pause()
        assert isinstance(app.screen, WalletScreen)
        await pilot.press("ctrl+n")
        await wait_screen(pilot, CreateWizard)


async def test_rename_and_delete(home):
    existing_keystore(home, "abandon")
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause()
        field = app.screen.query_one("#value")
        field.value = ""
        await type_into(pilot, "#value", "main")
        await pilot.press("enter")
        await wait_for(pilot, lambda: [r.name for r in keystore(home).list()] == ["main"], what="rename")
        await pilot.press("delete")
        await wait_screen(pilot, ConfirmModal)
        await pilot.click("#confirm")
        await unlock(pilot)
        await wait_for(pilot, lambda: keystore(home).list() == [], what="delete")
        await wait_screen(pilot, WalletScreen)
        assert app.screen.query_one("#empty").display


async def test_errors_become_modals_not_crashes(home, monkeypatch):
    app = make_app(home)

    def refuse(*args, **kwargs):
        raise KeystoreError("disk is read-only")

    async with app.run_test(size=SIZE) as pilot:
        monkeypatch.setattr(app.keystore, "add_watch", refuse)
        await pilot.press("w")
        await wait_screen(pilot, AddKeyModal)
        await type_into(pilot, "#name", "cold")
        await type_into(pilot, "#value", ABANDON_118)
        await pilot.press("enter")
        modal = await wait_screen(pilot, ErrorModal)
        assert "disk is read-only" in str(modal.query_one(".dialog-body", Static).render())
        await pilot.press("escape")
        await wait_screen(pilot, AddKeyModal)


async def test_crash_report_shows_no_local_values(home):
    app = make_app(home)
    async with app.run_test(size=SIZE):
        try:
            secret_words = ABANDON  # noqa: F841 — a local the traceback must not print
            raise RuntimeError("boom")
        except RuntimeError:
            app._fatal_error()
        text = "".join(seg.text for r in app._exit_renderables for seg in r.segments)
        assert "RuntimeError" in text and "abandon" not in text


async def test_quiz_by_keyboard_alone(home):
    existing_keystore(home)
    app = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await start_create(pilot, "keys-only")
        words = wizard.mnemonic.split()
        await pilot.press("enter")  # "I wrote it down" has the focus
        await wait_for(pilot, lambda: wizard.query_one("#steps").current == "step-quiz")
        for q in wizard.quiz.questions:
            index = q.choices.index(words[q.position - 1])
            await pilot.press(*(["down"] * index), "enter", "tab")
        await pilot.press("tab", "enter")  # past "Skip check…" to "Verify"
        await unlock(pilot)
        await wait_screen(pilot, WalletScreen)
        assert [r.name for r in keystore(home).list()] == ["keys-only"]
