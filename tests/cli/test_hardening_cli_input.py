"""Odd input on the command line (issue 6, item 5): one clear line naming the field, never "internal
error", and checked before any key is unlocked or any node is contacted. Whole numbers are ASCII digits
in a range (uint64 for gas, account number and sequence); amounts are bounded before any big-number
work; a memo is UTF-8 of at most 256 bytes. The CLI runs in-process against a node that counts requests."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given, strategies as st

from gonka_tui.cli import HISTORY_MAX_LIMIT, HISTORY_MAX_PAGE, build_parser, main
from gonka_tui.commands.devnet import parse_block_time, parse_min_gas_price, parse_port
from gonka_tui.core.errors import InputError
from gonka_tui.core.integers import UINT64_MAX, parse_uint
from gonka_tui.core.keys import HD_INDEX_MAX
from gonka_tui.core.secp256k1 import verify
from gonka_tui.core.tx import decode_tx
from gonka_tui.core.units import parse_amount
from gonka_tui.devnet.genesis import MAX_VESTING_SECONDS, parse_fund, parse_fund_vesting
from tests.conftest import ABANDON, ABANDON_1200, CLOSED_NODE, PASSPHRASE, REPO

TO = "gonka19rl4cm2hmr8afy4kldpxz3fka4jguq0av42rch"
HUGE = "9" * 5000  # past Python's 4,300-digit int() limit
# Text that int() (or str.isdigit) takes for a number, and some that it does not: all refused.
NOT_DIGITS = ["", "+12", "1_000", " 12", "12 ", "\t12", "12\n", "١٢", "٣", "²", "１２", "0x10", "1e3", "-1", "12.0",
              "1,000", "\udcff", "12\udcff", HUGE]
SIGN = ["tx", "sign-send", "alice", TO, "1gnk", "--offline", "--account-number", "7", "--sequence", "0",
        "--chain-id", "gonka-devnet", "--gas", "100000", "--fees", "0ngonka"]
# (the command, the option, its smallest value, its largest value, where parse_args puts it)
INTEGER_OPTIONS = [
    (["send", "alice", TO, "1gnk", "--yes"], "--gas", 1, UINT64_MAX, "gas"),
    (["history", TO], "--page", 1, HISTORY_MAX_PAGE, "page"),
    (["history", TO], "--limit", 1, HISTORY_MAX_LIMIT, "limit"),
    (SIGN, "--account-number", 0, UINT64_MAX, "account_number"),
    (SIGN, "--sequence", 0, UINT64_MAX, "sequence"),
    (SIGN, "--gas", 1, UINT64_MAX, "gas"),
    (["keys", "add", "k"], "--coin-type", 0, HD_INDEX_MAX, "coin_type"),
    (["keys", "add", "k"], "--account", 0, HD_INDEX_MAX, "account"),
    (["keys", "add", "k"], "--index", 0, HD_INDEX_MAX, "index"),
]
OPTION_IDS = [f"{'tx sign-send' if command is SIGN else ' '.join(command[:2 if command[0] == 'keys' else 1])} {flag}"
              for command, flag, *_ in INTEGER_OPTIONS]


class CountingNode:
    """A node that refuses every request (400) and counts them: validation must leave it at 0."""

    def __init__(self) -> None:
        node = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                node.requests += 1
                body = b'{"message": "this node only counts requests"}'
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # a client that hangs up early (a CLI giving up) must not print into the next test's stderr

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def node():
    n = CountingNode()
    yield n
    n.close()


@pytest.fixture(scope="module")
def alice_home(tmp_path_factory):
    """A home with 'alice' (the 'abandon' phrase), made once: Argon2 is slow on purpose."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GONKA_PASSPHRASE", PASSPHRASE)
        mp.setattr(sys, "stdin", io.StringIO(ABANDON))
        assert main(["--home", str(home), "--node", CLOSED_NODE, "keys", "add", "alice", "--recover"]) == 0
    return home


@pytest.fixture
def cli(alice_home, node, capsys, monkeypatch):
    """Run `gonka ARGS` in-process with alice's home and the counting node; (exit code, stdout, stderr)."""
    monkeypatch.setenv("GONKA_PASSPHRASE", PASSPHRASE)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def run(*args: str, home=None):
        capsys.readouterr()
        try:
            code = main(["--home", str(home or alice_home), "--node", node.url, *args])
        except SystemExit as exc:  # argparse refuses at parse time
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    node.requests = 0
    return run


