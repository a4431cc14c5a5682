"""dpm++2m, euler and euler-a: parity with diffusers' schedulers, seed streams, options.

The "model" is the exact posterior mean of Gaussian data (x_0 ~ N(MEAN, STD^2) per pixel)
plus a small seeded convolution, so samples stay O(1) and 1e-5 is a tolerance on values of
that size. Both loops see the same network, the same per-image generators and the same x_T.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch
from torch import nn

from zoo.plugins.samplers.diffusion import GuidedDenoiser
from zoo.plugins.samplers.dpm import DPMSolverSampler
from zoo.plugins.samplers.euler import EulerAncestralSampler, EulerSampler
from zoo.plugins.samplers.options import DPMOptions, EulerOptions
from zoo.registry.contracts import Draw, FamilyConfig
from zoo.registry.diffusion import DiffusionGenerator, NoiseSchedule
from zoo.registry.errors import RequestError
from zoo.registry.options import Options, split_options

diffusers = pytest.importorskip("diffusers")
# diffusers' sigma arrays trip numpy 2's __array__ copy deprecation; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
from diffusers.utils.torch_utils import randn_tensor  # noqa: E402

MEAN, STD = 0.2, 0.5
SEEDS = (11, 12, 13)
SHAPE = (2, 8, 8)
TOL = 1e-5

PREDICTIONS = ("epsilon", "v_prediction", "sample")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: at 3x2x8x8, handing a convolution to a second thread costs far
    more than the work (and a busy shared CPU makes that hand-off slower still)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class ToyDiffusionConfig(FamilyConfig):
    channels: int = 2
    image_size: int = 8
    learned_variance: bool = False
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {}}


class ToyDiffusion(DiffusionGenerator):
    """Predicts eps, v or x_0 of per-pixel Gaussian data exactly, plus a small conv term."""

    family = "toy-diffusion"
    capabilities = ("unconditional",)
    config_class = ToyDiffusionConfig

    def __init__(self, config: ToyDiffusionConfig, schedule: NoiseSchedule) -> None:
        super().__init__(config)
        self._schedule = schedule
        torch.manual_seed(0)
        c = config.channels
        self.net = nn.Conv2d(c, c, 3, padding=1)
        self.var = nn.Conv2d(c, c, 3, padding=1) if config.learned_variance else None
        self.alpha_bar = schedule.alphas_cumprod()

    def networks(self) -> dict[str, nn.Module]:
        return {"net": self.net} if self.var is None else {"net": self.net, "var": self.var}

    def schedule(self) -> NoiseSchedule:
        return self._schedule

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, encoded: dict[str, Any]) -> torch.Tensor:
        t = t.float()
        lo = t.floor().long().clamp(0, len(self.alpha_bar) - 1)
        hi = (lo + 1).clamp_max(len(self.alpha_bar) - 1)
        w = t - lo
        a = (self.alpha_bar[lo] * (1 - w) + self.alpha_bar[hi] * w)[:, None, None, None]
        sa, sb = a.sqrt(), (1 - a).sqrt()
        x0 = MEAN + STD**2 * sa / (a * STD**2 + 1 - a) * (x_t - sa * MEAN)
        x0 = x0 + 0.05 * torch.tanh(self.net(x_t))
        eps = (x_t - sa * x0) / sb
        kind = self._schedule.prediction_type
        out = eps if kind == "epsilon" else x0 if kind == "sample" else sa * eps - sb * x0
        if self.var is not None:  # learned_range: interpolation values in [-1, 1]
            out = torch.cat([out, torch.tanh(self.var(x_t))], dim=1)
        return out


def toy(learned: bool = False, **schedule: Any) -> ToyDiffusion:
    cfg = ToyDiffusionConfig(channels=SHAPE[0], image_size=SHAPE[1], learned_variance=learned)
    return ToyDiffusion(cfg, NoiseSchedule(**schedule))


def zoo_loop(
    sampler: Any, gen: ToyDiffusion, steps: int, opts: Options, seeds=SEEDS
) -> torch.Tensor:
    """x_0 from the zoo's loop for ``seeds`` in one batch."""
    model = GuidedDenoiser(gen, {}, None, None, SHAPE[0], torch.float32)
    rngs = [torch.Generator().manual_seed(s) for s in seeds]
    draw = Draw(seeds=tuple(seeds), sampler_options=opts, steps=steps)
    with torch.inference_mode():
        return sampler.loop(model, gen.schedule(), steps, SHAPE, rngs, draw)


def scheduler_config(schedule: NoiseSchedule) -> dict[str, Any]:
    betas = {"cosine": "squaredcos_cap_v2"}.get(schedule.beta_schedule, schedule.beta_schedule)
    return {
        "num_train_timesteps": schedule.num_train_timesteps,
        "beta_schedule": betas,
        "beta_start": schedule.beta_start,
        "beta_end": schedule.beta_end,
        "prediction_type": schedule.prediction_type,
        "steps_offset": schedule.steps_offset,
    }


