"""gonka benchmarks: each figure is a median over several runs, printed as JSON.

Figures (issue 2): `gonka keys list --json` wall time, the app's first frame (process start to
first screen painted, under a real pseudo-terminal), keystore unlock time with the stored KDF
parameters; with baselines measured in the same run (bare Python start, `import textual`).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import pty
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ABANDON = "abandon " * 11 + "about"
PASSPHRASE = "benchmark passphrase"


def median_time(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return round(statistics.median(samples), 4)


def median_of(fn, runs: int) -> float:
    return round(statistics.median(fn() for _ in range(runs)), 4)


def run_cmd(args: list[str], env: dict) -> None:
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_in_pty(args: list[str], env: dict, cols: int = 80, rows: int = 24, marker: bytes | None = None) -> float:
    """Run `args` under a pseudo-terminal; seconds until `marker` appeared on the screen (or until exit)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    seen = threading.Event()
    start = time.perf_counter()
    shown: list[float] = []

    def drain() -> None:
        tail = b""
        try:
            while chunk := os.read(master, 65536):
                tail = (tail + chunk)[-4096:]
                if marker and not shown and marker in tail:
                    shown.append(time.perf_counter() - start)
                    seen.set()
        except OSError:
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    code = proc.wait(timeout=60)
    ended = time.perf_counter() - start
    reader.join(timeout=5)
    os.close(master)
    if code != 0:
        raise RuntimeError(f"{args} exited {code}")
    if marker and not shown:
        raise RuntimeError(f"{marker!r} never appeared on the screen")
    return shown[0] if marker else ended


def bench_signing(seconds: float = 2.0) -> dict:
    """MsgSend sign+encode per second: ours vs the gonka-wallet package's TxBuilder, same inputs."""
    from gonka_tui.core.keys import derive_key
    from gonka_tui.core.secp256k1 import Signer
    from gonka_tui.core.tx import Fee, sign_send

    key = derive_key(ABANDON)
    to = "gonka19rl4cm2hmr8afy4kldpxz3fka4jguq0av42rch"
    signer = Signer(key.private_key)

    # A non-zero fee: for a zero fee the SDK CLI (and we) leave the coin out, the package writes "0ngonka";
    # both are valid, but only equal inputs can give equal bytes.
    def ours(seq: int) -> bytes:
        return sign_send(signer, key.address, to, 1_500_000_000, chain_id="gonka-devnet", account_number=1,
                         sequence=seq, fee=Fee(1000, 200_000)).tx_bytes

    def rate(fn) -> float:
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            fn(count)
            count += 1
        return count / (time.perf_counter() - start)

    out = {"ours_per_s": round(rate(ours))}
    try:
        from gonka_wallet.dto.coin import CoinDto
        from gonka_wallet.tx.builder import TxBuilder
    except ImportError:
        out["gonka_wallet_per_s"] = None
        return out
    builder = TxBuilder(chain_id="gonka-devnet")
    amount = CoinDto(denom="ngonka", amount="1500000000")
    priv = key.private_key.hex()

    def theirs(seq: int) -> bytes:
        return builder.build_send_tx(private_key_hex=priv, from_address=key.address, to_address=to, amount=amount,
                                     account_number=1, sequence=seq, gas_limit=200_000, fee_amount=1000,
                                     fee_denom="ngonka")

    # Same inputs, same signed bytes (checked, not assumed). Their signature differs: the package
    # signs with a random nonce (ecdsa's sign_digest), we with RFC 6979; both must verify.
    from gonka_tui.core.secp256k1 import verify
    from gonka_tui.core.tx import decode_tx

    a, b = decode_tx(ours(7)), decode_tx(theirs(7))
    out["identical_body_and_auth_info"] = (a.raw.body_bytes, a.raw.auth_info_bytes) == (b.raw.body_bytes,
                                                                                         b.raw.auth_info_bytes)
    out["their_signature_verifies"] = verify(signer.pubkey, b.sign_doc("gonka-devnet", 1), b.signatures[0])
    out["gonka_wallet_per_s"] = round(rate(theirs))
    out["speedup"] = round(out["ours_per_s"] / out["gonka_wallet_per_s"], 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    from gonka_tui.config import resolve_home
    from gonka_tui.core.keys import parse_private_key_hex
    from gonka_tui.core.keystore import Keystore

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        ks = Keystore(resolve_home(home).keystore_dir)
        ks.initialize(PASSPHRASE)
        ks.add_mnemonic("main", ABANDON)
        ks.add_private_key("hot", parse_private_key_hex("1f" * 32))
        ks.add_watch("cold", "gonka1gsvdpdxec8hsu57lhxg5xem7refr233zvyjnak")
        env = {**os.environ, "GONKA_HOME": str(home), "TERM": "xterm-256color", "COLORTERM": "truecolor"}
        py = sys.executable
        results = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
            "runs": runs,
            "baseline_python_start_s": median_time(lambda: run_cmd([py, "-c", "pass"], env), runs),
            "baseline_import_textual_s": median_time(lambda: run_cmd([py, "-c", "import textual.app"], env), runs),
            "keys_list_json_s": median_time(lambda: run_cmd([py, "-m", "gonka_tui", "keys", "list", "--json"], env), runs),
            # From process start to the footer ("^p palette", drawn last) on the screen; the app then exits.
            "app_first_frame_s": median_of(
                lambda: run_in_pty([py, "-m", "gonka_tui"], {**env, "GONKA_EXIT_AFTER_FIRST_FRAME": "1"},
                                   marker=b"palette"), runs),
        }
        store = Keystore(ks.root)

        def unlock() -> None:
            store.lock()
            store.unlock(PASSPHRASE)

        results["keystore_unlock_s"] = median_time(unlock, runs)
        results["kdf"] = {"name": "argon2id", "iterations": 3, "memory_kib": 65536, "lanes": 4}
        results["msgsend_sign_encode"] = bench_signing()
        results["targets"] = {"keys_list_json_s": 0.3, "app_first_frame_s": 1.0, "keystore_unlock_s": [0.1, 0.5]}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