def one_clear_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "internal error" not in err and "Traceback" not in err
    assert len(err) < 400, "the input is not echoed back whole"
    return err


def bounds(minimum: int, maximum: int) -> list[str]:
    out = [str(maximum + 1), str(2**64), "1" + "0" * 30]
    return out + ([str(minimum - 1)] if minimum > 0 else [])


def test_the_counting_node_counts(alice_home, capsys, monkeypatch):
    # A node of its own: `balance` asks in parallel and gives up at the first 400, so a request still in
    # flight could land on the shared node after the next test has reset its count.
    monkeypatch.setenv("GONKA_PASSPHRASE", PASSPHRASE)
    own = CountingNode()
    try:
        code = main(["--home", str(alice_home), "--node", own.url, "balance", "alice"])
        assert code == 1 and own.requests > 0, capsys.readouterr().err
    finally:
        own.close()


# ----- whole numbers -----

@pytest.mark.parametrize("command,flag,minimum,maximum,dest", INTEGER_OPTIONS, ids=OPTION_IDS)
def test_integer_options_refuse_anything_but_ascii_digits_in_range(cli, node, tmp_path, command, flag, minimum,
                                                                   maximum, dest):
    expected = f"error: {flag} must be a whole number from {minimum} to {maximum}, not "
    fresh = tmp_path / "fresh"  # `keys add` must not even create the home
    for bad in NOT_DIGITS + bounds(minimum, maximum):
        code, out, err = cli(*command, flag, bad, home=fresh if command[0] == "keys" else None)
        assert code == 2 and out == "", (bad, err)
        assert one_clear_line(err).startswith(expected), (bad, err)
    assert node.requests == 0, "refused before any request to the node"
    assert not fresh.exists()


@pytest.mark.parametrize("command,flag,minimum,maximum,dest", INTEGER_OPTIONS, ids=OPTION_IDS)
def test_integer_options_take_their_whole_range(command, flag, minimum, maximum, dest):
    parser = build_parser()
    for text, value in ((str(minimum), minimum), (str(maximum), maximum), ("00" + str(minimum + 1), minimum + 1)):
        assert getattr(parser.parse_args([*command, flag, text]), dest) == value


def test_gas_auto_is_the_default_and_nothing_else_spelled_like_it(cli, node):
    parser = build_parser()
    assert parser.parse_args(["send", "alice", TO, "1gnk"]).gas is None
    assert parser.parse_args(["send", "alice", TO, "1gnk", "--gas", "auto"]).gas is None
    for bad in ("AUTO", " auto", "auto "):
        code, _out, err = cli("send", "alice", TO, "1gnk", "--gas", bad)
        assert code == 2 and "--gas must be a whole number from 1 to 18446744073709551615" in one_clear_line(err)
        assert "or auto" in err
    assert node.requests == 0


@pytest.mark.parametrize("bad", ["١٢", " 12", "12 ", "+12", "012", "12.0", "13", "", "²⁴", "\udcff"])
def test_words_is_12_or_24_written_plainly(cli, tmp_path, bad):
    code, out, err = cli("keys", "add", "k", "--words", bad, home=tmp_path / "fresh")
    assert code == 2 and out == "" and one_clear_line(err).startswith("error: --words must be 12 or 24, not ")
    assert not (tmp_path / "fresh").exists()
    assert build_parser().parse_args(["keys", "add", "k", "--words", "12"]).words == 12


@pytest.mark.parametrize("args", [["--page", "0"], ["--limit", "0"], ["--limit", "101"]])
def test_history_page_and_limit_are_refused_before_the_node(cli, node, args):
    # Before: the node was asked for page 0 (or 0 transactions), and "no transactions yet" came out, exit 0.
    code, out, err = cli("history", "alice", *args)
    assert code == 2 and out == "" and f"error: {args[0]} must be a whole number from 1 to" in one_clear_line(err)
    assert node.requests == 0


