"""Gradient guidance (classifier guidance) on every diffusion sampler, and its errors."""

from __future__ import annotations

import pytest
import torch

from zoo.plugins.ddpm.config import DDPMConfig, DDPMOptions
from zoo.plugins.ddpm.model import DDPMGenerator
from zoo.plugins.noisyclf.config import NoisyClassifierConfig
from zoo.plugins.noisyclf.model import NoisyClassifier
from zoo.plugins.samplers.ddim import DDIMSampler
from zoo.plugins.samplers.ddpm import DDPMSampler
from zoo.plugins.samplers.diffusion import GuidedDenoiser, alpha_bar_at, x0_and_eps
from zoo.plugins.samplers.dpm import DPMSolverSampler
from zoo.plugins.samplers.euler import EulerAncestralSampler, EulerSampler
from zoo.registry.contracts import Conditions, Draw
from zoo.registry.diffusion import GradientGuide
from zoo.registry.errors import CardError, RequestError
from zoo.registry.options import NoOptions

SAMPLERS = [DDIMSampler, DDPMSampler, DPMSolverSampler, EulerSampler, EulerAncestralSampler]


def _jitter(net: torch.nn.Module, seed: int) -> None:
    """Give an untrained network (zero-initialised output layers) outputs that vary."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.2)


def tiny_ddpm(**overrides) -> DDPMGenerator:
    torch.manual_seed(0)
    gen = DDPMGenerator(DDPMConfig.preset("tiny", **overrides)).eval()
    _jitter(gen.net, 1)
    return gen


def tiny_classifier(**overrides) -> NoisyClassifier:
    torch.manual_seed(0)
    clf = NoisyClassifier(NoisyClassifierConfig.preset("tiny", **overrides))
    clf.net.eval()
    _jitter(clf.net, 2)
    return clf


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction", "sample"])
def test_a_guide_shifts_the_implied_noise_by_its_scaled_gradient(prediction: str) -> None:
    """Whatever the model predicts, the steered output implies eps - s sqrt(1 - abar) grad."""
    gen = tiny_ddpm(schedule={"num_train_timesteps": 20, "prediction_type": prediction})
    enc = gen.encode_conditions(Conditions(label=2), NoOptions(), [0, 1])
    target = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(3))

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # grad = target - x
        return -0.5 * ((x - target) ** 2).sum(dim=(1, 2, 3))

    schedule = gen.schedule()
    plain = GuidedDenoiser(gen, enc, None, None, 1, torch.float32)
    steered = GuidedDenoiser(
        gen, enc, None, None, 1, torch.float32, [GradientGuide("toy", 1.5, score)], schedule
    )
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        for t in (3, 12.5):
            a = alpha_bar_at(schedule.alphas_cumprod(), t)
            _, eps = x0_and_eps(plain(x, t), x, a, prediction)
            _, eps_steered = x0_and_eps(steered(x, t), x, a, prediction)
            want = eps - 1.5 * (1 - a).sqrt() * (target - x)
            torch.testing.assert_close(eps_steered, want, atol=1e-4, rtol=1e-4)


def test_fractional_timesteps_interpolate_alpha_bar() -> None:
    ac = torch.tensor([0.9, 0.5, 0.1])
    assert float(alpha_bar_at(ac, 0.25)) == pytest.approx(0.8)
    assert float(alpha_bar_at(ac, 2)) == pytest.approx(0.1)
    assert float(alpha_bar_at(ac, 2.7)) == pytest.approx(0.1)  # clamped at the last step


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: s.name)
def test_classifier_guidance_changes_every_sampler_and_keeps_images_apart(sampler) -> None:
    """Each sampler applies the guide (the draw changes), and image k of a batch still equals
    image k drawn alone. That the guide steers toward the label is measured on the shipped
    model (test_ddpm.py), where the classifier has learned something to steer by."""
    gen, clf = tiny_ddpm(), tiny_classifier()
    gen.components["classifier"] = clf
    seeds = (0, 1, 2, 3)

    def draw(scale: float, these=seeds, batch: int = 4) -> torch.Tensor:
        d = Draw(
            seeds=these,
            conditions=Conditions(label=7),
            options=DDPMOptions(classifier_scale=scale),
            steps=4,
            guidance=0.0,
            batch_size=batch,
        )
        return sampler().sample(gen, d)

    plain, guided = draw(0.0), draw(100.0)
    assert (guided - plain).abs().max() > 1e-3
    alone = draw(100.0, (2,), 1)
    assert (guided[2] - alone[0]).abs().max() < 1e-5  # batched convolutions round


def test_classifier_scale_without_a_classifier_is_one_line() -> None:
    gen = tiny_ddpm()
    d = Draw(seeds=(0,), options=DDPMOptions(classifier_scale=2.0), steps=2)
    with pytest.raises(RequestError, match="names no 'classifier' component"):
        DDIMSampler().sample(gen, d)
    gen.components["classifier"] = torch.nn.Linear(2, 2)
    with pytest.raises(RequestError, match="not a noise-aware network"):
        DDIMSampler().sample(gen, d)
    plain = tiny_ddpm(num_classes=0)
    plain.components["classifier"] = tiny_classifier()
    with pytest.raises(RequestError, match="class-conditional"):
        DDIMSampler().sample(plain, d)


def test_a_classifier_of_another_schedule_is_refused() -> None:
    gen = tiny_ddpm()
    gen.components["classifier"] = tiny_classifier(
        schedule={"num_train_timesteps": 20, "beta_schedule": "cosine"}
    )
    d = Draw(seeds=(0,), options=DDPMOptions(classifier_scale=2.0), steps=2)
    with pytest.raises(CardError, match=r"another noise schedule \(cosine, T = 20\)"):
        DDIMSampler().sample(gen, d)


def test_guidance_zero_runs_the_null_branch_alone() -> None:
    gen = tiny_ddpm()
    enc = gen.encode_conditions(Conditions(label=3), NoOptions(), [0, 1])
    null = gen.null_conditions(enc)
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(5))
    calls = []
    denoise = gen.denoise
    gen.denoise = lambda x_t, t, e: calls.append(len(x_t)) or denoise(x_t, t, e)  # type: ignore[method-assign]
    with torch.inference_mode():
        out = GuidedDenoiser(gen, enc, null, 0.0, 1, torch.float32)(x, 5)
        want = denoise(x, torch.full((2,), 5.0), null)
    assert calls == [2]
    torch.testing.assert_close(out, want)


def test_the_noisy_classifier_trains_and_reads_clean_images(tmp_path) -> None:
    from zoo.train import train

    out = train(
        "noisy-classifier", "digits", tmp_path / "nc", preset="tiny", steps=3, progress=False
    )
    import zoo

    net = zoo.load(str(out), device="cpu").network
    images = torch.rand(3, 1, 8, 8)
    assert net.logits(images).shape == (3, 10)
    assert net.features(images).shape == (3, net.num_features)
    from tests.conftest import run_zoo

    res = run_zoo("reference-eval", str(out), "-n", "100", "--write-card")
    assert res.returncode == 0, res.stderr[-2000:]
    card = (out / "README.md").read_text()
    for t in (0, 5, 10, 15):  # the tiny schedule's T = 20
        assert f"accuracy at t = {t} (test split, 100 images)" in card
