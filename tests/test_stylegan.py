"""StyleGAN: truncation in w, style mixing, noise inputs, and the shipped model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import zoo
from tests.conftest import run_zoo


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from zoo.train import train

    return train(
        "stylegan",
        "scenes",
        tmp_path_factory.mktemp("sg") / "s",
        preset="tiny",
        steps=3,
        progress=False,
    )


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().mean().item()


def test_psi_zero_without_noise_gives_the_average_image(tiny) -> None:
    model = zoo.load(str(tiny))
    x = model.sample(n=3, seed=0, truncation=0.0001, noise=False).images
    assert _diff(x[0], x[1]) < 1e-3 and _diff(x[0], x[2]) < 1e-3
    y = model.sample(n=3, seed=0, noise=False).images
    assert _diff(y[0], y[1]) > 1e-3  # without truncation the seeds differ


def test_mixing_with_its_own_seed_changes_nothing(tiny) -> None:
    model = zoo.load(str(tiny))
    plain = model.sample(n=1, seed=4).images
    for layers in ("coarse", "fine"):
        same = model.sample(n=1, seed=4, mix_seed=4, mix_layers=layers).images
        assert torch.allclose(plain, same, atol=1e-6)
        other = model.sample(n=1, seed=4, mix_seed=9, mix_layers=layers).images
        assert _diff(plain, other) > 1e-4


def test_mix_layers_needs_a_mix_seed(tiny, tmp_path) -> None:
    proc = run_zoo("sample", str(tiny), "--mix-layers", "fine", "-o", str(tmp_path / "x.png"))
    assert proc.returncode == 2 and "--mix-layers needs --mix-seed" in proc.stderr


def test_shipped_stylegan_controls() -> None:
    model = zoo.load("stylegan-scenes")
    base = model.sample(n=8, seed=0).images
    assert base.shape == (8, 3, 32, 32)
    # noise adds detail only: turning it off moves an image much less than a new seed does
    quiet = model.sample(n=8, seed=0, noise=False).images
    other = model.sample(n=8, seed=100).images
    assert _diff(base, quiet) < 0.5 * _diff(base, other)
    # truncation towards the average narrows the spread of the samples

    def spread(psi: float | None) -> float:
        x = model.sample(n=32, seed=0, truncation=psi).images.flatten(1)
        return torch.cdist(x, x).mean().item()

    assert spread(0.3) < 0.7 * spread(None)
    # coarse mixing takes layout from the mix seed: the image moves towards that seed's
    mixed = model.sample(n=8, seed=0, mix_seed=100, mix_layers="coarse").images
    donor = model.sample(n=1, seed=100).images
    assert _diff(mixed, donor) < _diff(base, donor)
