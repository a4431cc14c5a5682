"""WGAN-GP: the critic's Lipschitz constraint, the update schedule, and the shipped model."""

from __future__ import annotations

import pytest
import torch

import zoo
from tests import digit_judge
from zoo.plugins.wgan.config import WGANConfig
from zoo.plugins.wgan.model import WGANGenerator
from zoo.plugins.wgan.train import WGANRecipe, gradient_penalty


def test_gradient_penalty_of_a_linear_critic() -> None:
    """f(x) = <a, x> has gradient a everywhere: the penalty is (|a| - 1)^2 exactly."""
    a = torch.randn(1, 1, 4, 4)
    critic = lambda x: (x * a).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.rand(8, 1, 4, 4), torch.rand(8, 1, 4, 4)
    expected = (a.norm() - 1) ** 2
    assert torch.allclose(gradient_penalty(critic, real, fake), expected, atol=1e-5)
    unit = a / a.norm()
    assert gradient_penalty(lambda x: (x * unit).flatten(1).sum(1), real, fake) < 1e-10


def _recipe(**kw) -> tuple[WGANRecipe, dict]:
    torch.manual_seed(0)
    config = WGANConfig.preset("tiny", **kw)
    recipe = WGANRecipe(WGANGenerator(config), config, torch.device("cpu"))
    return recipe, {"image": torch.rand(8, 1, 8, 8)}


def test_generator_updates_once_per_n_critic_steps() -> None:
    recipe, batch = _recipe(n_critic=3)
    before = [p.clone() for p in recipe.G.parameters()]
    for _ in range(2):
        losses = recipe.step(batch)
        assert "loss_g" not in losses
    assert all(torch.equal(a, b) for a, b in zip(before, recipe.G.parameters(), strict=True))
    losses = recipe.step(batch)
    assert "loss_g" in losses and all(map(lambda v: v == v, losses.values()))
    assert not all(torch.equal(a, b) for a, b in zip(before, recipe.G.parameters(), strict=True))


def test_weight_clipping_keeps_the_critic_inside_the_box() -> None:
    recipe, batch = _recipe(lipschitz="clip", clip_value=0.01, lr=0.5)
    for _ in range(3):
        recipe.step(batch)
    assert isinstance(recipe.opt_d, torch.optim.RMSprop)
    biggest = max(p.abs().max().item() for p in recipe.D.parameters())
    assert biggest <= 0.01 + 1e-7
    recipe, batch = _recipe(lr=0.5)  # gp: no clipping, and weights grow past the box
    recipe.step(batch)
    assert max(p.abs().max().item() for p in recipe.D.parameters()) > 0.01


def test_tiny_wgan_trains_through_the_cli(tmp_path) -> None:
    from zoo.train import train

    out = train("wgan", "digits", tmp_path / "w", preset="tiny", steps=4, progress=False)
    images = zoo.load(str(out)).sample(n=3, seed=1, truncation=0.7).images
    assert images.shape == (3, 1, 8, 8) and torch.isfinite(images).all()


@pytest.mark.parametrize("model_id", ["wgan-digits"])
def test_shipped_wgan_covers_the_digit_classes(model_id: str) -> None:
    images = zoo.load(model_id).sample(n=200, seed=0).images
    classes = digit_judge.predict(images)
    counts = torch.bincount(classes, minlength=10)
    # no mode collapse: every class appears, none takes more than a quarter
    assert (counts > 0).all() and counts.max() <= 50, counts
