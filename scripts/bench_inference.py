"""Paid inference, end to end: the figures issue 10 names, as JSON.

    .venv/bin/python scripts/bench_inference.py [--runs 5] [--tokens 64] [--block-time 1]

1. The raw model in this process (gonka_tui.devnet.llm_bench): first token and decode rate, one thread.
2. `gonka devnet` as a subprocess on a free port with the bundled model, and one funded key. Each run is a signed,
   streamed request through the core's SignedClient (discovery, signing, escrow, generation, settlement):
   time to first token as the caller sees it, and tokens/s reaching the caller against the model's decode rate.
3. The devnet's longest block interval while it generated (block times of every height spanned, from
   /chain-rpc/block) and its resident memory with the model loaded.
4. Signing overhead per request: RequestSigner.headers (sha256 of the body, the signed bytes, RFC6979 + low-S).
5. The Inference screen (the app headless, App.run_test): one question to the same devnet through the app's own
   client; the tokens/s that reach the answer's Markdown against the model's decode rate. And the screen's intake
   alone: a scripted client that streams 5000 pieces as fast as it can, timed until all of them are shown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402

from gonka_tui.core.address import address_from_pubkey  # noqa: E402
from gonka_tui.core.chain_client import ChainClient  # noqa: E402
from gonka_tui.core.inference import ChatMessage, Delta, Done, SignedClient  # noqa: E402
from gonka_tui.core.inference_signing import RequestSigner  # noqa: E402
from gonka_tui.core.secp256k1 import Signer  # noqa: E402
from gonka_tui.devnet.llm_bench import PROMPT, bench_raw  # noqa: E402

QUESTION = PROMPT[0][1]  # the raw figures' prompt: the two first-token times compare

PRIVATE_KEY = bytes.fromhex("11" * 32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_signing(n: int = 2000) -> float:
    signer = RequestSigner(PRIVATE_KEY, address_from_pubkey(Signer(PRIVATE_KEY).pubkey))
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": QUESTION}], "stream": True}).encode()
    start = time.perf_counter()
    for _ in range(n):
        signer.headers(body, "gonka1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq")
    return (time.perf_counter() - start) / n * 1e3


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the devnet exited ({proc.returncode})")
        try:
            if httpx.get(f"{url}/v1/models", timeout=1).json().get("models"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)  # polling the devnet's own answer, with a deadline
    raise SystemExit("the devnet's model did not come up")


async def signed_runs(url: str, runs: int, tokens: int) -> tuple[list[dict], int, int]:
    signer = RequestSigner(PRIVATE_KEY, address_from_pubkey(Signer(PRIVATE_KEY).pubkey))
    out = []
    async with ChainClient([url]) as network:
        client = SignedClient(network, signer, "bench")
        first_height = (await network.status()).height
        try:
            for _ in range(runs):
                t0 = time.perf_counter()
                first = None
                async for event in client.chat([ChatMessage("user", QUESTION)], max_tokens=tokens, temperature=0.0):
                    if isinstance(event, Delta) and first is None:
                        first = time.perf_counter()
                    elif isinstance(event, Done):
                        end = time.perf_counter()
                        done = event
                completion = done.usage.completion_tokens
                out.append({"first_token_s": first - t0,
                            "tokens_per_second": (completion - 1) / (end - first) if end > first else 0.0,
                            "completion_tokens": completion, "cost_ngonka": done.cost_ngonka})
        finally:
            await client.aclose()
        last_height = (await network.status()).height
    return out, first_height, last_height


def longest_block_interval(url: str, first: int, last: int) -> float:
    times = []
    with httpx.Client(timeout=5) as http:
        for h in range(max(2, first), last + 1):
            header = http.get(f"{url}/chain-rpc/block", params={"height": h}).json()["result"]["block"]["header"]
            times.append(header["time"])
    from datetime import datetime

    def ns(t: str) -> int:  # RFC 3339 with nanoseconds
        head, _, frac = t.rstrip("Z").partition(".")
        return int(datetime.fromisoformat(head + "+00:00").timestamp()) * 10**9 + int((frac or "0").ljust(9, "0")[:9])

    stamps = [ns(t) for t in times]
    return max((b - a for a, b in zip(stamps, stamps[1:])), default=0) / 1e9


def raw_decode_rate(tokens: int) -> float:
    from gonka_tui.devnet.llm import Model, find_model
    from gonka_tui.devnet.text_backend import ChatJob

    model = Model(find_model(), threads=1)
    stamps: list[float] = []
    try:
        done = model.generate(ChatJob(messages=PROMPT, max_tokens=tokens),
                              lambda _text: stamps.append(time.perf_counter()) or True, lambda: False)
    finally:
        model.close()
    return round((done.completion_tokens - 1) / (stamps[-1] - stamps[0]), 1)


async def _wait(pilot, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"the app did not show {what} within {timeout:.0f} s")
        await pilot.pause(0.02)  # the app's own turn; the condition is what is waited on


async def _ask_in_app(app, question: str, timeout: float) -> tuple[list[tuple[float, int]], object, float]:
    """Ask on the Inference screen; returns (time, characters) of each append to the answer, the screen and when
    the question was asked."""
    from gonka_tui.tui.screens.inference import InferenceScreen
    from gonka_tui.tui.widgets import chat_view

    appends: list[tuple[float, int]] = []
    original = chat_view.AnswerMarkdown.append

    def recorded(self, markdown: str):
        appends.append((time.perf_counter(), len(markdown)))
        return original(self, markdown)

    chat_view.AnswerMarkdown.append = recorded
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("f9")
            await _wait(pilot, lambda: isinstance(app.screen, InferenceScreen) and app.screen.inference
                        and app.screen.inference.models, 30, "the models")
            screen = app.screen
            asked = time.perf_counter()
            worker = screen.ask(question)
            await _wait(pilot, lambda: worker.is_finished, timeout, "the answer")
            return appends, screen, asked
    finally:
        chat_view.AnswerMarkdown.append = original


def bench_screen(url: str, tmp: str) -> dict:
    """The real app, its real client, the devnet's real model."""
    from gonka_tui.config import load_config, resolve_home
    from gonka_tui.core.keystore import Keystore
    from gonka_tui.tui.app import GonkaApp

    home = resolve_home(Path(tmp) / "app-home")
    home.config_file.parent.mkdir(parents=True, exist_ok=True)
    home.config_file.write_text(f'default_network = "bench"\n[networks.bench]\nnodes = ["{url}"]\n')
    ks = Keystore(home.keystore_dir)
    ks.initialize("bench-passphrase-1")
    ks.add_private_key("bench", PRIVATE_KEY)
    app = GonkaApp(home, load_config(home))
    app.keystore.unlock("bench-passphrase-1")
    appends, screen, asked = asyncio.run(_ask_in_app(app, QUESTION, 120))
    last = screen.messages[-1]
    tokens = last.completion_tokens or 0
    span = appends[-1][0] - appends[0][0] if len(appends) > 1 else 0.0
    return {"first_shown_s": round(appends[0][0] - asked, 3) if appends else None, "completion_tokens": tokens,
            "appends": len(appends), "tokens_per_second_shown": round((tokens - 1) / span, 1) if span else None}


