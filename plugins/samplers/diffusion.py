"""What every diffusion sampler shares: timestep spacing, per-image noise streams, the
guided denoiser, and the loop around a sampler's own update rule.

Each sampler file (ddpm.py, ddim.py, dpm.py, euler.py) subclasses ``DiffusionSampler`` and
writes ``loop``: the update rule from x_T to x_0 for one batch. The randomness of image k
comes only from ``rngs[k]``, a torch.Generator seeded with the image's own seed: its first
draw is x_T, later draws are the steps' noise, so an image never depends on its batch
(up to the rounding of batched convolutions, checked by zoo.testing per family).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from zoo.plugins.samplers.options import DiffusionOptions
from zoo.registry.contracts import Draw, Sampler
from zoo.registry.diffusion import DiffusionGenerator, GradientGuide, NoiseSchedule, Spacing
from zoo.registry.errors import RequestError
from zoo.registry.options import NoOptions


def train_timesteps(schedule: NoiseSchedule, steps: int, spacing: Spacing | None) -> np.ndarray:
    """The ``steps`` training timesteps a sampler visits, descending, int64.

    leading: 0, T/n, 2T/n, ... (+ steps_offset); trailing: T-1, T-1-T/n, ...;
    linspace: evenly from T-1 down to 0, rounded.
    """
    n_train = schedule.num_train_timesteps
    if not 1 <= steps <= n_train:
        raise RequestError(f"--steps must be between 1 and {n_train} for this model, got {steps}")
    spacing = spacing or schedule.timestep_spacing
    if spacing == "linspace":
        t = np.linspace(0, n_train - 1, steps).round()[::-1].copy()
    elif spacing == "leading":
        ratio = n_train // steps
        t = (np.arange(0, steps) * ratio).round()[::-1].copy() + schedule.steps_offset
    else:  # trailing
        t = np.round(np.arange(n_train, 0, -n_train / steps)) - 1
    return t.astype(np.int64)


def randn(rngs: Sequence[torch.Generator], shape: Sequence[int]) -> torch.Tensor:
    """(len(rngs), *shape) float32 on the CPU: one standard normal draw per image stream."""
    return torch.cat([torch.randn((1, *shape), generator=g) for g in rngs])


def split_output(output: torch.Tensor, channels: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(prediction, variance values or None) of a network output with C or 2C channels."""
    if output.shape[1] == 2 * channels:
        return output[:, :channels], output[:, channels:]
    return output, None


def x0_and_eps(
    output: torch.Tensor, x_t: torch.Tensor, alpha_bar: torch.Tensor | float, prediction: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_0, eps) implied by the network's prediction at x_t with alpha_bar_t."""
    a = torch.as_tensor(alpha_bar, dtype=x_t.dtype)
    sa, sb = a.sqrt(), (1 - a).sqrt()
    if prediction == "epsilon":
        return (x_t - sb * output) / sa, output
    if prediction == "sample":
        return output, (x_t - sa * output) / sb
    # v = sqrt(a) eps - sqrt(1 - a) x_0 (Salimans & Ho 2022)
    return sa * x_t - sb * output, sa * output + sb * x_t


def _cat(a: Any, b: Any) -> Any:
    if isinstance(a, torch.Tensor):
        return torch.cat([a, b])
    if isinstance(a, list):
        return a + b
    if a != b:
        raise RequestError("the null condition differs from the condition in a shared value")
    return a


def alpha_bar_at(alphas_cumprod: torch.Tensor, t: float) -> torch.Tensor:
    """alpha_bar at a possibly fractional training timestep (linear between neighbours)."""
    lo = min(max(int(np.floor(t)), 0), len(alphas_cumprod) - 1)
    hi = min(lo + 1, len(alphas_cumprod) - 1)
    frac = min(max(t - lo, 0.0), 1.0)
    return alphas_cumprod[lo] * (1 - frac) + alphas_cumprod[hi] * frac


