"""Wall times of `zoo --help`, `zoo list` and `zoo sample dcgan-digits -n 64`.

Each command runs in a fresh process, REPEAT times, interleaved so that machine
noise hits them alike; the median is reported. A benchmark, not a test: run

    python benchmarks/cli_times.py [--repeat 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def zoo_cmd() -> list[str]:
    exe = shutil.which("zoo", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "zoo"]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="zoo-bench-"))
    cases = {
        "zoo --help": ["--help"],
        "zoo list": ["list"],
        "zoo sample dcgan-digits -n 64": [
            "sample",
            "dcgan-digits",
            "-n",
            "64",
            "-o",
            str(out / "g.png"),
            "--force",
        ],
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for _ in range(args.repeat):
        for name, argv in cases.items():
            t0 = time.perf_counter()
            subprocess.run(zoo_cmd() + argv, check=True, capture_output=True, env=env)
            times[name].append(time.perf_counter() - t0)
    shutil.rmtree(out, ignore_errors=True)
    result = {
        name: {
            "median_s": round(statistics.median(v), 3),
            "min_s": round(min(v), 3),
            "runs": len(v),
        }
        for name, v in times.items()
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{'command':36} {'median':>8} {'min':>8}  ({args.repeat} runs each, {os.cpu_count()} CPUs)"
    )
    for name, r in result.items():
        print(f"{name:36} {r['median_s']:>7.3f}s {r['min_s']:>7.3f}s")


if __name__ == "__main__":
    main()
