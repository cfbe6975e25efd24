"""Argument parsing and command dispatch only; the work lives in gonka_tui.commands and core."""

from __future__ import annotations

import argparse
import re
import sys

from gonka_tui import __version__
from gonka_tui.core.errors import GonkaError, InputError, shown
from gonka_tui.core.integers import UINT64_MAX, parse_uint
from gonka_tui.core.keys import HD_INDEX_MAX, NEW_MNEMONIC_LENGTHS
from gonka_tui.core.network_constants import DEVNET_CHAIN_ID, DEVNET_HOST, DEVNET_PORT

HISTORY_MAX_PAGE = 1_000_000  # history asks the node for page × limit transactions: keep that sane
HISTORY_MAX_LIMIT = 100  # the most transactions a node returns per page


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, like every other error (argparse would print the usage first)
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _uint(flag: str, minimum: int = 0, maximum: int = UINT64_MAX, *, auto: bool = False):
    """An argparse type: the option's value as a whole number in range, checked by the core's one
    validator before any command runs (so before any key is read or any node contacted). With
    `auto`, the word 'auto' is taken too, as None."""

    def parse(text: str) -> int | None:
        if auto and text == "auto":
            return None
        try:
            return parse_uint(text, what=flag, minimum=minimum, maximum=maximum)
        except InputError as exc:
            # An ArgumentError without an argument is printed as its message alone: the field once.
            raise argparse.ArgumentError(None, f"{exc}; or auto to estimate it" if auto else str(exc)) from None

    return parse


def _one_of(flag: str, choices: tuple[int, ...]):
    """An argparse type: one of a few whole numbers, written exactly (int() would take ' 12' or '١٢')."""

    def parse(text: str) -> int:
        if text in {str(c) for c in choices}:
            return int(text)
        raise argparse.ArgumentError(None, f"{flag} must be {' or '.join(map(str, choices))}, not {shown(text)}")

    return parse


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--home", metavar="DIR", default=default,
                        help="keep config, keys and data under DIR (else $GONKA_HOME, else the platform dirs)")
    parser.add_argument("--network", metavar="NAME", default=default, help="network profile from config.toml (devnet, mainnet, ...)")
    parser.add_argument("--node", metavar="URL", default=default, help="use this node instead of the profile's list (or $GONKA_NODE)")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="show tracebacks on errors")