def diffusers_loop(scheduler: Any, gen: ToyDiffusion, steps: int, as_eps: bool = False):
    """x_0 from diffusers' set_timesteps / scale_model_input / step loop.

    ``as_eps``: hand the scheduler the eps that the x_0 prediction implies at the step's sigma
    (for EulerAncestralDiscreteScheduler, which takes no "sample" prediction).
    """
    rngs = [torch.Generator().manual_seed(s) for s in SEEDS]
    scheduler.set_timesteps(steps)
    x = randn_tensor((len(SEEDS), *SHAPE), generator=rngs) * scheduler.init_noise_sigma
    with torch.inference_mode():
        for t in scheduler.timesteps:
            x_in = scheduler.scale_model_input(x, t)
            out = gen.denoise(x_in, t.float().expand(len(SEEDS)), {})[:, : SHAPE[0]]
            if as_eps:
                sigma = scheduler.sigmas[scheduler.step_index]
                out = (x - out) / sigma
            x = scheduler.step(out, t, x, generator=rngs).prev_sample
    return x


# -- parity --------------------------------------------------------------------------------


DPM_CASES = [
    *[
        (kind, karras, steps, "linspace", {})
        for kind in PREDICTIONS
        for karras in (False, True)
        for steps in (3, 10, 20)
    ],
    ("epsilon", False, 10, "leading", {"steps_offset": 1}),
    ("v_prediction", False, 7, "leading", {}),
    ("epsilon", False, 10, "trailing", {}),
    ("sample", False, 7, "trailing", {}),
    ("epsilon", False, 1, "linspace", {}),
    ("epsilon", True, 12, "linspace", {"beta_schedule": "scaled_linear", "beta_start": 0.00085}),
    # (karras with the cosine schedule repeats its first timestep, which diffusers' step index
    # lookup skips; that case is left out)
    ("v_prediction", True, 12, "linspace", {"beta_schedule": "scaled_linear"}),
    ("epsilon", False, 12, "linspace", {"beta_schedule": "cosine"}),
]


@pytest.mark.parametrize(("kind", "karras", "steps", "spacing", "extra"), DPM_CASES)
def test_dpm_matches_diffusers(kind, karras, steps, spacing, extra) -> None:
    gen = toy(prediction_type=kind, **extra)
    ours = zoo_loop(
        DPMSolverSampler(), gen, steps, DPMOptions(karras=karras, timestep_spacing=spacing)
    )
    ref = diffusers.DPMSolverMultistepScheduler(
        **scheduler_config(gen.schedule()), use_karras_sigmas=karras, timestep_spacing=spacing
    )
    theirs = diffusers_loop(ref, gen, steps)
    assert ours.shape == (len(SEEDS), *SHAPE)
    assert ours.abs().max() < 10  # the toy model keeps samples O(1): 1e-5 is a tight bound
    assert (ours - theirs).abs().max() <= TOL


EULER_CASES = [
    *[(kind, steps, "linspace", {}) for kind in PREDICTIONS for steps in (3, 10, 20)],
    ("epsilon", 10, "leading", {"steps_offset": 1}),
    ("v_prediction", 7, "leading", {}),
    ("epsilon", 10, "trailing", {}),
    ("sample", 7, "trailing", {}),
    ("epsilon", 12, "linspace", {"beta_schedule": "scaled_linear", "beta_start": 0.00085}),
]


@pytest.mark.parametrize("ancestral", [False, True], ids=["euler", "euler-a"])
@pytest.mark.parametrize(("kind", "steps", "spacing", "extra"), EULER_CASES)
def test_euler_matches_diffusers(ancestral, kind, steps, spacing, extra) -> None:
    gen = toy(prediction_type=kind, **extra)
    sampler = EulerAncestralSampler() if ancestral else EulerSampler()
    ours = zoo_loop(sampler, gen, steps, EulerOptions(timestep_spacing=spacing))
    config = scheduler_config(gen.schedule())
    # diffusers' ancestral Euler takes no "sample" prediction: it is handed the implied eps
    as_eps = ancestral and kind == "sample"
    if as_eps:
        config["prediction_type"] = "epsilon"
    cls = (
        diffusers.EulerAncestralDiscreteScheduler if ancestral else diffusers.EulerDiscreteScheduler
    )
    theirs = diffusers_loop(cls(**config, timestep_spacing=spacing), gen, steps, as_eps)
    assert ours.abs().max() < 10
    assert (ours - theirs).abs().max() <= TOL


