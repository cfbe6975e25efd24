"""scripts/run: the app on a demo home of its own (.gonka-demo/ in the checkout).

The demo home gets a fresh recovery phrase and a random passphrase, printed here, so trying
gonka never touches the user's real keystore.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from gonka_tui.config import ensure_config, resolve_home
from gonka_tui.core.fileio import ensure_private_dir, write_atomic
from gonka_tui.core.keys import generate_mnemonic
from gonka_tui.core.keystore import Keystore

DEMO_DIR = ".gonka-demo"
DEMO_KEY = "demo"
DEMO_PASSPHRASE_FILE = "demo-passphrase.txt"  # the app shows it on start (tui/app.py)


def prepare(root: Path) -> tuple[str, str | None, str]:
    """Create the demo home once; returns (passphrase, new mnemonic or None, demo address)."""
    home = resolve_home(root)
    ensure_private_dir(root)
    ensure_config(home)
    pass_file = root / DEMO_PASSPHRASE_FILE
    if not pass_file.exists():
        write_atomic(pass_file, secrets.token_urlsafe(12).encode())
    passphrase = pass_file.read_text().strip()
    ks = Keystore(home.keystore_dir)
    mnemonic = None
    if not any(r.name == DEMO_KEY for r in ks.list()):
        if ks.initialized:
            ks.unlock(passphrase)
        else:
            ks.initialize(passphrase)
        mnemonic = generate_mnemonic(24)
        ks.add_mnemonic(DEMO_KEY, mnemonic)
    return passphrase, mnemonic, ks.get(DEMO_KEY).address


def main(argv: list[str] | None = None) -> int:
    root = Path(DEMO_DIR).resolve()
    passphrase, mnemonic, address = prepare(root)
    banner = [
        f"gonka demo home: {root}  (your real keystore is not used)",
        f"demo key '{DEMO_KEY}': {address}",
        f"demo keystore passphrase: {passphrase}",
    ]
    if mnemonic:
        banner.append(f"demo recovery phrase (new): {mnemonic}")
    print("\n".join(banner), file=sys.stderr)
    from gonka_tui.cli import main as cli_main

    code = cli_main(["--home", str(root), *(argv if argv is not None else sys.argv[1:])])
    print(f"demo keystore passphrase: {passphrase}  (home {root})", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
