"""SVG snapshots of the screens users see most, at 80×24 and a wide size, empty and filled.

Update after an intended change with: scripts/test tests/test_snapshots.py --snapshot-update
"""

import pytest

from gonka_tui.core.keys import parse_private_key_hex
from tests.conftest import ABANDON, HEX_KEY, LEGAL, PASSPHRASE
from tests.tui_helpers import keystore, make_app

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}


def fill(home):
    ks = keystore(home)
    ks.initialize(PASSPHRASE)
    ks.add_mnemonic("main", ABANDON)
    ks.add_mnemonic("savings", LEGAL)
    ks.add_private_key("hot", parse_private_key_hex(HEX_KEY))
    ks.add_watch("cold", "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak")


@pytest.mark.parametrize("size", SIZES)
def test_wallet_empty(snap_compare, home, size):
    assert snap_compare(make_app(home), terminal_size=SIZES[size])


@pytest.mark.parametrize("size", SIZES)
def test_wallet_filled(snap_compare, home, size):
    fill(home)
    assert snap_compare(make_app(home), terminal_size=SIZES[size])


def test_receive_80x24(snap_compare, home):
    fill(home)
    assert snap_compare(make_app(home), terminal_size=(80, 24), press=["v"])


def test_help_80x24(snap_compare, home):
    assert snap_compare(make_app(home), terminal_size=(80, 24), press=["f1"])


def test_lock_screen_80x24(snap_compare, home):
    fill(home)
    assert snap_compare(make_app(home), terminal_size=(80, 24), press=["ctrl+l"])


def test_recover_pick_80x24(snap_compare, home):
    async def run_before(pilot):
        await pilot.press("r")
        await pilot.pause()
        pilot.app.screen.query_one("#name").value = "old"
        pilot.app.screen.query_one("#phrase").value = ABANDON
        await pilot.press("tab", "enter")  # to the phrase field, then submit it
        await pilot.pause()
        assert pilot.app.screen.query_one("#steps").current == "step-pick"

    assert snap_compare(make_app(home), terminal_size=(80, 24), run_before=run_before)
