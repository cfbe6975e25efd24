"""Import hygiene as a contract, each check in a fresh interpreter (this process has imported everything).

The headless rooms (the core, the devnet and those engineering.md plans: poc, miner) are libraries for
the CLI, the miner agent and the devnet: they never import Textual. Commands that need neither the UI
nor the math load neither, so they start fast.
"""

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO

# A room that does not exist yet is checked from the day it does.
HEADLESS_ROOMS = ("gonka_tui.core", "gonka_tui.devnet", "gonka_tui.poc", "gonka_tui.miner")
PRESENT_ROOMS = [room for room in HEADLESS_ROOMS if importlib.util.find_spec(room) is not None]

UI_AND_MATH = ("textual", "numpy", "torch")
OPTIONAL_EXTRAS = ("torch",)  # the GPU kernel's; its module loads only where it is installed
# What argument parsing alone never needs: keys, crypto, protobuf, HTTP, the devnet's server.
STACKS = ("bip_utils", "cryptography", "coincurve", "google.protobuf", "httpx", "starlette", "uvicorn")
LIGHT_COMMANDS = [
    (["--version"], UI_AND_MATH + STACKS),
    (["balance", "--help"], UI_AND_MATH + STACKS),
    (["keys", "list", "--json"], UI_AND_MATH + ("bip_utils", "cryptography")),
    (["miner", "compute", "--help"], UI_AND_MATH + STACKS),
]


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)


def test_the_core_and_the_devnet_are_checked():
    assert {"gonka_tui.core", "gonka_tui.devnet"} <= set(PRESENT_ROOMS)


@pytest.mark.parametrize("room", PRESENT_ROOMS)
def test_every_module_of_a_headless_room_loads_without_textual(room):
    code = (
        "import importlib, pkgutil, sys\n"
        f"room = importlib.import_module({room!r})\n"
        f"names = [m.name for m in pkgutil.walk_packages(room.__path__, {room + '.'!r})]\n"
        "for name in names:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError as exc:  # an optional extra (torch) that is not installed\n"
        f"        if exc.name not in {OPTIONAL_EXTRAS!r}: raise\n"
        "textual = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(len(names), textual)\n"
        "sys.exit(1 if textual or not names else 0)\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("argv", "forbidden"), LIGHT_COMMANDS, ids=[" ".join(argv) for argv, _ in LIGHT_COMMANDS])
def test_light_commands_load_neither_the_ui_nor_the_math(argv, forbidden):
    code = (
        "import sys\n"
        "from gonka_tui import cli\n"
        "try:\n"
        f"    status = cli.main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    status = exc.code\n"
        f"loaded = [m for m in {forbidden!r} if m in sys.modules]\n"
        "sys.exit(f'exit status {status}, loaded {loaded}' if loaded or status not in (0, None) else 0)\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