class GuidedDenoiser:
    """The generator's output at (x_t, t), with classifier-free guidance when a scale is set,
    and any gradient guides (classifier or CLIP guidance) applied on top.

    With scale s: out = out(null) + s * (out(cond) - out(null)) on the prediction channels,
    both branches in one batched forward (Ho & Salimans 2022); learned-variance channels
    come from the conditional branch. s = 1 is the conditional model alone, s = 0 the
    unconditional one (one forward of the null branch).

    Gradient guides shift the implied noise, eps <- eps - scale sqrt(1 - alpha_bar_t) grad,
    and the output is re-expressed in the model's prediction type (eps, x_0 or v), so every
    sampler steers the same way (see ``GradientGuide``).
    """

    def __init__(
        self,
        generator: DiffusionGenerator,
        encoded: dict[str, Any],
        null: dict[str, Any] | None,
        scale: float | None,
        channels: int,
        dtype: torch.dtype,
        guides: Sequence[GradientGuide] = (),
        schedule: NoiseSchedule | None = None,
        autocast: torch.dtype | None = None,
        tick: Callable[[], None] | None = None,
    ) -> None:
        self.generator = generator
        self.tick = tick
        # x_0 of an input image to start from and the share of steps to run (img2img), or
        # None: start from noise
        begin = generator.start_sample(encoded)
        self.start, self.strength = begin if begin is not None else (None, 1.0)
        self.region = generator.kept_region(encoded)
        self.noise0: torch.Tensor | None = None  # the loop's x_T draw, which keep() reuses
        self.autocast = autocast
        self.encoded = encoded
        self.null = null
        self.scale = scale
        self.channels = channels
        self.dtype = dtype
        self.guides = [g for g in guides if g.scale != 0]
        self.schedule = schedule
        if self.guides and schedule is None:
            raise ValueError("gradient guides need the model's noise schedule")
        self.alphas_cumprod = schedule.alphas_cumprod() if schedule is not None else None
        self.only_null = null is not None and scale == 0.0
        self.both = (
            None
            if null is None or scale is None or scale in (0.0, 1.0)
            else {k: _cat(null[k], encoded[k]) for k in encoded}
        )

    def keep(
        self, x: torch.Tensor, a: torch.Tensor | float, b: torch.Tensor | float
    ) -> torch.Tensor:
        """x with the kept region (see ``kept_region``) replaced by a x_0 + b noise0, where
        (a, b) is the noise level the step reached: (sqrt(alpha_bar), sqrt(1 - alpha_bar)) in
        the VP parameterisation, (1, sigma) in the sigma one, (1, 0) after the last step."""
        if self.region is None:
            return x
        if self.noise0 is None:
            raise RuntimeError("the sampler must set noise0 before it keeps a region")
        x0, mask = (r.to(device=x.device, dtype=x.dtype) for r in self.region)
        known = a * x0 + b * self.noise0.to(x)
        return (1 - mask) * known + mask * x

    def __call__(self, x_t: torch.Tensor, t: float | int | torch.Tensor) -> torch.Tensor:
        """Network output (B, C or 2C, H, W) float32 for x_t (B, C, H, W) at timestep t."""
        out = self._forward(x_t, t)
        if self.guides:
            out = self._steer(out, x_t, float(t))
        if self.tick is not None:
            self.tick()
        return out

    def _forward(self, x_t: torch.Tensor, t: float | int | torch.Tensor) -> torch.Tensor:
        if self.autocast is None:
            return self._branches(x_t, t)
        with torch.autocast(x_t.device.type, dtype=self.autocast):
            return self._branches(x_t, t)

    def _branches(self, x_t: torch.Tensor, t: float | int | torch.Tensor) -> torch.Tensor:
        b = x_t.shape[0]
        x = x_t.to(self.dtype)
        if self.both is None:
            tt = torch.full((b,), float(t), device=x.device)
            encoded = self.null if self.only_null else self.encoded
            return self.generator.denoise(x, tt, encoded).float()  # type: ignore[arg-type]
        tt = torch.full((2 * b,), float(t), device=x.device)
        out = self.generator.denoise(torch.cat([x, x]), tt, self.both).float()
        uncond, cond = out[:b], out[b:]
        guided = (
            uncond[:, : self.channels]
            + self.scale
            * (  # type: ignore[operator]
                cond[:, : self.channels] - uncond[:, : self.channels]
            )
        )
        return torch.cat([guided, cond[:, self.channels :]], dim=1)

    def _steer(self, out: torch.Tensor, x_t: torch.Tensor, t: float) -> torch.Tensor:
        assert self.schedule is not None and self.alphas_cumprod is not None
        c = self.channels
        a = alpha_bar_at(self.alphas_cumprod, t).to(x_t.device)
        sa, sb = a.sqrt(), (1 - a).sqrt()
        x = x_t.float()
        prediction = self.schedule.prediction_type
        x0, eps = x0_and_eps(out[:, :c], x, a, prediction)
        tt = torch.full((x.shape[0],), t, device=x.device)
        for guide in self.guides:
            eps = eps - guide.scale * sb * score_gradient(guide, x, tt)
        x0 = (x - sb * eps) / sa
        if prediction == "epsilon":
            pred = eps
        elif prediction == "sample":
            pred = x0
        else:
            pred = sa * eps - sb * x0
        return torch.cat([pred, out[:, c:]], dim=1)


