"""The samplers' options models, apart from their torch code so `zoo sample --help` stays light."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zoo.registry.diffusion import Spacing, Variance
from zoo.registry.options import Options


class AutoregressiveOptions(Options):
    """Token sampling: temperature, top-k, top-p (nucleus), and reranking by the model's score."""

    temperature: float | None = Field(
        default=None, gt=0, le=10, description="softmax temperature of token sampling (default 1)"
    )
    top_k: int | None = Field(
        default=None, ge=1, le=1_000_000, description="sample among the k most likely tokens"
    )
    top_p: float | None = Field(
        default=None, gt=0, le=1, description="sample among the most likely tokens holding mass p"
    )
    rerank: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="draw N candidates per image and keep the best by the model's score",
    )


class DiffusionOptions(Options):
    """What every built-in diffusion sampler takes: the precision of the denoiser's passes."""

    always_recorded = ("autocast",)

    autocast: Literal["bfloat16", "none"] = Field(
        default="bfloat16",
        description=(
            "compute precision of the denoiser's forward passes when its weights are float32: "
            "bfloat16 autocast (the default: about 2x faster on a CPU, FID within seed noise "
            "of float32 on ddpm-digits) or none (float32 throughout)"
        ),
    )


class DPMOptions(DiffusionOptions):
    """DPM-Solver++ 2M: where the steps fall (timestep spacing, or Karras et al.'s sigmas)."""

    karras: bool = Field(
        default=False,
        description=(
            "space the noise levels as Karras et al. 2022 do (rho 7), denser near the data, "
            "instead of by timestep"
        ),
    )
    timestep_spacing: Spacing | None = Field(
        default=None,
        description="how the steps pick training timesteps (without --karras): "
        "linspace, leading or trailing (default: the model's schedule)",
    )


class EulerOptions(DiffusionOptions):
    """Euler and ancestral Euler (Karras et al. 2022): how the steps pick training timesteps."""

    timestep_spacing: Spacing | None = Field(
        default=None,
        description="how the steps pick training timesteps: linspace, leading or trailing "
        "(default: the model's schedule)",
    )


class ClippingOptions(DiffusionOptions):
    """The samplers that form x_0 at each step (ddpm, ddim) and may clamp it."""

    clip_sample: bool | None = Field(
        default=None,
        description=(
            "clamp each step's predicted x_0 to the schedule's range (default: the model's "
            "schedule); steadies ancestral steps near t = T-1 of a cosine schedule, where "
            "x_0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar) divides by almost 0"
        ),
    )


class DDPMOptions(ClippingOptions):
    """Ancestral sampling: the reverse-process variance and the timesteps it visits."""

    variance_type: Variance | None = Field(
        default=None,
        description=(
            "reverse-process variance: fixed_small (beta tilde), fixed_large (beta) or "
            "learned_range (the network's extra channels; default: the model's schedule)"
        ),
    )
    timestep_spacing: Spacing | None = Field(
        default=None,
        description=(
            "training timesteps visited with fewer steps: leading, trailing or linspace "
            "(default: the model's schedule)"
        ),
    )


class DDIMOptions(ClippingOptions):
    """DDIM: how stochastic each step is, and the timesteps it visits."""

    eta: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="noise of each step: 0 deterministic (DDIM), 1 the DDPM posterior's",
    )
    timestep_spacing: Spacing | None = Field(
        default=None,
        description=(
            "training timesteps visited: leading, trailing or linspace "
            "(default: the model's schedule)"
        ),
    )