def test_sign_send_offline_at_the_uint64_edge(cli):
    """2^64 - 1 is a valid account number, sequence and gas; the signature is over those values."""
    edge = str(UINT64_MAX)
    code, out, err = cli("tx", "sign-send", "alice", TO, "1gnk", "--offline", "--account-number", edge,
                         "--sequence", edge, "--chain-id", "gonka-devnet", "--gas", edge, "--fees", "0ngonka",
                         "--memo", "é" * 128, "--json")
    assert code == 0, err
    tx = decode_tx(base64.b64decode(json.loads(out)["tx_bytes"]))
    assert tx.gas_limit == UINT64_MAX and tx.signers[0].sequence == UINT64_MAX
    assert tx.body.memo == "é" * 128  # 256 bytes: the most a memo may have
    assert verify(tx.signers[0].pubkey, tx.sign_doc("gonka-devnet", UINT64_MAX), tx.signatures[0])
    for flag in ("--account-number", "--sequence", "--gas"):
        code, _out, err = cli(*SIGN, flag, str(2**64))
        assert code == 2 and f"{flag} must be a whole number from" in one_clear_line(err)


# ----- amounts, memo, chain id -----

@pytest.mark.parametrize("args,message", [
    (["1" * 5000 + "ngonka"], "amount '11111"),
    (["1" * 5000 + "gnk"], "is too large"),
    ([HUGE], "is too large"),
    ([f"{2**256}ngonka"], "is too large; the chain holds at most 2^256 - 1 ngonka"),
    (["1." + "0" * 5000 + "gnk"], "has more than 9 decimals"),
    (["-" + HUGE + "gnk"], "is negative"),
    (["١gnk"], "is not an amount"),
    (["+1gnk"], "is not an amount"),
    (["1_000gnk"], "is not an amount"),
    (["1gnk", "--fees", "1" * 5000 + "ngonka"], "fee '1111"),
    (["1gnk", "--memo", "\udcff\udcfe"], "memo has bytes that are not UTF-8 text"),
    (["1gnk", "--memo", "é" * 128 + "a"], "memo is 257 bytes; at most 256 are allowed"),
])
def test_send_refuses_odd_amounts_and_memos_before_the_node(cli, node, args, message):
    code, out, err = cli("send", "alice", TO, *args, "--yes")
    assert code == 1 and out == "" and message in one_clear_line(err), err
    assert node.requests == 0


@pytest.mark.parametrize("args,message", [
    (["--memo", "\udcff"], "memo has bytes that are not UTF-8 text"),
    (["--chain-id", "\udcff"], "chain id '\\udcff' is not valid"),
    (["--chain-id", "has space"], "chain id 'has space' is not valid"),
    (["--chain-id", "c" * 51], "is not valid (1–50 letters"),
    (["--chain-id", ""], "chain id '' is not valid"),
    (["--fees", HUGE + "ngonka"], "fee '9999"),
])
def test_sign_send_refuses_odd_text_with_one_line(cli, args, message):
    code, out, err = cli(*SIGN, *args)
    assert code == 1 and out == "" and message in one_clear_line(err), err


def test_memo_bytes_that_are_not_utf8_in_the_real_argv(alice_home, node):
    """The bytes reach Python as surrogate escapes; the error says what is wrong with the memo."""
    env = {"GONKA_HOME": str(alice_home), "GONKA_NODE": node.url, "GONKA_PASSPHRASE": PASSPHRASE,
           "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    proc = subprocess.run([sys.executable, "-m", "gonka_tui", "send", "alice", TO, "1gnk", "--yes",
                           b"--memo", b"caf\xe9 \xff"], capture_output=True, env=env, cwd=REPO, timeout=60)
    err = proc.stderr.decode("utf-8", "backslashreplace")
    assert proc.returncode == 1 and proc.stdout == b""
    assert one_clear_line(err) == "error: memo has bytes that are not UTF-8 text; the chain takes UTF-8 only\n"
    assert node.requests == 0


# ----- the core validators -----

@given(text=st.one_of(st.text(max_size=30), st.from_regex(r"[0-9]{1,25}", fullmatch=True),
                      st.integers(0, 2**70).map(str)),
       minimum=st.integers(0, 2**64), span=st.integers(0, 2**66))
def test_parse_uint_accepts_exactly_ascii_digits_within_range(text, minimum, span):
    maximum = minimum + span
    plain = text.isascii() and text.isdigit()
    if plain and minimum <= int(text) <= maximum:
        assert parse_uint(text, what="--n", minimum=minimum, maximum=maximum) == int(text)
    else:
        with pytest.raises(InputError, match=f"^--n must be a whole number from {minimum} to {maximum}, not "):
            parse_uint(text, what="--n", minimum=minimum, maximum=maximum)


