"""DDPM configuration: the U-Net, the noise schedule, and the training recipe's settings."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from zoo.registry.contracts import FamilyConfig
from zoo.registry.diffusion import NoiseSchedule


class DDPMConfig(FamilyConfig):
    """A pixel diffusion model. The field defaults are the shipped ddpm-digits."""

    image_size: int = Field(default=16, ge=8, le=256, description="image side, a power of two")
    channels: int = Field(default=1, ge=1, le=4, description="image channels (1 grey, 3 RGB)")
    num_classes: int = Field(
        default=10, ge=0, le=10_000, description="class labels (0: an unconditional model)"
    )
    base_channels: int = Field(default=32, ge=4, le=512, description="U-Net width at full size")
    channel_mults: tuple[int, ...] = Field(
        default=(1, 2, 2), min_length=1, max_length=6, description="width multiple per level"
    )
    num_res_blocks: int = Field(default=1, ge=1, le=4, description="ResBlocks per level")
    attention_resolutions: tuple[int, ...] = Field(
        default=(), description="image sides at which self-attention follows each ResBlock"
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

    @field_validator("image_size")
    @classmethod
    def _power_of_two(cls, v: int) -> int:
        if v & (v - 1):
            raise ValueError(f"image_size must be a power of two (8, 16, 32, ...), got {v}")
        return v

    @model_validator(mode="after")
    def _levels(self) -> DDPMConfig:
        if self.image_size >> (len(self.channel_mults) - 1) < 2:
            raise ValueError(
                f"{len(self.channel_mults)} levels halve a {self.image_size}-pixel image too often"
            )
        return self
