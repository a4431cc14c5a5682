"""Importance-sampled t (improved DDPM sec. 3.3): the sampler, its weights, the recipe, resume."""

from __future__ import annotations

import pytest
import torch

from zoo import checkpoint
from zoo.plugins.ddpm.config import DDPMConfig
from zoo.plugins.ddpm.model import DDPMGenerator
from zoo.plugins.ddpm.train import DDPMRecipe
from zoo.plugins.nn.timesteps import TimestepImportance
from zoo.registry.cards import read_card
from zoo.train import train

T = 20


pytestmark = pytest.mark.usefixtures("one_thread")


def warmed(losses_per_t: torch.Tensor) -> TimestepImportance:
    """A sampler whose history holds 10 losses per t, spread around ``losses_per_t``."""
    sampler = TimestepImportance(T)
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        noise = 1 + 0.1 * torch.randn(T, generator=g)
        sampler.update(torch.arange(T), losses_per_t * noise)
    assert sampler.warmed_up()
    return sampler


def test_draws_are_uniform_with_weight_one_until_every_t_has_ten_losses() -> None:
    sampler = TimestepImportance(T)
    sampler.update(torch.arange(T).repeat(9), torch.full((9 * T,), 5.0))
    sampler.update(torch.arange(T - 1), torch.full((T - 1,), 5.0))  # the last t has 9
    assert not sampler.warmed_up()
    torch.manual_seed(0)
    t, w = sampler.sample(64, "cpu")
    torch.manual_seed(0)
    assert torch.equal(t, torch.randint(0, T, (64,))) and torch.equal(w, torch.ones(64))


def test_the_history_keeps_the_newest_ten_losses_of_each_t() -> None:
    sampler = TimestepImportance(T)
    sampler.update(torch.zeros(12, dtype=torch.long), torch.arange(12.0))
    sampler.update(torch.tensor([1, 1]), torch.tensor([7.0, 8.0]))
    assert sampler.counts[:3].tolist() == [10, 2, 0]
    assert sampler.losses[0].tolist() == [float(v) for v in range(2, 12)]
    assert sampler.losses[1, :2].tolist() == [7.0, 8.0]


def test_draws_move_toward_the_t_with_high_losses() -> None:
    losses = torch.full((T,), 0.1)
    losses[[3, 7]] = 10.0
    sampler = warmed(losses)
    torch.manual_seed(0)
    t, _ = sampler.sample(20_000, "cpu")
    share = torch.isin(t, torch.tensor([3, 7])).double().mean()
    # p_t ~ sqrt(E[L_t^2]): about 20 / 21.8 of the draws; uniform draws would give 2 / 20
    assert share > 0.85
    # and each t's frequency matches p_t within 5 standard errors
    p = sampler.probabilities()
    freq = torch.bincount(t, minlength=T).double() / len(t)
    assert ((freq - p).abs() <= 5 * (p * (1 - p) / len(t)).sqrt() + 1e-12).all()
    assert (p >= sampler.floor / T).all() and torch.isclose(p.sum(), torch.tensor(1.0).double())


def test_weights_make_the_weighted_loss_an_unbiased_estimate_of_the_uniform_mean() -> None:
    g = torch.Generator().manual_seed(1)
    level = torch.rand(T, generator=g) * 5 + 0.05  # each t's typical loss
    sampler = warmed(level)
    mean_loss = sampler.losses.mean(1)  # L_t: what an image at t costs, on average
    p = sampler.probabilities()
    # exactly: sum_t p_t L_t / (T p_t) = mean_t L_t
    torch.testing.assert_close((p * mean_loss / (T * p)).sum(), mean_loss.mean())
    # by drawing: the weighted mean of N draws is within 4 standard errors of the uniform mean
    torch.manual_seed(2)
    n = 200_000
    t, w = sampler.sample(n, "cpu")
    weighted = w.double() * mean_loss[t]
    se = weighted.std() / n**0.5
    assert (weighted.mean() - mean_loss.mean()).abs() < 4 * se
    # without the weights the estimate is biased toward the costly t, by many errors
    assert (mean_loss[t].mean() - mean_loss.mean()).abs() > 20 * se


def tiny_recipe(**sets: object) -> DDPMRecipe:
    torch.manual_seed(0)
    config = DDPMConfig.preset("tiny", **sets)
    return DDPMRecipe(DDPMGenerator(config), config, torch.device("cpu"))


def test_the_recipe_draws_from_its_history_and_records_each_images_loss() -> None:
    recipe = tiny_recipe(timestep_sampling="importance")
    assert set(recipe.trainable()) == {"unet", "ema", "timesteps"}
    assert set(tiny_recipe().trainable()) == {"unet", "ema"}  # uniform: checkpoints unchanged
    history = recipe.trainable()["timesteps"]
    assert isinstance(history, TimestepImportance)
    history.losses.fill_(1e-3)
    history.losses[3] = 10.0
    history.counts.fill_(10)
    batch = {"image": torch.rand(16, 1, 8, 8), "label": torch.arange(16) % 10}
    losses = recipe.step(batch)
    assert set(losses) == {"loss", "mse"}
    # p_3 is 0.9995: nearly every image drew t = 3 and pushed its loss into that row
    new_at_3 = int((history.losses[3] != 10.0).sum())
    assert new_at_3 == 10  # more than 10 draws of 16 fill the whole row
    assert torch.isfinite(history.losses).all()
    assert "importance" in recipe.recipe_summary()["timesteps"]
    assert tiny_recipe().recipe_summary()["timesteps"] == "uniform"


def test_the_learned_variance_loss_is_importance_sampled_too() -> None:
    recipe = tiny_recipe(
        timestep_sampling="importance",
        schedule={"num_train_timesteps": 20, "variance_type": "learned_range"},
    )
    batch = {"image": torch.rand(8, 1, 8, 8), "label": torch.arange(8)}
    losses = recipe.step(batch)
    assert set(losses) == {"loss", "mse", "vlb"}
    history = recipe.trainable()["timesteps"]
    assert int(history.counts.sum()) == 8


def test_resume_keeps_the_loss_history(tmp_path) -> None:
    """40 steps straight equal 20 steps then a resume to 40, byte for byte; the history is
    full at step 20, so the resumed steps draw from it (a lost history would draw uniformly)."""
    kwargs = {
        "preset": "tiny",
        "batch_size": 32,
        "seed": 0,
        "sets": {"timestep_sampling": "importance"},
        "checkpoint_every": 20,
        "progress": False,
    }
    straight, split = tmp_path / "straight", tmp_path / "split"
    train("ddpm", "digits", straight, steps=40, **kwargs)
    train("ddpm", "digits", split, steps=20, **kwargs)
    state = checkpoint.load_latest(split)[1]
    assert (state["networks"]["timesteps"]["counts"] == 10).all()
    train("ddpm", "digits", split, steps=40, resume=True, **kwargs)
    assert (split / "model.safetensors").read_bytes() == (
        straight / "model.safetensors"
    ).read_bytes()
    ended = checkpoint.load_latest(split)[1]["networks"]["timesteps"]
    assert torch.equal(
        ended["losses"], checkpoint.load_latest(straight)[1]["networks"]["timesteps"]["losses"]
    )
    card, _ = read_card(split)
    assert "importance-sampled" in card.zoo.training["recipe"]["timesteps"]
