"""Diffusion: the noise schedule as data, and the denoiser contract every diffusion sampler drives.

Notation (Ho et al. 2020; Nichol & Dhariwal 2021): beta_t the noise added at step t,
alpha_t = 1 - beta_t, alpha_bar_t = prod_{s<=t} alpha_s, and
x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps with eps ~ N(0, I).

The schedule belongs to the model (its config), not to the sampler: a sampler reads it.
It is also readable from a diffusers ``scheduler_config.json``, whose field names it keeps.
Torch is imported only inside methods.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from zoo.registry.contracts import Conditions, Generator
from zoo.registry.errors import CardError
from zoo.registry.options import Options

if TYPE_CHECKING:
    import torch

    from zoo.registry.schemas import Process

BetaSchedule = Literal["linear", "scaled_linear", "cosine"]
Prediction = Literal["epsilon", "v_prediction", "sample"]
Variance = Literal["fixed_small", "fixed_large", "learned_range"]
Spacing = Literal["leading", "trailing", "linspace"]

# diffusers' names for the same things
_DIFFUSERS_BETAS = {"squaredcos_cap_v2": "cosine"}


class NoiseSchedule(BaseModel):
    """The forward process a model was trained with (saved in its config.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    num_train_timesteps: int = Field(default=1000, ge=2, le=100_000, description="T")
    beta_schedule: BetaSchedule = Field(
        default="linear",
        description=(
            "linear (DDPM), scaled_linear (latent diffusion: linear in sqrt(beta)) or cosine "
            "(improved DDPM: alpha_bar(t) = cos^2((t/T + 0.008) / 1.008 * pi/2))"
        ),
    )
    beta_start: float = Field(default=1e-4, gt=0, lt=1, description="beta_1 (linear schedules)")
    beta_end: float = Field(default=0.02, gt=0, lt=1, description="beta_T (linear schedules)")
    prediction_type: Prediction = Field(
        default="epsilon", description="what the network predicts: eps, v or x_0 ('sample')"
    )
    variance_type: Variance = Field(
        default="fixed_small",
        description=(
            "reverse-process variance: fixed_small (beta tilde), fixed_large (beta) or "
            "learned_range (the network's extra channels interpolate their logs)"
        ),
    )
    clip_sample: bool = Field(default=False, description="clamp predicted x_0 to the range")
    clip_sample_range: float = Field(default=1.0, gt=0, description="the clamp's bound")
    timestep_spacing: Spacing = Field(
        default="leading", description="how sampling steps pick training timesteps by default"
    )
    steps_offset: int = Field(default=0, ge=0, le=10, description="added to leading timesteps")
    set_alpha_to_one: bool = Field(
        default=True,
        description=(
            "DDIM's last step lands on alpha_bar = 1 (True) or on alpha_bar of timestep 0 "
            "(False, as Stable Diffusion's scheduler configs say)"
        ),
    )

    @classmethod
    def from_diffusers(cls, config: dict[str, Any]) -> NoiseSchedule:
        """Read a diffusers ``scheduler_config.json`` (unknown keys are ignored).

        Raises:
            CardError: a beta schedule or trained betas the zoo cannot use.
        """
        if config.get("trained_betas") is not None:
            raise CardError("scheduler config gives trained_betas; the zoo reads named schedules")
        out: dict[str, Any] = {}
        for key in cls.model_fields:
            if key in config and config[key] is not None:
                out[key] = config[key]
        betas = out.get("beta_schedule")
        if betas is not None:
            out["beta_schedule"] = _DIFFUSERS_BETAS.get(betas, betas)
            if out["beta_schedule"] not in ("linear", "scaled_linear", "cosine"):
                raise CardError(f"scheduler config: beta_schedule '{betas}' is not supported")
        variance = out.get("variance_type")
        if variance is not None and variance not in ("fixed_small", "fixed_large", "learned_range"):
            out.pop("variance_type")  # DDIM-style configs carry no usable variance type
        return cls(**out)

    def betas(self) -> torch.Tensor:
        """(T,) float32 betas."""
        import torch

        t = self.num_train_timesteps
        if self.beta_schedule == "linear":
            return torch.linspace(self.beta_start, self.beta_end, t, dtype=torch.float32)
        if self.beta_schedule == "scaled_linear":
            root = torch.linspace(self.beta_start**0.5, self.beta_end**0.5, t, dtype=torch.float32)
            return root**2

        def alpha_bar(u: float) -> float:
            return math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2

        betas = [min(1 - alpha_bar((i + 1) / t) / alpha_bar(i / t), 0.999) for i in range(t)]
        return torch.tensor(betas, dtype=torch.float32)

    def alphas_cumprod(self) -> torch.Tensor:
        """(T,) float32 alpha_bar_t."""
        import torch

        return torch.cumprod(1.0 - self.betas(), dim=0)


@dataclass(frozen=True)
class GradientGuide:
    """A term that steers sampling along the gradient of a score of the noisy sample.

    ``score(x_t, t)`` returns (B,) values to increase, computed on x_t (B, C, H, W) at
    timesteps t (B,), differentiable in x_t: log p(y | x_t) of a noise-aware classifier
    (classifier guidance, Dhariwal & Nichol 2021), or a noise-aware CLIP's image-text
    similarity (CLIP guidance, Nichol et al. 2021). Every diffusion sampler applies it in
    eps space: eps <- eps - scale sqrt(1 - alpha_bar_t) grad_x score (the score-function form
    of Dhariwal & Nichol's Algorithm 2, which turns a conditional score into a shifted eps
    and so works for ancestral and ODE samplers alike). Each image's gradient depends on
    that image alone.
    """

    name: str
    scale: float
    score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class NoiseAwareNetwork:
    """A network that reads noisy samples x_t of a schedule (a guide's model).

    Mixed into a family's network class (a classifier, a CLIP image tower) so that a
    diffusion family can check, without importing that family, that a component was trained
    on the same forward process as the model it guides.
    """

    @abstractmethod
    def noise_schedule(self) -> NoiseSchedule:
        """The forward process its training noised images with."""

    @abstractmethod
    def guide_score(self, x_t: torch.Tensor, t: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B,) score of x_t at t toward ``target`` (class labels, or text embeddings)."""


def check_guide_schedule(model: NoiseSchedule, guide: NoiseSchedule, role: str) -> None:
    """One line when a guide was trained on another forward process than the model."""
    import torch

    a, b = model.alphas_cumprod(), guide.alphas_cumprod()
    if a.shape != b.shape or not torch.allclose(a, b, atol=1e-6):
        raise CardError(
            f"the '{role}' component was trained on another noise schedule "
            f"({guide.beta_schedule}, T = {guide.num_train_timesteps}) than this model "
            f"({model.beta_schedule}, T = {model.num_train_timesteps}); point the card's "
            f"zoo.components.{role} at one trained with this model's schedule"
        )


def guide_text(clip: Any, prompt: str) -> torch.Tensor:
    """(1, D) float embedding of ``prompt`` by a model's ``clip`` guide, on the CPU.

    The guide reads the prompt with its own tokenizer, which may refuse words the model
    itself would read; its refusal then says that it is the guide's."""
    from zoo.registry.contracts import ReferenceNetwork
    from zoo.registry.errors import RequestError

    text = None
    if isinstance(clip, ReferenceNetwork):
        try:
            clip.check_prompt(prompt)
        except RequestError as err:
            raise RequestError(
                f"--clip-scale: the CLIP guide (the card's 'clip' component) cannot read "
                f"this prompt: {err}"
            ) from None
        text = clip.encode_text([prompt])
    if text is None:
        raise RequestError(
            f"the 'clip' component is a {type(clip).__name__}, which reads no text "
            "(train one with `zoo train noisy-clip`)"
        )
    return text.float().cpu()


class DiffusionGenerator(Generator):
    """A denoiser: given x_t, t and encoded conditions, predicts eps, v or x_0.

    The sampler owns the loop and the randomness; the generator says what it predicts
    (``schedule().prediction_type``), how conditions become tensors, what the null condition
    of classifier-free guidance is, and how the sample space maps to images (the identity up
    to scale in pixel space, an autoencoder for latent models).
    """

    process: ClassVar[Process] = "diffusion"

    def default_steps(self) -> int:
        """Sampling steps when the request gives none."""
        return 50

    @abstractmethod
    def schedule(self) -> NoiseSchedule:
        """The noise schedule the network was trained with."""

    def sample_shape(self, conditions: Conditions) -> tuple[int, int, int]:
        """(C, H, W) of x_t: the image shape in pixel space, the latent's for latent models."""
        return self.shape_for(conditions)

    def default_guidance(self, conditions: Conditions | None = None) -> float | None:
        """The guidance scale used when the request gives none; None: no guidance.

        ``conditions`` are the request's, when known: a model may choose another default
        for some of them (e.g. 0, the unconditional branch, when a prompt steers it
        through CLIP guidance instead of a label)."""
        return None

    def encode_conditions(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        """Per-image condition tensors (batch-first, one row per seed). Default: none."""
        return {}

    def null_conditions(self, encoded: dict[str, Any]) -> dict[str, Any] | None:
        """The conditions of the unconditional branch, same batch as ``encoded``.

        None (the default): the model has no null condition, and ``--guidance`` is refused.
        """
        return None

    def start_sample(self, encoded: dict[str, Any]) -> tuple[torch.Tensor, float] | None:
        """(x_0, strength) to start from instead of noise (img2img: the encoded input image,
        which every sampler noises to the level of the first of the last ``strength`` of its
        steps), or None (the default): draw from pure noise."""
        return None

    def kept_region(self, encoded: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(x_0, mask) for inpainting by blending: after every step the sampler replaces the
        region where mask (B, 1, H, W) is 0 by x_0 (B, C, H, W) noised to the level the step
        reached (with the draw's first noise), and by x_0 itself after the last step; the
        model repaints only where mask is 1 (Lugmayr et al. 2022's "replacement", diffusers'
        inpainting with an ordinary U-Net). None (the default): nothing is kept."""
        return None

    def gradient_guides(self, encoded: dict[str, Any], options: Options) -> list[GradientGuide]:
        """Score gradients to add to each step (classifier or CLIP guidance), from the
        request's options and ``encoded`` (the real conditions, never the null ones).
        Default: none."""
        return []

    @abstractmethod
    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, encoded: dict[str, Any]) -> torch.Tensor:
        """The network's output for x_t (B, C, H, W) at timesteps t (B,).

        Returns (B, C, H, W), or (B, 2C, H, W) with the variance interpolation values in the
        second half for ``variance_type == "learned_range"``. ``t`` may hold non-integer
        training timesteps (some samplers step between them).
        """

    def decode(self, x_0: torch.Tensor) -> torch.Tensor:
        """Samples (B, C, H, W) in [-1, 1] -> images in [0, 1] (pixel space: a rescale)."""
        return ((x_0 + 1) / 2).clamp(0, 1)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> samples x_0 (pixel space: a rescale to [-1, 1])."""
        return images * 2 - 1