def bench_screen_intake(tmp: str, pieces: int = 5000) -> dict:
    """The screen alone: how fast it takes an answer from a client that never waits."""
    from gonka_tui.config import load_config, resolve_home
    from gonka_tui.core.keystore import Keystore
    from gonka_tui.tui.app import GonkaApp
    from tests.app.fake_inference import FakeInference, FakeOpener, Script

    home = resolve_home(Path(tmp) / "intake-home")
    ks = Keystore(home.keystore_dir)
    ks.initialize("bench-passphrase-1")
    ks.add_private_key("main", PRIVATE_KEY)
    client = FakeInference(scripts=[Script([f"w{i} " for i in range(pieces)], usage=(10, pieces),
                                           yield_between=True)])
    app = GonkaApp(home, load_config(home), inference_opener=FakeOpener(client))
    app.keystore.unlock("bench-passphrase-1")
    appends, _screen, asked = asyncio.run(_ask_in_app(app, "go", 120))
    span = appends[-1][0] - asked
    return {"pieces": pieces, "appends": len(appends), "characters_shown": sum(n for _, n in appends),
            "pieces_per_second": round(pieces / span, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--block-time", type=float, default=1.0)
    args = ap.parse_args(argv)

    raw, model = bench_raw(1, args.runs, args.tokens)
    model.close()
    signing_ms = bench_signing()

    address = address_from_pubkey(Signer(PRIVATE_KEY).pubkey)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="gonka-bench-inference-") as home:
        proc = subprocess.Popen([sys.executable, "-m", "gonka_tui", "--home", home, "devnet", "--port", str(port),
                                 "--block-time", str(args.block_time), "--fund", f"{address}=1000gnk"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        try:
            wait_up(url, proc)
            runs, first, last = asyncio.run(signed_runs(url, args.runs, args.tokens))
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
            longest = longest_block_interval(url, first, last)
            screen = bench_screen(url, home)
            intake = bench_screen_intake(home)
        finally:
            proc.terminate()
            proc.wait(30)
    # The model's own decode rate over as many tokens as the screen's answer had (decoding slows as the context
    # grows), with the devnet stopped: the screen's rate is compared with this.
    raw_same = raw_decode_rate(screen["completion_tokens"]) if screen.get("completion_tokens") else None
    ttft = statistics.median(r["first_token_s"] for r in runs)
    tps = statistics.median(r["tokens_per_second"] for r in runs)
    print(json.dumps({
        "raw_model": raw,
        "signing_ms_per_request": round(signing_ms, 4),
        "devnet_first_token_s": round(ttft, 3),
        "devnet_tokens_per_second": round(tps, 1),
        "devnet_over_raw_decode": round(tps / raw["decode_tokens_per_second"], 3) if raw.get(
            "decode_tokens_per_second") else None,
        "longest_block_interval_s": round(longest, 3),
        "block_time_s": args.block_time,
        "devnet_rss_mib": round(rss, 1),
        "screen": screen,
        "raw_decode_tokens_per_second_same_length": raw_same,
        "screen_over_raw_decode": round(screen["tokens_per_second_shown"] / raw_same, 3)
        if screen.get("tokens_per_second_shown") and raw_same else None,
        "screen_intake": intake,
        "runs": runs,
        "cpus": os.cpu_count(),
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