def test_huge_input_is_refused_as_input_and_not_echoed():
    """int() would raise ValueError past 4,300 digits (an "internal error"); the length is checked first."""
    million = "9" * 1_000_000
    for call in (lambda: parse_uint(million, what="--gas"), lambda: parse_amount(million + "ngonka"),
                 lambda: parse_amount(million), lambda: parse_amount("1." + million + "gnk")):
        with pytest.raises(InputError) as info:
            call()
        assert len(str(info.value)) < 200
    assert parse_uint("0" * 5000 + "7", what="--gas") == 7  # leading zeros do not change the number


# ----- devnet flags -----

@pytest.mark.parametrize("bad", NOT_DIGITS + ["65536", str(2**64)])
def test_devnet_port(bad):
    with pytest.raises(InputError, match="^--port must be a whole number from 0 to 65535, not "):
        parse_port(bad)
    assert parse_port("0") == 0 and parse_port("65535") == 65535


@pytest.mark.parametrize("bad", ["١", "1_0", " 1", "+1", "-1", "inf", "nan", "1e0", "0x1", "²", HUGE, "", "1.",
                                 "0.1" + "0" * 5000, "\udcff"])
def test_devnet_block_time(bad):
    with pytest.raises(InputError, match="^--block-time .* is not a number of seconds") as info:
        parse_block_time(bad)
    assert len(str(info.value)) < 200
    assert parse_block_time("0.2") == 0.2


@pytest.mark.parametrize("bad", ["١", "1_0", "+1", "-1", "inf", "1e3", "²", "1" * 19, "0." + "1" * 19, HUGE,
                                 "\udcff", ""])
def test_devnet_min_gas_price(bad):
    with pytest.raises(InputError, match="^--min-gas-price .* must be a non-negative number of ngonka per gas"):
        parse_min_gas_price(bad)
    assert parse_min_gas_price("9" * 18 + "." + "9" * 18 + "ngonka") == parse_min_gas_price("9" * 18 + "." + "9" * 18)


@pytest.mark.parametrize("bad", ["١٢", "1_000", "+12", "0x10", "-1", "0", HUGE, str(MAX_VESTING_SECONDS + 1), "²"])
def test_devnet_fund_vesting_seconds(bad):
    with pytest.raises(InputError) as info:
        parse_fund_vesting(f"{ABANDON_1200}=1gnk@{bad}")
    message = str(info.value)
    assert message.startswith("--fund-vesting '") and len(message) < 400
    assert f"the vesting time in seconds must be a whole number from 1 to {MAX_VESTING_SECONDS}, not " in message
    assert parse_fund_vesting(f"{ABANDON_1200}=1gnk@{MAX_VESTING_SECONDS}").vesting_seconds == MAX_VESTING_SECONDS


def test_devnet_fund_names_its_flag_and_bounds_the_echo():
    with pytest.raises(InputError) as info:
        parse_fund(f"{ABANDON_1200}={HUGE}gnk")
    assert str(info.value).startswith("--fund '") and "is too large" in str(info.value) and len(str(info.value)) < 400
    with pytest.raises(InputError, match="^--fund-vesting '.*is too large"):
        parse_fund_vesting(f"{ABANDON_1200}={HUGE}gnk@10")


# ----- the app's Send form: the same core checks -----

async def test_send_form_says_what_is_wrong_with_the_same_odd_input(home):
    from textual.widgets import Static

    from tests.app.test_tui_chain import SIZE, accounts, fill, open_send, text
    from tests.fake_node import FakeNode
    from tests.tui_helpers import make_app

    accounts(home)
    app = make_app(home, node=FakeNode())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_send(pilot)
        await fill(pilot, to=TO, amount="1" * 5000 + "ngonka", memo="caf\udce9")
        assert "is too large" in text(screen.query_one("#amount-note", Static))
        assert "memo has bytes that are not UTF-8 text" in text(screen.query_one("#memo-note", Static))
        assert screen.query_one("#memo-note", Static).has_class("problem")
        await fill(pilot, amount="1gnk", memo="é" * 128)
        assert text(screen.query_one("#memo-count", Static)) == "256/256"
        assert not screen.query_one("#memo-note", Static).has_class("problem")
