"""The ddpm and ddim samplers: parity with diffusers' DDPMScheduler and DDIMScheduler on the
same model outputs and noise streams, per-image noise, and their options."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from zoo.plugins.samplers.ddim import DDIMSampler
from zoo.plugins.samplers.ddpm import DDPMSampler
from zoo.plugins.samplers.diffusion import DiffusionSampler, GuidedDenoiser, train_timesteps
from zoo.plugins.samplers.options import DDIMOptions, DDPMOptions
from zoo.registry.contracts import Draw, FamilyConfig
from zoo.registry.diffusion import DiffusionGenerator, NoiseSchedule
from zoo.registry.errors import RequestError
from zoo.registry.options import NoOptions, Options, split_options

diffusers = pytest.importorskip("diffusers")

SEEDS = (11, 12, 13)
SHAPE = (2, 8, 8)
C = SHAPE[0]
TOL = 1e-5


class ToyConfig(FamilyConfig):
    channels: int = C
    image_size: int = SHAPE[1]
    learned: bool = False
    constant_x0: float | None = None
    schedule: NoiseSchedule = NoiseSchedule()


class ToyDenoiser(DiffusionGenerator):
    """A small denoiser that keeps trajectories of order 1.

    Its output is the exact posterior prediction for data x_0 ~ N(0, 0.25 I) (a function of
    x_t and alpha_bar_t in the schedule's parametrisation) plus a small seeded convolution
    of (x_t, t) through tanh, so it mixes pixels and is not linear. With ``learned`` it adds
    C channels in [-1, 1] for the learned-range variance. It records every x_t it sees.
    """

    family = "toy-diffusion"
    capabilities: ClassVar = ("unconditional",)
    config_class = ToyConfig

    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        out = 2 * C if config.learned else C
        # a 1x1 convolution over (x_t, x_t shifted one pixel, t), written as a broadcast sum:
        # at this size Conv2d's or einsum's thread start-up costs more than the whole loop
        self.net = torch.nn.Linear(2 * C + 1, out)
        with torch.no_grad():
            w = torch.randn(out, 2 * C + 1, generator=torch.Generator().manual_seed(0))
            self.net.weight.copy_(w)
            self.net.bias.zero_()
        self.seen: list[torch.Tensor] = []

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"net": self.net}

    def schedule(self) -> NoiseSchedule:
        return self.config.schedule

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, encoded: dict[str, Any]) -> torch.Tensor:
        self.seen.append(x_t.clone())
        s = self.config.schedule
        if self.config.constant_x0 is not None:
            x_0 = torch.full_like(x_t, self.config.constant_x0)
            return torch.cat([x_0, torch.zeros_like(x_t)], 1) if self.config.learned else x_0
        a = s.alphas_cumprod()[t.long()].to(x_t.dtype)[:, None, None, None]
        var = 0.25 * a + 1 - a
        if s.prediction_type == "epsilon":
            exact = (1 - a).sqrt() / var * x_t
        elif s.prediction_type == "sample":
            exact = a.sqrt() * 0.25 / var * x_t
        else:
            exact = (a * (1 - a)).sqrt() * 0.75 / var * x_t
        time = (t.float() / s.num_train_timesteps)[:, None, None, None]
        inp = torch.cat([x_t, x_t.roll(1, -1), time.expand(-1, 1, *x_t.shape[2:])], 1)
        w = self.net.weight[None, :, :, None, None]
        net = (w * inp[:, None]).sum(2) + self.net.bias[:, None, None]
        net = torch.tanh(net)
        out = exact + 0.1 * net[:, :C]
        if self.config.learned:
            return torch.cat([out, net[:, C:]], 1)
        return out


def toy(learned: bool = False, constant_x0: float | None = None, **schedule: Any) -> ToyDenoiser:
    gen = ToyDenoiser(
        ToyConfig(learned=learned, constant_x0=constant_x0, schedule=NoiseSchedule(**schedule))
    )
    gen.eval()
    return gen


def run_zoo(sampler: DiffusionSampler, gen: ToyDenoiser, steps: int, opts: Options) -> Any:
    """x_0 of the zoo's loop and the x_t it fed the model at each step."""
    gen.seen = []
    draw = Draw(seeds=SEEDS, sampler_options=opts, steps=steps)
    model = GuidedDenoiser(gen, {}, None, None, C, torch.float32)
    rngs = [torch.Generator().manual_seed(s) for s in SEEDS]
    with torch.inference_mode():
        x_0 = sampler.loop(model, gen.schedule(), steps, SHAPE, rngs, draw)
    return x_0, gen.seen


def diffusers_config(s: NoiseSchedule, spacing: str | None) -> dict[str, Any]:
    betas = {"cosine": "squaredcos_cap_v2"}.get(s.beta_schedule, s.beta_schedule)
    return dict(
        num_train_timesteps=s.num_train_timesteps,
        beta_schedule=betas,
        beta_start=s.beta_start,
        beta_end=s.beta_end,
        prediction_type=s.prediction_type,
        clip_sample=s.clip_sample,
        clip_sample_range=s.clip_sample_range,
        timestep_spacing=spacing or s.timestep_spacing,
        steps_offset=s.steps_offset,
    )


def run_diffusers(gen: ToyDenoiser, steps: int, opts: DDPMOptions | DDIMOptions) -> Any:
    """x_0 of diffusers' set_timesteps / scale_model_input / step loop, same generators."""
    from diffusers import DDIMScheduler, DDPMScheduler
    from diffusers.utils.torch_utils import randn_tensor

    s = gen.schedule()
    config = diffusers_config(s, opts.timestep_spacing)
    kwargs: dict[str, Any] = {}
    scheduler: Any
    if isinstance(opts, DDPMOptions):
        variance = opts.variance_type or s.variance_type
        scheduler = DDPMScheduler(variance_type=variance, **config)
        scheduler.set_timesteps(steps)
    else:
        variance = "fixed_small"
        scheduler = DDIMScheduler(**config)  # set_alpha_to_one: final alpha_bar = 1
        scheduler.set_timesteps(steps)
        kwargs["eta"] = opts.eta
        if config["timestep_spacing"] == "linspace":
            # DDIMScheduler.step goes from t to t - T // num_inference_steps, not to the
            # next timestep it set (diffusers issue #12633). linspace strides by
            # (T - 1) / (S - 1); where that is a whole number it equals T // (S - 1), so
            # telling the step S - 1 makes it go to the next visited timestep.
            assert (s.num_train_timesteps - 1) % (steps - 1) == 0
            scheduler.num_inference_steps = steps - 1
    gen.seen = []
    gens = [torch.Generator().manual_seed(seed) for seed in SEEDS]
    x = randn_tensor((len(SEEDS), *SHAPE), generator=gens) * scheduler.init_noise_sigma
    with torch.inference_mode():
        for t in scheduler.timesteps:
            inp = scheduler.scale_model_input(x, t)
            out = gen.denoise(inp, torch.full((len(SEEDS),), int(t)), {})
            if out.shape[1] == 2 * C and variance != "learned_range":
                out = out[:, :C]  # diffusers splits the variance channels only when it uses them
            x = scheduler.step(out, t, x, generator=gens, **kwargs).prev_sample
    return x, gen.seen


def parity(
    sampler: DiffusionSampler, gen: ToyDenoiser, steps: int, opts: DDPMOptions | DDIMOptions
) -> float:
    """Max |zoo - diffusers| over every step's x_t and the final x_0."""
    x_zoo, seen_zoo = run_zoo(sampler, gen, steps, opts)
    x_ref, seen_ref = run_diffusers(gen, steps, opts)
    assert len(seen_zoo) == len(seen_ref) == steps
    diffs = [(a - b).abs().max().item() for a, b in zip(seen_zoo, seen_ref, strict=True)]
    diffs.append((x_zoo - x_ref).abs().max().item())
    assert torch.isfinite(x_zoo).all()
    assert x_zoo.abs().max() > 0.1  # a real trajectory, not one collapsed to 0
    return max(diffs)


DDPM_CASES = [
    # (schedule, options, steps): every prediction type with every variance type ...
    *[
        ({"prediction_type": p, "variance_type": v}, {}, 10)
        for p in ("epsilon", "v_prediction", "sample")
        for v in ("fixed_small", "fixed_large", "learned_range")
    ],
    # ... each spacing at a few step counts (7 and 13 divide nothing) ...
    ({"timestep_spacing": "trailing"}, {}, 7),
    ({"timestep_spacing": "trailing"}, {}, 40),
    ({"timestep_spacing": "linspace"}, {}, 13),
    ({"timestep_spacing": "linspace", "prediction_type": "v_prediction"}, {}, 50),
    ({"steps_offset": 1, "beta_schedule": "scaled_linear", "beta_end": 0.012}, {}, 25),
    ({"beta_schedule": "cosine", "variance_type": "learned_range"}, {}, 20),
    ({"prediction_type": "sample", "clip_sample": True, "clip_sample_range": 0.5}, {}, 10),
    # ... and the options over the schedule's defaults
    ({"variance_type": "fixed_small"}, {"variance_type": "fixed_large"}, 10),
    ({"variance_type": "learned_range"}, {"variance_type": "fixed_small"}, 10),
    ({"variance_type": "learned_range"}, {"timestep_spacing": "linspace"}, 12),
    ({}, {"timestep_spacing": "trailing"}, 8),
]


@pytest.mark.parametrize(("schedule", "options", "steps"), DDPM_CASES)
def test_ddpm_matches_diffusers(schedule: dict, options: dict, steps: int) -> None:
    learned = "learned_range" in (schedule.get("variance_type"), options.get("variance_type"))
    gen = toy(learned=learned, **schedule)
    opts = DDPMOptions(**options)
    assert parity(DDPMSampler(), gen, steps, opts) < TOL


DDIM_CASES = [
    # (schedule, eta, spacing option, steps)
    *[
        ({"prediction_type": p}, eta, None, 10)
        for p in ("epsilon", "v_prediction", "sample")
        for eta in (0.0, 1.0)
    ],
    ({}, 0.3, None, 50),
    ({"steps_offset": 1}, 0.5, None, 25),
    # trailing where S divides T, linspace where S - 1 divides T - 1 (see run_diffusers)
    ({}, 0.0, "trailing", 10),
    ({"prediction_type": "v_prediction"}, 0.7, "trailing", 25),
    ({"timestep_spacing": "trailing"}, 1.0, None, 50),
    ({}, 0.0, "linspace", 4),
    ({"prediction_type": "sample"}, 0.5, "linspace", 10),
    ({"timestep_spacing": "linspace"}, 0.0, None, 28),
    ({"beta_schedule": "cosine", "prediction_type": "v_prediction"}, 0.0, None, 20),
    ({"beta_schedule": "scaled_linear", "beta_end": 0.012}, 1.0, "trailing", 20),
    ({"prediction_type": "sample", "clip_sample": True, "clip_sample_range": 0.5}, 0.5, None, 10),
    ({"variance_type": "learned_range"}, 0.5, None, 10),  # variance channels are ignored
]


@pytest.mark.parametrize(("schedule", "eta", "spacing", "steps"), DDIM_CASES)
def test_ddim_matches_diffusers(
    schedule: dict, eta: float, spacing: str | None, steps: int
) -> None:
    gen = toy(learned=schedule.get("variance_type") == "learned_range", **schedule)
    opts = DDIMOptions(eta=eta, timestep_spacing=spacing)
    assert parity(DDIMSampler(), gen, steps, opts) < TOL


def test_ddim_steps_to_the_next_visited_timestep() -> None:
    """With linspace spacing each step lands on the noise level the model is next asked at.

    The x_t the model sees at each step of a model that predicts x_0 = 0 exactly is
    sqrt(1 - alpha_bar_t) times the initial noise's direction; stepping to any other level
    (diffusers' t - T // S) would scale it differently.
    """
    gen = toy(constant_x0=0.0, prediction_type="sample", timestep_spacing="linspace")
    x_0, seen = run_zoo(DDIMSampler(), gen, 10, DDIMOptions())
    a = gen.schedule().alphas_cumprod()
    ts = train_timesteps(gen.schedule(), 10, None)
    for t, x_t in zip(ts.tolist(), seen, strict=True):
        want = (1 - a[t]).sqrt() / (1 - a[int(ts[0])]).sqrt() * seen[0]
        assert (x_t - want).abs().max() < 1e-5
    assert torch.equal(x_0, torch.zeros_like(x_0))


@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large", "learned_range"])
def test_ddpm_last_step_adds_no_noise(variance: str) -> None:
    """The last step returns the posterior mean; with x_0 predicted exactly that is x_0.

    Trailing spacing ends above t = 0, where diffusers would add noise once more.
    """
    gen = toy(
        learned=variance == "learned_range",
        constant_x0=0.25,
        prediction_type="sample",
        variance_type=variance,
        timestep_spacing="trailing",
    )
    x_0, seen = run_zoo(DDPMSampler(), gen, 10, DDPMOptions())
    assert torch.equal(x_0, torch.full_like(x_0, 0.25))
    assert not torch.equal(seen[-1], torch.full_like(x_0, 0.25))  # the step before was noisy


def test_ddim_at_eta_one_is_the_ddpm_step() -> None:
    """eta = 1 gives sigma^2 = beta tilde, and DDIM's mean equals DDPM's posterior mean.

    Both draw x_T and then one noise per step from the same streams, so the two samplers
    agree up to float32 rounding of two algebraically equal formulas (measured 3.6e-7).
    """
    gen = toy()
    ddim, _ = run_zoo(DDIMSampler(), gen, 20, DDIMOptions(eta=1.0))
    ddpm, _ = run_zoo(DDPMSampler(), gen, 20, DDPMOptions(variance_type="fixed_small"))
    assert (ddim - ddpm).abs().max() < 1e-4
    eta0, _ = run_zoo(DDIMSampler(), gen, 20, DDIMOptions(eta=0.0))
    assert (ddim - eta0).abs().max() > 0.1


@pytest.mark.parametrize(
    ("sampler", "opts"),
    [
        (DDPMSampler(), DDPMOptions(variance_type="learned_range")),
        (DDIMSampler(), DDIMOptions(eta=0.5)),
        (DDIMSampler(), DDIMOptions(eta=0.0, timestep_spacing="trailing")),
    ],
)
def test_image_k_of_a_batch_equals_it_drawn_alone(sampler: DiffusionSampler, opts: Options) -> None:
    """Image k depends on its own seed only.

    Its noise comes from its own stream, so only the network's batched forward could differ
    from a forward of one image: a convolution may sum in another order for another batch
    size (a few float32 ulps, ~1e-7 at these magnitudes), and 20 contracting steps keep
    that far below 1e-5.
    """
    gen = toy(learned=True, variance_type="learned_range")
    batch = sampler.sample(gen, Draw(seeds=SEEDS, sampler_options=opts, steps=20, batch_size=3))
    assert batch.shape == (3, *SHAPE)
    for k, seed in enumerate(SEEDS):
        alone = sampler.sample(gen, Draw(seeds=(seed,), sampler_options=opts, steps=20))
        assert (batch[k] - alone[0]).abs().max() < 1e-5
    assert (batch[0] - batch[1]).abs().max() > 0.01  # the seeds do change the image


@pytest.mark.parametrize(
    ("cls", "values", "message"),
    [
        (DDIMOptions, {"eta": 1.5}, r"^invalid option --eta: .*1\.5"),
        (DDIMOptions, {"eta": -0.1}, r"^invalid option --eta: "),
        (DDIMOptions, {"timestep_spacing": "middle"}, r"^invalid option --timestep-spacing: "),
        (DDPMOptions, {"variance_type": "learned"}, r"^invalid option --variance-type: "),
        (DDPMOptions, {"eta": 0.5}, r"^--eta does not apply"),
    ],
)
def test_bad_option_values_are_one_line_request_errors(
    cls: type[Options], values: dict, message: str
) -> None:
    with pytest.raises(RequestError, match=message) as err:
        split_options(values, {"family": NoOptions, "sampler": cls}, "toy")
    assert "\n" not in str(err.value)


def test_learned_range_needs_variance_channels() -> None:
    gen = toy(learned=False)
    draw = Draw(seeds=SEEDS, sampler_options=DDPMOptions(variance_type="learned_range"), steps=3)
    with pytest.raises(RequestError, match="learned_range needs.*--variance-type fixed_small"):
        DDPMSampler().sample(gen, draw)
    # the model's schedule default works, and so does a Draw without sampler options
    assert DDPMSampler().sample(gen, Draw(seeds=SEEDS, steps=3)).shape == (3, *SHAPE)
    with pytest.raises(
        RequestError, match="ddim sampler got DDPMOptions; it needs its own options .DDIMOptions."
    ):
        DDIMSampler().sample(gen, Draw(seeds=SEEDS, sampler_options=DDPMOptions(), steps=3))


def test_both_samplers_are_registered_with_their_options() -> None:
    from zoo.registry.discovery import get_registry, load_object
    from zoo.registry.options import check_options_class

    reg = get_registry()
    for name, cls in (("ddpm", DDPMSampler), ("ddim", DDIMSampler)):
        spec = reg.samplers[name]
        assert spec.process == "diffusion" and set(spec.takes) == {"steps", "guidance"}
        assert load_object(spec.sampler) is cls and cls.name == name
        assert load_object(spec.options) is check_options_class(cls.options_class)


@pytest.mark.parametrize("sampler", [DDPMSampler(), DDIMSampler()], ids=["ddpm", "ddim"])
def test_clip_sample_option_overrides_the_schedule(sampler: DiffusionSampler) -> None:
    """--clip-sample / --no-clip-sample draw as a schedule with clip_sample set so would."""
    options = DDPMOptions if isinstance(sampler, DDPMSampler) else DDIMOptions
    unclipped, clipped = toy(clip_sample=False), toy(clip_sample=True)
    asked = run_zoo(sampler, unclipped, 10, options(clip_sample=True))[0]
    by_schedule = run_zoo(sampler, clipped, 10, options())[0]
    plain = run_zoo(sampler, unclipped, 10, options())[0]
    assert torch.equal(asked, by_schedule)
    assert not torch.equal(asked, plain)  # the toy's x_0 leaves [-1, 1], so clamping shows
    assert torch.equal(run_zoo(sampler, clipped, 10, options(clip_sample=False))[0], plain)
