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


def run_cmd(args: list[str], env: dict) -> None:
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_in_pty(args: list[str], env: dict, cols: int = 80, rows: int = 24) -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def drain() -> None:
        try:
            while os.read(master, 65536):
                pass
        except OSError:
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    code = proc.wait(timeout=60)
    os.close(master)
    if code != 0:
        raise RuntimeError(f"{args} exited {code}")


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
            "app_first_frame_s": median_time(
                lambda: run_in_pty([py, "-m", "gonka_tui"], {**env, "GONKA_EXIT_AFTER_FIRST_FRAME": "1"}), runs),
        }
        store = Keystore(ks.root)

        def unlock() -> None:
            store.lock()
            store.unlock(PASSPHRASE)

        results["keystore_unlock_s"] = median_time(unlock, runs)
        results["kdf"] = {"name": "argon2id", "iterations": 3, "memory_kib": 65536, "lanes": 4}
        results["targets"] = {"keys_list_json_s": 0.3, "app_first_frame_s": 1.0, "keystore_unlock_s": [0.1, 0.5]}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
