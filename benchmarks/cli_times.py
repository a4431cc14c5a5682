"""Wall times of `zoo --help`, `zoo list` and `zoo sample dcgan-digits -n 64`.

Each command runs in a fresh process, REPEAT times, interleaved so that machine
noise hits them alike; the median is reported with the min-max over the runs. A
benchmark, not a test: run

    python benchmarks/cli_times.py [--repeat 7] [--only list] [--json | --markdown]
    python benchmarks/cli_times.py --write-readme   # the README's table, between its markers
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- cli-times:begin"
END = "<!-- cli-times:end -->"
MARKER = "<!-- cli-times:begin: written by `python benchmarks/cli_times.py --write-readme` -->"


def zoo_cmd() -> list[str]:
    exe = shutil.which("zoo", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "zoo"]


def cases(out: Path) -> dict[str, list[str]]:
    """{command as the README shows it: argv after `zoo`}."""
    grid = str(out / "g.png")
    return {
        "zoo --help": ["--help"],
        "zoo list": ["list"],
        "zoo sample dcgan-digits -n 64": [
            "sample",
            "dcgan-digits",
            "-n",
            "64",
            "-o",
            grid,
            "--force",
        ],
    }


def measure(names: list[str], repeat: int) -> dict[str, dict[str, float | int]]:
    """{command: median_s, min_s, max_s, runs}, the commands' runs interleaved."""
    out = Path(tempfile.mkdtemp(prefix="zoo-bench-"))
    argvs = {k: v for k, v in cases(out).items() if k in names}
    times: dict[str, list[float]] = {k: [] for k in argvs}
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    try:
        for _ in range(repeat):
            for name, argv in argvs.items():
                t0 = time.perf_counter()
                subprocess.run(zoo_cmd() + argv, check=True, capture_output=True, env=env)
                times[name].append(time.perf_counter() - t0)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {
        name: {
            "median_s": round(statistics.median(v), 3),
            "min_s": round(min(v), 3),
            "max_s": round(max(v), 3),
            "runs": len(v),
        }
        for name, v in times.items()
    }


def _s(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def markdown(result: dict[str, dict[str, float | int]], repeat: int) -> str:
    """The README's block: when and where, then a row per command."""
    when = datetime.date.today().isoformat()
    lines = [
        f"On a {os.cpu_count()}-core machine ({when}, `--repeat {repeat}`):",
        "",
        "| command | median | min-max |",
        "| --- | ---: | ---: |",
    ]
    for name, r in result.items():
        lines.append(f"| `{name}` | {_s(r['median_s'])} s | {_s(r['min_s'])}-{_s(r['max_s'])} s |")
    return "\n".join(lines)


def write_readme(block: str, readme: Path) -> None:
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{readme} has no '{BEGIN} ...' / '{END}' pair around the timings")
    readme.write_text(text[:start] + MARKER + "\n\n" + block + "\n\n" + text[end:], "utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=7, help="runs of each command")
    ap.add_argument(
        "--only", action="append", help="time only commands containing this text; repeatable"
    )
    out_format = ap.add_mutually_exclusive_group()
    out_format.add_argument("--json", action="store_true")
    out_format.add_argument("--markdown", action="store_true", help="the README's table")
    out_format.add_argument(
        "--write-readme", action="store_true", help="write the table into README.md"
    )
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    names = [n for n in cases(Path()) if not args.only or any(o in n for o in args.only)]
    if not names:
        ap.error(f"--only matches none of: {', '.join(cases(Path()))}")
    if args.write_readme and args.only:
        ap.error("--write-readme times every command; drop --only")
    result = measure(names, args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
    elif args.markdown or args.write_readme:
        block = markdown(result, args.repeat)
        if args.write_readme:
            write_readme(block, ROOT / "README.md")
        print(block)
    else:
        cpus = os.cpu_count()
        print(f"{'command':36} {'median':>8} {'min-max':>15}  ({args.repeat} runs, {cpus} CPUs)")
        for name, r in result.items():
            spread = f"{r['min_s']:.3f}-{r['max_s']:.3f}s"
            print(f"{name:36} {r['median_s']:>7.3f}s {spread:>15}")


if __name__ == "__main__":
    main()
