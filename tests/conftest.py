"""Shared fixtures: run the CLI in a subprocess, and a tiny trained model folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_zoo(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `zoo ARGS` in a fresh process; returns the completed process (text)."""
    base = {k: v for k, v in os.environ.items() if k != "ZOO_DEBUG"}
    full_env = {**base, "HF_HUB_OFFLINE": "1", "PYTHONIOENCODING": "utf-8", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "zoo", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        errors="replace",
    )


@pytest.fixture(scope="session")
def tiny_dcgan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dcgan model folder trained for 3 steps at the tiny preset (8x8)."""
    from zoo.train import train

    out = tmp_path_factory.mktemp("models") / "dcgan-tiny"
    train("dcgan", "digits", out, preset="tiny", steps=3, seed=0, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_cgan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zoo.train import train

    out = tmp_path_factory.mktemp("models") / "cgan-tiny"
    train("cgan", "digits", out, preset="tiny", steps=3, seed=0, progress=False)
    return out


def default_sigint() -> None:
    """preexec_fn for children that must see Ctrl-C: a test run started in the
    background inherits an ignored SIGINT, which Python would keep ignoring."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tiny trainings on one torch thread (threads only contend at that size).

    Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def zoo_code(*args: str) -> int:
    """Run `zoo ARGS` in this process (stderr reaches capsys); returns its exit code."""
    from zoo.cli import main

    try:
        main(list(args))
    except SystemExit as exit:
        return int(exit.code or 0)
    return 0
