"""The core is a library for the CLI, the miner and the devnet: it must never import Textual."""

import pkgutil
import subprocess
import sys

import gonka_tui.core
from tests.conftest import REPO


def test_core_modules_load_no_textual():
    modules = [m.name for m in pkgutil.walk_packages(gonka_tui.core.__path__, "gonka_tui.core.")]
    assert len(modules) >= 8
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_keys_list_loads_neither_textual_nor_bip_utils():
    code = ("import sys\nfrom gonka_tui import cli\ncli.main(['keys', 'list', '--json'])\n"
            "heavy = [m for m in ('textual', 'bip_utils', 'cryptography') if m in sys.modules]\n"
            "sys.exit(f'loaded {heavy}' if heavy else 0)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
