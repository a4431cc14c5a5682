"""`zoo train`: a model folder that samples, checkpoints, and an exact resume after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import run_zoo
from zoo.registry.errors import RequestError

TINY = ["train", "dcgan", "--data", "digits", "--preset", "tiny", "--quiet"]


def test_trained_folder_samples(tmp_path) -> None:
    out = tmp_path / "m"
    proc = run_zoo(*TINY, "--steps", "5", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert {"README.md", "config.json", "model.safetensors", "samples.png"} <= {
        p.name for p in out.iterdir()
    }
    assert run_zoo("sample", str(out), "-n", "2", "-o", str(tmp_path / "s.png")).returncode == 0
    again = run_zoo(*TINY, "--steps", "5", "--out", str(out))
    assert again.returncode == 2 and "already holds a model" in again.stderr


def test_kill_then_resume_equals_an_uninterrupted_run(tmp_path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    common = [*TINY, "--checkpoint-every", "5", "--seed", "3"]
    assert run_zoo(*common, "--steps", "40", "--out", str(straight)).returncode == 0

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo", *common, "--steps", "100000", "--out", str(killed)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    latest = killed / "checkpoints" / "latest"
    deadline = time.time() + 120
    while not latest.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = int(latest.read_text().split("-")[1])
    assert 5 <= step < 40 and not (killed / "README.md").exists()

    resumed = run_zoo(*common, "--steps", "40", "--out", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert (killed / "model.safetensors").read_bytes() == (
        straight / "model.safetensors"
    ).read_bytes()


def test_resume_checks(tmp_path) -> None:
    out = tmp_path / "m"
    nothing = run_zoo(*TINY, "--steps", "3", "--out", str(out), "--resume")
    assert nothing.returncode == 2 and "no checkpoint to resume" in nothing.stderr
    assert run_zoo(*TINY, "--steps", "3", "--out", str(out), "--force").returncode == 0
    other = run_zoo(*TINY, "--steps", "6", "--seed", "9", "--out", str(out), "--resume")
    assert other.returncode == 2 and "other settings" in other.stderr
    done = run_zoo(*TINY, "--steps", "3", "--out", str(out), "--resume")
    assert done.returncode == 2 and "already trained to step 3" in done.stderr
    more = run_zoo(*TINY, "--steps", "6", "--out", str(out), "--resume")
    assert more.returncode == 0, more.stderr


@pytest.mark.parametrize(
    "args,phrase",
    [
        (["--steps", "0"], "--steps must be at least 1"),
        (["--set", "latent_dim=-3"], "latent_dim"),
        (["--set", "nonsense"], "--set expects key=value"),
        (["--set", "no_such_field=1"], "no_such_field"),
        (["--preset", "huge"], "unknown preset 'huge'"),
    ],
)
def test_bad_training_options(tmp_path, args, phrase) -> None:
    proc = run_zoo(*TINY, "--out", str(tmp_path / "m"), *args)
    assert proc.returncode == 2 and phrase in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_family_and_dataset(tmp_path) -> None:
    proc = run_zoo("train", "dcgam", "--data", "digits", "--out", str(tmp_path / "m"))
    assert proc.returncode == 2 and "did you mean 'dcgan'" in proc.stderr
    proc = run_zoo("train", "dcgan", "--data", "digitz", "--out", str(tmp_path / "m"))
    assert proc.returncode == 2 and "did you mean 'digits'" in proc.stderr


def test_parse_sets() -> None:
    from zoo.train import parse_sets

    assert parse_sets(["a=1", "b=[0.5, 0.9]", "c=word"]) == {"a": 1, "b": [0.5, 0.9], "c": "word"}
    with pytest.raises(RequestError):
        parse_sets(["=3"])
