"""The ddpm family and the diffusion pieces it shares: schedule, losses, EMA, guidance."""

from __future__ import annotations

import json

import pytest
import torch

import zoo
from zoo.api import make_request
from zoo.plugins.ddpm.config import DDPMConfig
from zoo.plugins.ddpm.model import DDPMGenerator
from zoo.plugins.ddpm.train import DDPMRecipe
from zoo.plugins.nn.diffusion import EMA, q_sample, target_for, vlb_terms
from zoo.plugins.samplers.diffusion import GuidedDenoiser, x0_and_eps
from zoo.registry.contracts import Conditions
from zoo.registry.diffusion import NoiseSchedule
from zoo.registry.errors import RequestError
from zoo.registry.options import NoOptions


def tiny(**overrides) -> DDPMGenerator:
    torch.manual_seed(0)
    return DDPMGenerator(DDPMConfig.preset("tiny", **overrides)).eval()


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction", "sample"])
def test_training_targets_and_sampling_conventions_agree(prediction: str) -> None:
    """What training regresses on is what the samplers read back as (x_0, eps)."""
    ac = NoiseSchedule(beta_schedule="cosine").alphas_cumprod()
    g = torch.Generator().manual_seed(0)
    x_0, eps = torch.randn(4, 2, 3, 3, generator=g), torch.randn(4, 2, 3, 3, generator=g)
    t = torch.tensor([0, 10, 500, 999])
    x_t = q_sample(x_0, t, eps, ac)
    out = target_for(prediction, x_0, eps, t, ac)
    for k in range(4):
        x0_hat, eps_hat = x0_and_eps(out[k : k + 1], x_t[k : k + 1], ac[t[k]], prediction)
        torch.testing.assert_close(x0_hat[0], x_0[k], atol=2e-3, rtol=1e-3)
        torch.testing.assert_close(eps_hat[0], eps[k], atol=2e-3, rtol=1e-3)


def test_vlb_vanishes_when_the_model_is_the_true_posterior() -> None:
    ac = NoiseSchedule(beta_schedule="linear").alphas_cumprod()
    g = torch.Generator().manual_seed(1)
    x_0 = torch.rand(3, 1, 4, 4, generator=g) * 2 - 1
    eps = torch.randn(3, 1, 4, 4, generator=g)
    t = torch.tensor([5, 300, 600])
    x_t = q_sample(x_0, t, eps, ac)
    exact = vlb_terms(x_0, x_t, t, eps, -torch.ones_like(x_0), ac)  # v = -1: beta tilde
    assert exact.abs().max() < 1e-3
    wrong_mean = vlb_terms(x_0, x_t, t, eps + 0.5, -torch.ones_like(x_0), ac)
    wrong_var = vlb_terms(x_0, x_t, t, eps, torch.ones_like(x_0), ac)  # v = 1: beta
    assert (wrong_mean > exact + 1e-5).all() and (wrong_var > exact).all()


def test_ema_warms_up_then_follows_the_decay() -> None:
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = EMA(net, decay=0.99)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net)  # d = min(0.99, 1/10) = 0.1
    assert float(ema.net.weight) == pytest.approx(0.9)
    for _ in range(2000):
        ema.update(net)
    assert float(ema.net.weight) == pytest.approx(1.0, abs=1e-6)


def test_unet_starts_at_zero_and_learned_variance_doubles_the_channels() -> None:
    gen = tiny()
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        out = gen.denoise(x, torch.tensor([3.0, 7.5]), {"label": torch.tensor([1, 10])})
    assert out.shape == (2, 1, 8, 8) and float(out.abs().max()) == 0.0
    learned = tiny(schedule={"num_train_timesteps": 20, "variance_type": "learned_range"})
    assert learned.denoise(x, torch.tensor([1, 2]), {"label": torch.tensor([0, 0])}).shape == (
        2,
        2,
        8,
        8,
    )


