"""Running `zoo serve` and a headless Chromium against it: for the browser tests and the
README's screenshots (scripts/serve_screenshots.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# no first-run pages and no calls home: these machines have no network
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def find_chromium() -> str | None:
    """The system's Chromium: ZOO_TEST_CHROMIUM, else `chromium` on PATH, else None."""
    found = os.environ.get("ZOO_TEST_CHROMIUM") or shutil.which("chromium")
    return found if found and Path(found).is_file() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(data: Path, timeout: float = 60) -> Iterator[str]:
    """`zoo serve` in a child process on a free loopback port; yields its base URL."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo", "serve", "--port", str(port), "--data", str(data)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(base + "/", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    out = proc.stdout.read() if proc.stdout else ""
                    raise RuntimeError(f"zoo serve did not start:\n{out}") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