def _negative_amounts_are_values(parser: argparse.ArgumentParser) -> None:
    # argparse takes "-1gnk" for an option; let it reach the amount parser, which says "negative".
    parser._negative_number_matcher = re.compile(r"^-[0-9]+(\.[0-9]+)?[A-Za-z]*$")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    _global_options(common, suppress=True)

    parser = _Parser(prog="gonka", description="The terminal app of the Gonka network. "
                     "Without a command it opens the app.")
    _global_options(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"gonka {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    keys = sub.add_parser("keys", help="create, recover, import and manage keys", parents=[common])
    ksub = keys.add_subparsers(dest="keys_command", metavar="SUBCOMMAND", required=True)

    p = ksub.add_parser("add", parents=[common], help="create a key (new recovery phrase), recover one, or derive another account")
    p.add_argument("name")
    p.add_argument("--recover", action="store_true", help="recover from a recovery phrase (stdin when piped)")
    p.add_argument("--from", dest="from_key", metavar="KEY", help="derive another account from KEY's recovery phrase")
    p.add_argument("--words", type=_one_of("--words", NEW_MNEMONIC_LENGTHS), default=24,
                   help="length of a new recovery phrase (default 24)")
    p.add_argument("--coin-type", type=_uint("--coin-type", 0, HD_INDEX_MAX), default=1200,
                   help="BIP44 coin type: 1200 Gonka (default), 118 Cosmos, 60 Ethereum")
    p.add_argument("--account", type=_uint("--account", 0, HD_INDEX_MAX), default=0, help="BIP44 account (default 0)")
    p.add_argument("--index", type=_uint("--index", 0, HD_INDEX_MAX), default=0, help="BIP44 address index (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=("keys", "add"))

    p = ksub.add_parser("import-hex", parents=[common], help="import a raw private key (hex on stdin or prompted)")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=("keys", "import_hex"))

    p = ksub.add_parser("add-watch", parents=[common], help="add a watch-only address (no secret)")
    p.add_argument("name")
    p.add_argument("address")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=("keys", "add_watch"))

    p = ksub.add_parser("list", parents=[common], help="list keys (no unlock needed)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=("keys", "list_keys"))

    p = ksub.add_parser("show", parents=[common], help="show one key (no unlock needed)")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.add_argument("--address", "-a", action="store_true", help="print the address only")
    p.set_defaults(handler=("keys", "show"))

    p = ksub.add_parser("rename", parents=[common], help="rename a key")
    p.add_argument("old")
    p.add_argument("new")
    p.set_defaults(handler=("keys", "rename"))

    p = ksub.add_parser("delete", parents=[common], help="delete a key (asks, or --yes)")
    p.add_argument("name")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=("keys", "delete"))

    p = ksub.add_parser("export", parents=[common], help="print a key's recovery phrase or private key (asks, or --yes)")
    p.add_argument("name")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=("keys", "export"))

    p = sub.add_parser("balance", parents=[common], help="balances of a key, contact or address")
    p.add_argument("name", metavar="NAME_OR_ADDRESS")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=("bank", "balance"))

    p = sub.add_parser("send", parents=[common], help="send GNK (shows the summary and asks unless --yes)")
    p.add_argument("from_key", metavar="FROM")
    p.add_argument("to", metavar="TO", help="a key, a contact or an address")
    p.add_argument("amount", metavar="AMOUNT", help="with a denom: 1.5gnk or 1500000000ngonka")
    p.add_argument("--memo", default="", help="up to 256 bytes")
    p.add_argument("--fees", metavar="F", help="the fee, e.g. 0ngonka (default: the network's minimum for the gas)")
    p.add_argument("--gas", metavar="N|auto", type=_uint("--gas", 1, auto=True), default="auto",
                   help="gas limit (default auto: simulated × 1.4)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=("bank", "send"))
    _negative_amounts_are_values(p)

    p = sub.add_parser("history", parents=[common], help="sent and received transactions, newest first")
    p.add_argument("name", metavar="NAME_OR_ADDRESS")
    p.add_argument("--page", type=_uint("--page", 1, HISTORY_MAX_PAGE), default=1, help="page, from 1 (default 1)")
    p.add_argument("--limit", type=_uint("--limit", 1, HISTORY_MAX_LIMIT), default=20,
                   help=f"transactions per page, 1 to {HISTORY_MAX_LIMIT} (default 20)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=("bank", "history"))

    tx = sub.add_parser("tx", help="sign offline, show a transaction", parents=[common])
    tsub = tx.add_subparsers(dest="tx_command", metavar="SUBCOMMAND", required=True)
    p = tsub.add_parser("sign-send", parents=[common], help="sign a MsgSend with no network at all")
    p.add_argument("from_key", metavar="FROM")
    p.add_argument("to", metavar="TO")
    p.add_argument("amount", metavar="AMOUNT")
    p.add_argument("--offline", action="store_true", help="required: sign without contacting a node")
    p.add_argument("--account-number", type=_uint("--account-number"))
    p.add_argument("--sequence", type=_uint("--sequence"))
    p.add_argument("--chain-id")
    p.add_argument("--gas", type=_uint("--gas", 1))
    p.add_argument("--fees", metavar="F")
    p.add_argument("--memo", default="")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=("tx", "sign_send"))
    _negative_amounts_are_values(p)
    p = tsub.add_parser("show", parents=[common], help="a transaction by hash")
    p.add_argument("hash")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=("tx", "show"))

    miner = sub.add_parser("miner", help="the bundled Proof-of-Compute kernel: compute distances, benchmark",
                           parents=[common])
    msub = miner.add_subparsers(dest="miner_command", metavar="SUBCOMMAND", required=True)

    def kernel_options(p, *, needed_preset: bool) -> None:
        g = p.add_mutually_exclusive_group(required=needed_preset)
        g.add_argument("--preset", help="cpu (default for bench), testnet or mainnet")
        g.add_argument("--params", metavar="JSON", help="model params as inline JSON (the keys of a preset's params)")
        p.add_argument("--threads", type=int, default=None, help="kernel threads (default: 1 for compute, all cores for bench)")
        p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="auto: CUDA when torch sees a GPU, else the CPU")
        p.add_argument("--json", action="store_true", help="machine-readable output")

    p = msub.add_parser("compute", parents=[common], help="distances of nonces for a block hash and public key",
                        description="Recompute PoC v1 distances, as a validator does: how a host checks a rig "
                        "against known answers.")
    kernel_options(p, needed_preset=True)
    p.add_argument("--block-hash", required=True, metavar="HEX", help="the round's block hash, as the chain prints it")
    p.add_argument("--public-key", required=True, metavar="HEX", help="the participant's compressed public key (hex)")
    p.add_argument("--nonces", required=True, metavar="SPEC", help="e.g. 0-7 or 3,17,100-120")
    p.add_argument("--weight-scale", type=float, default=1.0, metavar="K",
                   help="multiply every weight by K (a test knob that makes layer mistakes visible; 1 in the protocol)")
    p.set_defaults(handler=("miner", "compute"))

    p = msub.add_parser("bench", parents=[common], help="measure the kernel against this machine's matrix multiply")
    kernel_options(p, needed_preset=False)
    p.add_argument("--seconds", type=float, default=10.0, help="how long to run (default 10)")
    p.add_argument("--batch", type=int, default=None, help="nonces per batch (default 64 on the CPU)")
    p.add_argument("--parallel", choices=("processes", "threads"), default="processes",
                   help="how several CPU kernels run: processes (default; no GIL) or threads of one process")
    p.set_defaults(handler=("miner", "bench"))

    p = msub.add_parser("run", parents=[common], help="mine: follow the chain's PoC rounds with this machine's kernels",
                        description="The miner agent: registers the account, mines each PoC round with one kernel per "
                        "device, submits the valid nonces, claims the rewards. One agent per home; Ctrl-C stops it.")
    p.add_argument("--key", required=True, metavar="NAME", help="the account that mines (and is paid)")
    p.add_argument("--status-port", type=int, default=None, metavar="PORT",
                   help="the agent's API on 127.0.0.1 (default 26680, or [miner] status_port)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: every CUDA GPU torch sees, else the CPU")
    p.add_argument("--threads", type=int, default=None, help="CPU kernel threads (default: every core)")
    p.add_argument("--unlock-key-stdin", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(handler=("miner", "run"))

    p = msub.add_parser("status", parents=[common], help="what this home's miner agent is doing")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=("miner", "status"))
    p = msub.add_parser("replay", parents=[common], help="play this home's miner recording back in the Miner screen",
                        description="The agent records throughput, devices, batches and its log in "
                        "<home>/miner/records.sqlite; this plays them back in the app's Miner screen.")
    p.add_argument("--since", metavar="TIME", help="from this time (2026-12-01T14:00) or age (30m, 2h); default: all")
    p.add_argument("--speed", type=float, default=1.0, metavar="X", help="X times as fast as recorded (default 1)")
    p.set_defaults(handler=("app", "replay"))
    for action, text in (("pause", "pause this home's miner agent (the kernels stop after their batch)"),
                         ("resume", "resume a paused miner agent"), ("stop", "stop this home's miner agent")):
        p = msub.add_parser(action, parents=[common], help=text)
        p.set_defaults(handler=("miner", "control"))

    _inference_commands(sub, common)

    p = sub.add_parser("devnet", help="run a local Gonka-compatible network (chain RPC, REST, node API, faucet)",
                       description="A local Gonka-compatible network in one process: CometBFT RPC at /chain-rpc/, "
                       "Cosmos REST at /chain-api/, the node API at /v1/ and POST /faucet, all on one port. "
                       "State lives in SQLite under its home and survives restarts.")
    p.add_argument("--home", dest="devnet_home", metavar="DIR",
                   help="the devnet's own home (default: <gonka home>/devnet)")
    p.add_argument("--host", default=DEVNET_HOST, help=f"address to listen on (default {DEVNET_HOST})")
    p.add_argument("--port", default=str(DEVNET_PORT), help=f"port (default {DEVNET_PORT})")
    p.add_argument("--chain-id", default=None, help=f"chain id of a new devnet (default {DEVNET_CHAIN_ID})")
    p.add_argument("--block-time", default="1", metavar="SECONDS", help="seconds between blocks (default 1)")
    p.add_argument("--fund", action="append", metavar="ADDRESS=AMOUNT",
                   help="fund an account at genesis, e.g. gonka1…=1000gnk (repeatable)")
    p.add_argument("--fund-vesting", action="append", metavar="ADDRESS=AMOUNT@SECONDS",
                   help="a continuous vesting account at genesis, vesting over SECONDS (repeatable)")
    p.add_argument("--min-gas-price", default="0", metavar="NGONKA_PER_GAS",
                   help="minimum gas price in ngonka per gas (default 0)")
    inf = p.add_argument_group("paid inference and the broker")
    inf.add_argument("--inference-backend", default=None, metavar="URL",
                     help="take text from this OpenAI-compatible server (base URL ending in /v1) instead of the "
                     "bundled model")
    inf.add_argument("--inference-threads", default="1", metavar="N",
                     help="CPU threads of the bundled model (default 1: steady on a busy machine)")
    inf.add_argument("--inference-price", default=None, metavar="NGONKA_PER_TOKEN",
                     help="price of a token in ngonka, a multiple of 100 (default 10000)")
    inf.add_argument("--broker-key", action="append", metavar="KEY",
                     help="an API key the broker at <url>/broker/v1 accepts (16+ printable characters; "
                     "repeatable; never logged)")
    poc = p.add_argument_group("PoC rounds and rewards (fixed when the devnet is created)")
    poc.add_argument("--epoch-blocks", default=None, metavar="N", help="blocks per epoch (default 120)")
    poc.add_argument("--poc-blocks", default=None, metavar="N", help="blocks of PoC generation per round (default 30)")
    poc.add_argument("--validation-blocks", default=None, metavar="N",
                     help="blocks of PoC validation per round (default 10)")
    poc.add_argument("--poc-preset", default=None, metavar="NAME",
                     help="model of the rounds: a kernel preset (default cpu)")
    poc.add_argument("--poc-params", default=None, metavar="JSON",
                     help='model params instead of a preset, with "r_target" (and optionally '
                     '"validation_sample_size"), e.g. for tests')
    poc.add_argument("--epoch-reward", default=None, metavar="GNK",
                     help="reward per epoch, split by PoC weight (default 1000 GNK)")
    poc.add_argument("--reward-vesting-epochs", default=None, metavar="N",
                     help="rewards vest over N epochs, one tranche per epoch (default 0: liquid)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    p.set_defaults(handler=("devnet", "run"))
    return parser


def _inference_commands(sub, common) -> None:
    """`gonka infer`, `gonka models`, `gonka broker …` (commands/inference.py)."""
    p = sub.add_parser("infer", parents=[common], help="ask a model; the answer streams, then its tokens and cost",
                       description="Buy one answer: signed by your account (the default key, or --key), or through "
                       "a broker (--broker, or the profile's broker). Without either flag: the profile's broker if "
                       "it names one, else signed mode.")
    p.add_argument("prompt", metavar="PROMPT", help="the question; - reads it from stdin")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--key", metavar="NAME", help="sign the request with this key (signed mode)")
    who.add_argument("--broker", metavar="NAME", help="buy through this broker (`gonka broker list`)")
    p.add_argument("--model", metavar="M", help="the model id (default: the first one served)")
    p.add_argument("--max-tokens", metavar="N", type=_uint("--max-tokens", 1, 1_000_000), default=None,
                   help="the longest answer in tokens (the node reserves the price of this many)")
    p.add_argument("--system", metavar="S", help="a system message before the prompt")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end instead of streaming")
    p.set_defaults(handler=("inference", "infer"))

    p = sub.add_parser("models", parents=[common], help="the models you can ask, with their price")
    p.add_argument("--broker", metavar="NAME", help="a broker's models (default: the profile's broker, else the network's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=("inference", "models"))

    broker = sub.add_parser("broker", parents=[common], help="the brokers inference is bought from (OpenAI-compatible)")
    bsub = broker.add_subparsers(dest="broker_command", metavar="SUBCOMMAND", required=True)
    p = bsub.add_parser("add", parents=[common], help="add a broker; its API key from $GONKA_BROKER_API_KEY or prompted",
                        description="URL is the broker's OpenAI base_url, ending in /v1. The API key is read from "
                        "$GONKA_BROKER_API_KEY, stdin when piped, else a hidden prompt, and sealed in the keystore.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("url", metavar="URL")
    p.set_defaults(handler=("inference", "broker_add"))
    p = bsub.add_parser("list", parents=[common], help="names and URLs (no unlock needed)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=("inference", "broker_list"))
    p = bsub.add_parser("remove", parents=[common], help="forget a broker and its API key")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(handler=("inference", "broker_remove"))


def _handler(module: str, func: str):
    import importlib

    return getattr(importlib.import_module(f"gonka_tui.commands.{module}"), func)


def main(argv: list[str] | None = None) -> int:
    from gonka_tui.commands.context import Context

    args = build_parser().parse_args(argv)
    ctx = Context(home_arg=args.home, network_arg=args.network, node_arg=args.node, debug=args.debug)
    try:
        if args.command is None:
            return _handler("app", "run")(ctx, args)
        return _handler(*args.handler)(ctx, args)
    except GonkaError as exc:
        if ctx.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; nothing was changed", file=sys.stderr)
        return 130
    except Exception as exc:  # never a traceback (or a value that may be secret) unless --debug
        if ctx.debug:
            raise
        print(f"error: internal error ({type(exc).__name__}); run with --debug for details", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
