"""StackGAN configuration: text conditioning, the two stages' widths, training phases."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from zoo.plugins.nn.gan_config import AdversarialConfig
from zoo.registry.options import TruncationOptions


class StackGANConfig(AdversarialConfig):
    """Caption -> Stage-I (image_size / 2) -> Stage-II (image_size). Defaults are the shipped model."""

    image_size: int = Field(
        default=32, ge=16, le=256, description="Stage-II image side (power of two)"
    )
    channels: int = Field(default=3, ge=1, le=4, description="image channels")
    text_encoder: str = Field(
        default="clip-scenes-bpe",
        description="model id of the frozen text encoder (a zoo CLIP; one with a BPE reads any "
        "text)",
    )
    text_dim: int = Field(default=128, ge=1, le=4096, description="length of its text embedding")
    c_dim: int = Field(default=32, ge=1, le=1024, description="conditioning augmentation output")
    latent_dim: int = Field(default=32, ge=1, le=1024, description="length of z (Stage-I)")
    g_channels: int = Field(default=32, ge=1, le=512, description="generator width unit")
    d_channels: int = Field(default=32, ge=1, le=512, description="discriminator width unit")
    kl_weight: float = Field(
        default=0.005,
        ge=0,
        le=100,
        description="weight of the CA KL term (summed over c_dim); the paper's 1 mutes the text here",
    )
    stage1_fraction: float = Field(
        default=0.5, gt=0, lt=1, description="share of steps training Stage-I (then Stage-II)"
    )
    batch_size: int = Field(default=32, ge=2, le=4096, description="training batch size")
    steps: int = Field(default=6000, ge=2, description="training steps (Stage-I, then Stage-II)")

    @field_validator("image_size")
    @classmethod
    def _power_of_two(cls, v: int) -> int:
        if v & (v - 1):
            raise ValueError(f"image_size must be a power of two (16, 32, 64, ...), got {v}")
        return v

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 16,
            "c_dim": 4,
            "latent_dim": 4,
            "g_channels": 4,
            "d_channels": 4,
            "batch_size": 4,
            "steps": 2,
        },
        "default": {},
    }


class StackGANOptions(TruncationOptions):
    """StackGAN's options: truncation of z, and which stage to return."""

    stage: int | None = Field(
        default=None,
        ge=1,
        le=2,
        description="1 returns Stage-I's 16x16 image; 2 (default) Stage-II's",
    )
