"""`zoo train`: a model folder that samples, checkpoints, and an exact resume after a kill."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_zoo
from zoo import checkpoint
from zoo.registry.cards import read_card
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
    latest = checkpoint.folder_for(killed) / "latest"
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


def test_checkpoints_stay_beside_the_model_folder(tmp_path) -> None:
    out = tmp_path / "m"
    assert (
        run_zoo(*TINY, "--steps", "3", "--checkpoint-every", "1", "--out", str(out)).returncode == 0
    )
    assert {p.name for p in out.iterdir()} == {
        "README.md",
        "config.json",
        "model.safetensors",
        "samples.png",
    }
    kept = tmp_path / ".zoo-train" / "m"
    assert checkpoint.folder_for(out) == kept
    assert (kept / "latest").read_text() == "step-0000003"
    assert (tmp_path / ".zoo-train" / ".gitignore").read_text().splitlines()[-1] == "*"

    again = run_zoo(*TINY, "--steps", "2", "--out", str(out), "--force")
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in kept.iterdir()) == ["latest", "step-0000002"]

    shutil.rmtree(out)  # the model is gone, its training state is not: say so
    proc = run_zoo(*TINY, "--steps", "2", "--out", str(out))
    assert proc.returncode == 2 and "pass --resume to continue it or --force" in proc.stderr


@pytest.mark.slow  # runs of an older layout, ~17 s: the slow tier
def test_checkpoints_of_older_runs_move_out_of_the_model_folder(tmp_path) -> None:
    out = tmp_path / "m"
    assert run_zoo(*TINY, "--steps", "3", "--out", str(out)).returncode == 0
    (out / "README.md").unlink()  # as if killed before the end, in the old layout
    shutil.move(checkpoint.folder_for(out), out / "checkpoints")
    proc = run_zoo(*TINY, "--steps", "4", "--out", str(out), "--resume")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "checkpoints").exists()
    assert (checkpoint.folder_for(out) / "latest").read_text() == "step-0000004"

    shutil.copytree(checkpoint.folder_for(out), out / "checkpoints")
    both = run_zoo(*TINY, "--steps", "5", "--out", str(out), "--resume")
    assert both.returncode == 2 and "holds checkpoints in both" in both.stderr
    assert run_zoo(*TINY, "--steps", "2", "--out", str(out), "--force").returncode == 0
    assert not (out / "checkpoints").exists()
    assert (checkpoint.folder_for(out) / "latest").read_text() == "step-0000002"


def test_card_command_names_no_folder_of_this_machine(tmp_path) -> None:
    (tmp_path / "runs").mkdir()
    given = run_zoo(*TINY, "--steps", "2", "--out", "runs/m", cwd=tmp_path)
    assert given.returncode == 0, given.stderr
    absolute = run_zoo(*TINY, "--steps", "2", "--out", str(tmp_path / "runs" / "n"))
    assert absolute.returncode == 0, absolute.stderr
    for name, shown in (("m", "runs/m"), ("n", "n")):
        card, body = read_card(tmp_path / "runs" / name)
        command = card.zoo.training["command"]
        assert command.startswith("zoo train dcgan --data digits --preset tiny")
        assert command.endswith(f" --out {shown}") and f"`{command}`" in body
        assert str(tmp_path) not in command and str(Path.home()) not in body


@pytest.mark.parametrize(
    "argv,cwd,command",
    [
        (["train", "x", "--out", "/home/ann/runs/m"], "/work", "zoo train x --out m"),
        (["train", "x", "--out", "/work/cards/m"], "/work", "zoo train x --out cards/m"),
        (["train", "x", "--out=/tmp/a b"], "/work", "zoo train x '--out=a b'"),
        (["train", "x", "--out", "../m"], "/work", "zoo train x --out ../m"),
        (["train", "x", "--out", "/tmp/m"], "/", "zoo train x --out m"),
        (
            ["train", "x", "--data", "folder:/home/ann/pics", "--out", "m"],
            "/work",
            "zoo train x --data folder:pics --out m",
        ),
        (
            ["train", "x", "--data", "digits", "--set", "a=/b"],
            "/",
            "zoo train x --data digits --set a=/b",
        ),
    ],
)
def test_argv_command_drops_machine_paths(argv, cwd, command) -> None:
    from zoo.train import argv_command

    assert argv_command(argv, cwd=cwd) == command


@pytest.mark.slow  # five `zoo train` processes, ~20 s: the slow tier
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
