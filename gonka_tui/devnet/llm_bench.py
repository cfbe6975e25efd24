"""The bundled model's own figures, which the devnet's inference figures are compared with. Prints JSON:

    .venv/bin/python -m gonka_tui.devnet.llm_bench [--threads 1] [--runs 5] [--tokens 64]

load_s: loading the GGUF; first_token_s: median time from a job to its first piece; decode_tokens_per_second:
median rate after the first piece; rss_mib: this process with the model loaded. "raw" figures call the model on
this thread; "via_backend" the same job through LocalBackend (its thread, queue and event loop hand-offs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

from .llm import LocalBackend, Model, find_model, missing_reason
from .text_backend import ChatJob, Finished

PROMPT = (("user", "Write a long, detailed essay about the history of the Roman Empire."),)  # runs past 64 tokens


def _rates(samples: list[tuple[float, float, int]]) -> dict:
    """samples: (first piece after s, last piece after s, completion tokens)."""
    firsts = [first for first, _last, _n in samples]
    rates = [(n - 1) / (last - first) for first, last, n in samples if n > 1 and last > first]
    return {"first_token_s": round(statistics.median(firsts), 4),
            "decode_tokens_per_second": round(statistics.median(rates), 1) if rates else None}


def bench_raw(threads: int, runs: int, tokens: int) -> tuple[dict, Model]:
    t0 = time.perf_counter()
    model = Model(find_model(), threads=threads)
    load_s = time.perf_counter() - t0
    job = ChatJob(messages=PROMPT, max_tokens=tokens)
    samples = []
    for _ in range(runs):
        stamps: list[float] = []
        start = time.perf_counter()
        done = model.generate(job, lambda _text: stamps.append(time.perf_counter() - start) or True, lambda: False)
        samples.append((stamps[0], stamps[-1], done.completion_tokens))
    return {"load_s": round(load_s, 4), **_rates(samples), "completion_tokens": samples[0][2]}, model


async def bench_backend(threads: int, runs: int, tokens: int) -> dict:
    backend = LocalBackend(threads=threads)
    await backend.start()
    job = ChatJob(messages=PROMPT, max_tokens=tokens)
    samples = []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            stamps = []
            async for piece in backend.stream(job):
                if isinstance(piece, Finished):
                    samples.append((stamps[0], stamps[-1], piece.completion_tokens))
                else:
                    stamps.append(time.perf_counter() - start)
    finally:
        await backend.aclose()
    return _rates(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-llm", description="the bundled model's raw figures (JSON)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args(argv)
    if args.threads < 1 or args.runs < 1 or args.tokens < 2:
        parser.error("--threads and --runs must be ≥ 1, --tokens ≥ 2")
    reason = missing_reason()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 1
    import psutil

    proc = psutil.Process()
    rss_before = proc.memory_info().rss
    raw, model = bench_raw(args.threads, args.runs, args.tokens)
    rss = proc.memory_info().rss
    model.close()
    via = asyncio.run(bench_backend(args.threads, args.runs, args.tokens))
    print(json.dumps({**raw, "threads": args.threads, "runs": args.runs, "max_tokens": args.tokens,
                      "rss_mib": round(rss / 2**20, 1), "model_rss_mib": round((rss - rss_before) / 2**20, 1),
                      "via_backend": via}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