@pytest.mark.parametrize(
    "sampler,opts",
    [(DPMSolverSampler(), DPMOptions()), (EulerSampler(), EulerOptions())],
    ids=["dpm++2m", "euler"],
)
def test_learned_variance_channels_are_ignored(sampler, opts) -> None:
    """A 2C-channel output (learned_range) steps on its first C channels only."""
    plain = zoo_loop(sampler, toy(), 6, opts)
    learned = zoo_loop(sampler, toy(learned=True, variance_type="learned_range"), 6, opts)
    assert torch.equal(plain, learned)


def test_karras_changes_the_levels_and_euler_a_the_noise() -> None:
    """The options and the ancestral noise do something (guards against a parity test
    passing because both sides ignore a setting)."""
    gen = toy()
    plain = zoo_loop(DPMSolverSampler(), gen, 10, DPMOptions())
    karras = zoo_loop(DPMSolverSampler(), gen, 10, DPMOptions(karras=True))
    trailing = zoo_loop(DPMSolverSampler(), gen, 10, DPMOptions(timestep_spacing="trailing"))
    assert (plain - karras).abs().max() > 1e-3 and (plain - trailing).abs().max() > 1e-3
    euler = zoo_loop(EulerSampler(), gen, 10, EulerOptions())
    ancestral = zoo_loop(EulerAncestralSampler(), gen, 10, EulerOptions())
    assert (euler - ancestral).abs().max() > 1e-2


# -- seed streams --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sampler,opts",
    [
        (DPMSolverSampler(), DPMOptions(karras=True)),
        (EulerSampler(), EulerOptions()),
        (EulerAncestralSampler(), EulerOptions(timestep_spacing="trailing")),
    ],
    ids=["dpm++2m", "euler", "euler-a"],
)
def test_image_k_of_a_batch_equals_it_drawn_alone(sampler, opts) -> None:
    gen = toy()
    seeds = (5, 6, 7)
    draw = Draw(seeds=seeds, sampler_options=opts, steps=8, batch_size=3)
    batch = sampler.sample(gen, draw)
    assert batch.shape == (3, *SHAPE) and 0 <= batch.min() and batch.max() <= 1
    for k, s in enumerate(seeds):
        alone = sampler.sample(gen, Draw(seeds=(s,), sampler_options=opts, steps=8))
        # the update rules act on each image alone; only the network's batched convolution
        # may round differently from a single image's (float32, ~1e-7 per step over 8 steps)
        assert (batch[k] - alone[0]).abs().max() <= 1e-5
    assert (batch[0] - batch[1]).abs().max() > 1e-2  # the seeds matter


# -- options and errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls,values,phrase",
    [
        (DPMOptions, {"timestep_spacing": "middle"}, "--timestep-spacing"),
        (DPMOptions, {"karras": "maybe"}, "--karras"),
        (DPMOptions, {"eta": 0.5}, "--eta does not apply"),
        (EulerOptions, {"timestep_spacing": "uniform"}, "--timestep-spacing"),
        (EulerOptions, {"karras": True}, "--karras does not apply"),
    ],
)
def test_bad_options_are_one_line_request_errors(cls, values, phrase) -> None:
    with pytest.raises(RequestError, match=phrase) as err:
        split_options(values, {"sampler": cls}, "toy")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "sampler,opts",
    [(DPMSolverSampler(), DPMOptions(karras=True)), (EulerAncestralSampler(), EulerOptions())],
)
def test_too_many_steps_is_a_request_error(sampler, opts) -> None:
    with pytest.raises(RequestError, match="--steps must be between 1 and 1000"):
        zoo_loop(sampler, toy(), 1001, opts)


def test_a_sampler_refuses_options_not_its_own() -> None:
    with pytest.raises(RequestError, match="needs its own options"):
        zoo_loop(DPMSolverSampler(), toy(), 3, EulerOptions())


def test_the_samplers_are_registered_with_their_options() -> None:
    from zoo.registry.discovery import get_registry, load_object

    registry = get_registry()
    for name, cls, opts in [
        ("dpm++2m", DPMSolverSampler, DPMOptions),
        ("euler", EulerSampler, EulerOptions),
        ("euler-a", EulerAncestralSampler, EulerOptions),
    ]:
        spec = registry.sampler(name)
        assert spec.process == "diffusion" and set(spec.takes) == {"steps", "guidance"}
        assert load_object(spec.sampler) is cls and cls.name == name
        assert load_object(spec.options) is opts is cls.options_class


def test_plus_is_allowed_in_sampler_names_only() -> None:
    from pydantic import ValidationError

    from zoo.registry.schemas import FamilySpec, ModelSpec, SamplerSpec

    SamplerSpec(name="dpm++2m", process="diffusion", sampler="a.b:C")
    with pytest.raises(ValidationError):
        ModelSpec(id="ddpm++digits", path="x")
    with pytest.raises(ValidationError):
        FamilySpec(name="dd+pm", process="diffusion", generator="a.b:C")
    with pytest.raises(ValidationError):
        SamplerSpec(name="+dpm", process="diffusion", sampler="a.b:C")