def score_gradient(guide: GradientGuide, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """d/dx_t of the sum of the guide's per-image scores (so each image gets its own)."""
    with torch.inference_mode(False), torch.enable_grad():
        x = x_t.detach().clone().requires_grad_(True)
        score = guide.score(x, t.clone())
        if score.shape != (x.shape[0],):
            raise ValueError(f"guide '{guide.name}' returned {tuple(score.shape)} scores")
        (grad,) = torch.autograd.grad(score.sum(), x)
    return grad.detach().float()


class DiffusionSampler(Sampler[DiffusionGenerator]):
    """The loop every diffusion sampler shares; subclasses write ``loop``."""

    process = "diffusion"
    generator_class = DiffusionGenerator

    @torch.inference_mode()
    def sample(self, generator: DiffusionGenerator, draw: Draw) -> torch.Tensor:
        if not isinstance(generator, DiffusionGenerator):
            raise RequestError(f"the {self.name} sampler cannot drive a {generator.process} model")
        schedule = generator.schedule()
        steps = draw.steps or generator.default_steps()
        scale = (
            draw.guidance
            if draw.guidance is not None
            else generator.default_guidance(draw.conditions)
        )
        shape = generator.sample_shape(draw.conditions)
        dtype = next(next(iter(generator.networks().values())).parameters()).dtype
        autocast = self.autocast_dtype(draw, dtype)
        chunks = -(-len(draw.seeds) // draw.batch_size)
        tick = None  # made with the first chunk, which knows how many steps an img2img skips
        out = []
        for chunk in draw.batches():
            encoded = _to(generator.encode_conditions(draw.conditions, draw.options, chunk), draw)
            null = generator.null_conditions(encoded) if scale is not None else None
            if draw.guidance is not None and null is None:
                raise RequestError(
                    "--guidance needs a model trained with a null condition; this one has none"
                )
            guides = generator.gradient_guides(encoded, draw.options)
            model = GuidedDenoiser(
                generator, encoded, null, scale, shape[0], dtype, guides, schedule, autocast
            )
            if tick is None:  # one network evaluation per step run
                tick = draw.ticker((steps - first_step(model, steps)) * chunks)
            model.tick = tick
            rngs = [torch.Generator(device="cpu").manual_seed(s) for s in chunk]
            x_0 = self.loop(model, schedule, steps, shape, rngs, draw)
            out.append(generator.decode(x_0.to(dtype)).float().cpu())
        return torch.cat(out).clamp(0, 1)

    def autocast_dtype(self, draw: Draw, weights: torch.dtype) -> torch.dtype | None:
        """The dtype the denoiser's passes autocast to: bfloat16 when the sampler's options
        ask for it (their default) and the weights are float32; else None. The guides and
        the decoder keep float32."""
        opts = self.own_options(draw)
        if not isinstance(opts, DiffusionOptions) or opts.autocast == "none":
            return None
        if weights != torch.float32:
            return None
        return torch.bfloat16

    def own_options(self, draw: Draw) -> Any:
        """The draw's sampler options as this sampler's ``options_class`` (its defaults when
        none were given); options of another sampler are a one-line error."""
        opts = draw.sampler_options
        if isinstance(opts, NoOptions) and self.options_class is not NoOptions:
            return self.options_class()
        if not isinstance(opts, self.options_class):
            raise RequestError(
                f"the {self.name} sampler got {type(opts).__name__}; it needs its own options "
                f"({self.options_class.__name__})"
            )
        return opts

    @abstractmethod
    def loop(
        self,
        model: GuidedDenoiser,
        schedule: NoiseSchedule,
        steps: int,
        shape: tuple[int, int, int],
        rngs: list[torch.Generator],
        draw: Draw,
    ) -> torch.Tensor:
        """Draw x_T from ``rngs`` and step it to x_0 (B, C, H, W) float32 on ``draw.device``.

        Noise for image k comes from ``rngs[k]`` only, drawn on the CPU (``randn``).
        """


def first_step(model: GuidedDenoiser, steps: int) -> int:
    """Index of the first of ``steps`` steps to run: 0, or for an img2img draw (the generator
    gives a start sample) the step from which ``int(steps * strength)`` steps remain, the
    input image noised to that step's level (SDEdit, Meng et al. 2021; diffusers counts the
    same way)."""
    if model.start is None:
        return 0
    strength = model.strength
    run = min(int(steps * strength), steps)
    if run == 0:
        raise RequestError(
            f"--strength {strength} of {steps} steps runs no step; raise --strength or --steps"
        )
    return steps - run


def start_vp(model: GuidedDenoiser, x: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) noise from the start sample, where
    ``x`` holds the noise; ``x`` itself when there is no start sample."""
    if model.start is None:
        return x
    start = model.start.to(device=x.device, dtype=x.dtype)
    return alpha_bar.sqrt() * start + (1 - alpha_bar).sqrt() * x


def _to(encoded: dict[str, Any], draw: Draw) -> dict[str, Any]:
    return {k: v.to(draw.device) if isinstance(v, torch.Tensor) else v for k, v in encoded.items()}
