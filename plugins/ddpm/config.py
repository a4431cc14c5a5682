"""DDPM configuration: the U-Net, the noise schedule, and the training recipe's settings."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from zoo.plugins.nn.unet_config import UNetShapeConfig
from zoo.registry.diffusion import NoiseSchedule
from zoo.registry.options import Options


class DDPMOptions(Options):
    """Sampling options of a ddpm model: classifier and CLIP guidance."""

    classifier_scale: float = Field(
        default=0.0,
        ge=0,
        le=1000,
        description=(
            "classifier guidance scale s: steer each step along s * grad log p(label | x_t) "
            "of the card's noise-aware classifier (0: off; combine with --guidance 0 for "
            "the unconditional model)"
        ),
    )
    clip_scale: float = Field(
        default=0.0,
        ge=0,
        le=1000,
        description=(
            "CLIP guidance scale s: steer each step along s * grad of the card's noise-aware "
            "CLIP's similarity of x_t with --prompt (0: off; needs --prompt; combine with "
            "--guidance 0 to steer the unconditional model)"
        ),
    )


class DDPMConfig(UNetShapeConfig):
    """A pixel diffusion model. The field defaults are the shipped ddpm-digits."""

    num_classes: int = Field(
        default=10, ge=0, le=10_000, description="class labels (0: an unconditional model)"
    )
    dropout: float = Field(default=0.0, ge=0, lt=1, description="dropout inside ResBlocks")
    schedule: NoiseSchedule = Field(
        default_factory=lambda: NoiseSchedule(beta_schedule="cosine"),
        description="the forward process (T, betas, prediction type, variance type)",
    )
    label_dropout: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="probability a training label is replaced by the null class (for guidance)",
    )
    guidance: float | None = Field(
        default=2.0, ge=0, le=100, description="default classifier-free guidance scale"
    )
    sampling_steps: int = Field(default=50, ge=1, le=10_000, description="default sampler steps")
    hybrid_lambda: float = Field(
        default=0.001,
        ge=0,
        le=1,
        description="weight of L_vlb in the hybrid loss (learned variance)",
    )
    lr: float = Field(default=1e-3, gt=0, le=1, description="AdamW learning rate")
    weight_decay: float = Field(default=0.0, ge=0, le=1, description="AdamW weight decay")
    warmup_steps: int = Field(default=200, ge=0, description="linear LR warm-up")
    ema_decay: float = Field(default=0.999, ge=0, lt=1, description="EMA decay (warmed up)")
    timestep_sampling: Literal["uniform", "importance"] = Field(
        default="uniform",
        description="how training draws t: uniform, or importance-sampled by each t's recent "
        "losses with the loss reweighted (improved DDPM)",
    )
    batch_size: int = Field(default=64, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=6000, ge=1, description="training steps")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 8,
            "base_channels": 8,
            "channel_mults": (1, 2),
            "attention_resolutions": (4,),
            "num_classes": 10,
            "schedule": {"num_train_timesteps": 20, "beta_schedule": "linear"},
            "sampling_steps": 4,
            "batch_size": 4,
            "steps": 3,
            "warmup_steps": 0,
        },
        "default": {},
        "scenes": {
            "image_size": 32,
            "channels": 3,
            "num_classes": 24,
            "base_channels": 32,
            "channel_mults": (1, 2, 2),
            "schedule": {"beta_schedule": "cosine", "variance_type": "learned_range"},
            "guidance": 3.0,
            "batch_size": 32,
        },
    }
