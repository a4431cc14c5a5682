"""`zoo train` under torchrun: two workers write one folder and train as one process would.

The torchrun runs launch ``python -m torch.distributed.run --standalone --nproc-per-node 2
-m zoo train ddpm`` twice (20 steps, then ``--resume`` to 40) at the tiny preset with
importance-sampled t, whose loss history warms up within the first 20 steps; the reference
is one process with the same global batch, trained in this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import zoo
from zoo import checkpoint, distributed
from zoo.registry.cards import read_card
from zoo.registry.errors import RequestError
from zoo.train import train

ARGS = ["--preset", "tiny", "--batch-size", "16", "--checkpoint-every", "20", "--seed", "0"]
SETS = {"timestep_sampling": "importance"}


pytestmark = pytest.mark.usefixtures("one_thread")


def torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ZOO_DEBUG", "WORLD_SIZE", "RANK")}
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONIOENCODING="utf-8")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    return subprocess.run(
        [*cmd, "-m", "zoo", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{"two": torchrun's folder (20 steps, resumed to 40), "one": one process, 40 steps}."""
    root = tmp_path_factory.mktemp("ddp")
    two = root / "two"
    common = ["train", "ddpm", "--data", "digits", "--out", str(two), "--quiet", *ARGS]
    common += ["--set", "timestep_sampling=importance"]
    first = torchrun(*common, "--steps", "20")
    assert first.returncode == 0, first.stderr
    assert checkpoint.exists(two) and (two / "README.md").exists()
    resumed = torchrun(*common, "--steps", "40", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines() == [str(two)]  # worker 0 alone reports the folder
    one = root / "one"
    train(
        "ddpm",
        "digits",
        one,
        preset="tiny",
        steps=40,
        batch_size=16,
        seed=0,
        sets=SETS,
        checkpoint_every=20,
        progress=False,
    )
    return {"one": one, "two": two}


def test_torchrun_writes_one_model_folder_that_samples(runs: dict[str, Path]) -> None:
    two = runs["two"]
    assert {p.name for p in two.iterdir()} == {
        "README.md",
        "config.json",
        "model.safetensors",
        "samples.png",
    }
    card, body = read_card(two)
    training = card.zoo.training
    assert training["data_parallel"].startswith("2 workers") and "gloo" in training["data_parallel"]
    assert "8 images per worker" in training["data_parallel"] and training["batch_size"] == 16
    assert training["command"].startswith("torchrun --standalone --nproc-per-node 2 -m zoo train")
    assert "importance-sampled" in training["recipe"]["timesteps"]
    assert "data_parallel" in body
    samples = zoo.load(str(two), device="cpu").sample(n=2, seed=0, label=3)
    assert samples.images.shape == (2, 1, 8, 8) and torch.isfinite(samples.images).all()
    # the run was resumed from its own checkpoint of 20 steps, which kept every worker's RNG
    state = checkpoint.load_latest(two)[1]
    assert state["settings"]["workers"] == 2 and state["worker_rng"].shape[0] == 2


def test_two_workers_train_as_one_process_with_the_global_batch(runs: dict[str, Path]) -> None:
    """Every worker draws t, eps and the label dropout for the global batch and keeps its
    slice, so the two runs differ only in the order of float sums.

    Tolerances: each step's loss is a float32 mean over 16 x 64 values, summed over two
    slices then averaged instead of at once: rounding moves it by ~1e-7 relative (seen:
    2e-7), bounded by 1e-4. Drawing anything per worker, or a resume that lost the RNG, the
    data order, the optimiser or the loss history, changes the losses of the steps after it
    by percents. The weights: Adam divides each gradient by its own RMS, so a parameter whose
    gradient nearly cancels (biases of zero-initialised layers) moves by a fraction of lr
    (1e-3) on rounding alone; a few such entries set the largest difference, so the mean
    absolute difference is bounded (seen: 3e-6; another seed: 6e-2).
    """
    one = checkpoint.load_latest(runs["one"])[1]
    two = checkpoint.load_latest(runs["two"])[1]
    for name in ("loss", "mse"):
        a, b = torch.tensor(one["recent"][name]), torch.tensor(two["recent"][name])
        assert len(a) == len(b) == 40
        torch.testing.assert_close(b, a, rtol=1e-4, atol=0)
    # the loss history holds every worker's losses, like the one process's
    h1, h2 = one["networks"]["timesteps"], two["networks"]["timesteps"]
    assert (h1["counts"] == 10).all() and torch.equal(h1["counts"], h2["counts"])
    torch.testing.assert_close(h2["losses"], h1["losses"], rtol=1e-4, atol=0)
    w1, w2 = (
        load_file(runs["one"] / "model.safetensors"),
        load_file(runs["two"] / "model.safetensors"),
    )
    assert w1.keys() == w2.keys()
    diff = torch.cat([(w1[k] - w2[k]).abs().flatten() for k in w1])
    assert diff.mean() < 1e-4


def test_a_family_without_data_parallel_support_is_one_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RequestError, match="family 'dcgan' cannot train data-parallel") as err:
        train("dcgan", "digits", tmp_path / "m", preset="tiny", steps=1, progress=False)
    assert "\n" not in str(err.value) and "without torchrun" in str(err.value)
    assert not (tmp_path / "m").exists()


def test_the_global_batch_must_split_into_the_workers(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RequestError, match="--batch-size 5 does not split into 2 workers"):
        train("ddpm", "digits", tmp_path / "m", preset="tiny", batch_size=5, progress=False)
    monkeypatch.setenv("WORLD_SIZE", "3")  # the preset's batch of 4 neither
    with pytest.raises(RequestError, match="pass a multiple of 3"):
        train("ddpm", "digits", tmp_path / "m", preset="tiny", progress=False)


def test_workers_train_on_cpu_or_cuda_only(monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RequestError, match="runs on cpu or cuda, not mps; pass --device cpu"):
        distributed.start(torch.device("mps"))
    monkeypatch.delenv("WORLD_SIZE")
    workers, dev = distributed.start(torch.device("mps"))  # one process: as asked
    assert dev == torch.device("mps") and not workers.parallel
    assert workers.mean_losses({"loss": 1.5}) == {"loss": 1.5}


def test_the_card_names_the_launcher_of_a_multi_node_run() -> None:
    w = distributed.Workers(rank=0, world_size=8, local_world_size=4, backend="nccl")
    assert w.launcher() == "torchrun --nnodes 2 --nproc-per-node 4 -m"
    assert w.describe(64).startswith("8 workers") and "8 images per worker" in w.describe(64)