def test_recipe_trains_and_ships_the_ema() -> None:
    torch.manual_seed(0)
    config = DDPMConfig.preset(
        "tiny", schedule={"num_train_timesteps": 20, "variance_type": "learned_range"}
    )
    gen = DDPMGenerator(config)
    recipe = DDPMRecipe(gen, config, torch.device("cpu"))
    batch = {"image": torch.rand(4, 1, 8, 8), "label": torch.tensor([0, 1, 2, 9])}
    losses = [recipe.step(batch) for _ in range(5)]
    assert all(set(step) == {"loss", "mse", "vlb"} for step in losses)
    assert all(torch.isfinite(torch.tensor(list(s.values()))).all() for s in losses)
    assert not torch.equal(gen.net.out[-1].weight, recipe.ema.net.out[-1].weight)
    recipe.finish()
    torch.testing.assert_close(gen.net.state_dict(), recipe.ema.net.state_dict())
    with pytest.raises(RequestError, match="num_classes"):
        recipe.step({"image": torch.rand(2, 1, 8, 8), "label": torch.tensor([0, 10])})


def test_guidance_is_one_batched_forward_equal_to_two() -> None:
    gen = tiny()
    with torch.no_grad():  # give the untrained network an output that depends on the label
        for p in gen.net.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.1)
    enc = gen.encode_conditions(Conditions(label=3), NoOptions(), [0, 1])
    null = gen.null_conditions(enc)
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(5))
    guided = GuidedDenoiser(gen, enc, null, 2.5, channels=1, dtype=torch.float32)
    with torch.no_grad():
        got = guided(x, 7)
        t = torch.full((2,), 7.0)
        cond, uncond = gen.denoise(x, t, enc), gen.denoise(x, t, null)
    torch.testing.assert_close(got, uncond + 2.5 * (cond - uncond), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(cond, uncond)


def test_labels_follow_the_request_or_the_seed() -> None:
    gen = tiny()
    assert gen.encode_conditions(Conditions(), NoOptions(), [3, 14])["label"].tolist() == [3, 4]
    assert gen.drawn_labels(Conditions(), [3, 14]) == [3, 4]
    assert gen.drawn_labels(Conditions(label=2), [3]) is None
    with pytest.raises(RequestError, match="out of range"):
        gen.encode_conditions(Conditions(label=10), NoOptions(), [0])
    plain = tiny(num_classes=0)
    assert plain.null_conditions({}) is None and plain.default_guidance() is None
    with pytest.raises(RequestError, match="unconditional"):
        plain.encode_conditions(Conditions(label=1), NoOptions(), [0])


def test_schedule_reads_a_diffusers_scheduler_config(tmp_path) -> None:
    diffusers = pytest.importorskip("diffusers")
    for betas, ours in (("linear", "linear"), ("squaredcos_cap_v2", "cosine")):
        sched = diffusers.DDPMScheduler(
            beta_schedule=betas, prediction_type="v_prediction", variance_type="fixed_large"
        )
        sched.save_config(tmp_path)
        config = json.loads((tmp_path / "scheduler_config.json").read_text())
        schedule = NoiseSchedule.from_diffusers(config)
        assert schedule.beta_schedule == ours and schedule.prediction_type == "v_prediction"
        assert schedule.variance_type == "fixed_large"
        assert torch.equal(schedule.alphas_cumprod(), sched.alphas_cumprod)


def test_a_tiny_model_samples_through_the_api(tmp_path) -> None:
    """Train two steps, then draw with a registered diffusion sampler: image k of a batch
    equals it drawn alone, and --guidance to an unconditional model is refused."""
    from tests.conftest import run_zoo

    out = tmp_path / "tiny-ddpm"
    res = run_zoo(
        "train", "ddpm", "--data", "digits", "--out", str(out), "--preset", "tiny", "--steps", "2"
    )
    assert res.returncode == 0, res.stderr[-2000:]
    import zoo

    model = zoo.load(str(out), device="cpu")
    batch = model.sample(n=3, seed=4, sampler="euler", steps=4, batch_size=3).images
    alone = model.sample(n=1, seed=5, sampler="euler", steps=4).images
    torch.testing.assert_close(batch[1:2], alone, atol=1e-5, rtol=0)  # batched convs round
    assert (
        model.run(make_request(n=1, seed=5, sampler="euler", steps=4)).records[0]["drawn_label"]
        == 5
    )
    unconditional = tmp_path / "plain"
    res = run_zoo(
        "train",
        "ddpm",
        "--data",
        "digits",
        "--out",
        str(unconditional),
        "--preset",
        "tiny",
        "--steps",
        "1",
        "--set",
        "num_classes=0",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    res = run_zoo("sample", str(unconditional), "--sampler", "euler", "--guidance", "3")
    assert res.returncode == 2 and "null condition" in res.stderr


# -- the shipped model --------------------------------------------------------------------

SHIPPED = "ddpm-digits"


def _threes(n: int) -> float:
    """Share of n DDIM-50 draws of --label 3 the zoo's digit classifier reads as a 3."""
    model = zoo.load(SHIPPED, device="cpu")
    images = model.sample(n=n, seed=0, label=3, sampler="ddim", steps=50, batch_size=100).images
    classifier = zoo.load("classifier-digits", device="cpu").network
    with torch.no_grad():
        return float((classifier.logits(classifier.fit(images)).argmax(1) == 3).float().mean())


def test_shipped_model_draws_the_asked_digit() -> None:
    assert _threes(40) >= 0.9


@pytest.mark.slow
def test_shipped_model_draws_threes_as_its_card_promises() -> None:
    assert _threes(200) >= 0.95


def test_shipped_model_cli_is_deterministic_and_per_image(tmp_path) -> None:
    from tests.conftest import run_zoo

    a, b, one = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "one.png"
    args = ("--label", "3", "--steps", "10", "--sampler", "ddim", "--seed", "0")
    assert run_zoo("sample", SHIPPED, *args, "-n", "4", "-o", str(a)).returncode == 0
    assert run_zoo("sample", SHIPPED, *args, "-n", "4", "-o", str(b)).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    folder = tmp_path / "each"
    assert run_zoo("sample", SHIPPED, *args, "-n", "4", "-o", str(folder)).returncode == 0
    res = run_zoo(
        "sample",
        SHIPPED,
        "--label",
        "3",
        "--steps",
        "10",
        "--sampler",
        "ddim",
        "--seed",
        "3",
        "-o",
        str(one),
    )
    assert res.returncode == 0
    from zoo.images import load_image

    torch.testing.assert_close(
        load_image(folder / "000003.png", 1), load_image(one, 1), atol=1 / 255, rtol=0
    )
    res = run_zoo("sample", SHIPPED, "--sampler", "ar")
    assert res.returncode == 2 and "draws autoregressive models" in res.stderr


@pytest.mark.parametrize("sampler", ["dpm++2m", "euler", "euler-a", "ddpm"])
def test_every_sampler_draws_the_asked_digit_from_the_shipped_model(sampler: str) -> None:
    """The sigma-space solvers start at the model's own spacing: from linspace's t = T-1 of
    a cosine schedule (sigma ~ 2e4) their first step turns small errors into noise."""
    model = zoo.load(SHIPPED, device="cpu")
    steps = 100 if sampler == "ddpm" else 20
    images = model.sample(n=16, seed=0, label=3, sampler=sampler, steps=steps).images
    classifier = zoo.load("classifier-digits", device="cpu").network
    with torch.no_grad():
        read = classifier.logits(classifier.fit(images)).argmax(1)
    assert float((read == 3).float().mean()) >= 0.9, read.tolist()


def test_classifier_guidance_alone_draws_the_asked_digit_from_the_shipped_model() -> None:
    """The unconditional branch (--guidance 0) draws any digit; steered by the card's
    noise-aware classifier it draws the asked one, as the digit classifier (another network,
    trained on clean digits) reads them."""
    model = zoo.load(SHIPPED, device="cpu")
    classifier = zoo.load("classifier-digits", device="cpu").network

    def sevens(scale: float) -> float:
        images = model.sample(
            n=24, seed=0, label=7, steps=20, guidance=0.0, classifier_scale=scale
        ).images
        with torch.no_grad():
            read = classifier.logits(classifier.fit(images)).argmax(1)
        return float((read == 7).float().mean())

    assert sevens(0.0) <= 0.4
    assert sevens(4.0) >= 0.9
