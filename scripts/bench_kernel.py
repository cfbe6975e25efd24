"""The PoC kernel's figures (issue 8) in one run: `gonka miner bench --json` several times with 1 and
with every core, under the workplace's OpenBLAS settings and with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
unset for those commands only (OpenBLAS's own choice of kernel); medians, the 1 → N thread scaling
and every run, as JSON. The machine is shared: compare ratios within one run of this script."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

FIELDS = ("nonces_per_second", "flops_per_second", "gemm_flops_per_second", "gemm_peak_flops_per_second", "ratio",
          "ratio_to_peak", "peak_rss_bytes")


def bench(preset: str, threads: int, seconds: float, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-m", "gonka_tui", "miner", "bench", "--preset", preset, "--threads",
                          str(threads), "--seconds", str(seconds), "--json"],
                         env=env, capture_output=True, text=True, check=True, timeout=seconds + 120).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--preset", default="cpu")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    workplace = dict(os.environ)
    native = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    result: dict = {"preset": args.preset, "cores": cores, "runs_each": args.runs, "seconds_each": args.seconds,
                    "settings": {}}
    for name, env in (("workplace", workplace), ("native", native)):
        setting: dict = {"env": {k: env.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}}
        for threads in sorted({1, cores}):
            runs = []
            for _ in range(args.runs):  # interleaved settings would be fairer; runs stay short instead
                r = bench(args.preset, threads, args.seconds, env)
                runs.append({k: r[k] for k in FIELDS} | {"blas_core_type": r["blas"]["core_type"], "batch": r["batch"],
                                                         "fused": r.get("fused"),
                                                         "products": r.get("products")})
            setting[f"threads_{threads}"] = {
                "median": {k: statistics.median(run[k] for run in runs) for k in FIELDS},
                "blas_core_type": runs[0]["blas_core_type"], "batch": runs[0]["batch"], "runs": runs}
        one = setting["threads_1"]["median"]["nonces_per_second"]
        setting["scaling_1_to_all"] = round(setting[f"threads_{cores}"]["median"]["nonces_per_second"] / one, 3)
        result["settings"][name] = setting
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
