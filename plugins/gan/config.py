"""GAN (MLP) configuration: the network shape and the training recipe's settings."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from zoo.registry.contracts import FamilyConfig


class GANConfig(FamilyConfig):
    """An MLP GAN. The field defaults are the shipped model (preset "default")."""

    image_size: int = Field(default=16, ge=4, le=64, description="image side in pixels")
    channels: int = Field(default=1, ge=1, le=4, description="image channels (1 grey, 3 RGB)")
    latent_dim: int = Field(default=64, ge=1, le=1024, description="length of the latent z")
    g_hidden: tuple[int, ...] = Field(
        default=(256, 512), min_length=1, description="widths of the generator's hidden layers"
    )
    d_hidden: tuple[int, ...] = Field(
        default=(512, 256),
        min_length=1,
        description="widths of the discriminator's hidden layers",
    )
    g_batchnorm: bool = Field(
        default=True,
        description="batchnorm on the generator's hidden layers (not in the paper; curbs collapse)",
    )
    d_dropout: float = Field(
        default=0.3, ge=0, lt=1, description="dropout on the discriminator's hidden layers"
    )
    lr: float = Field(default=2e-4, gt=0, le=1, description="Adam learning rate (G and D)")
    betas: tuple[float, float] = Field(default=(0.5, 0.999), description="Adam betas (G and D)")
    batch_size: int = Field(default=64, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=5000, ge=1, description="training steps (one D + one G update)")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 8,
            "latent_dim": 8,
            "g_hidden": (16,),
            "d_hidden": (16,),
            "batch_size": 8,
            "steps": 3,
        },
        "default": {},
    }

    @field_validator("g_hidden", "d_hidden")
    @classmethod
    def _widths(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not all(1 <= w <= 8192 for w in v):
            raise ValueError(f"hidden widths must lie in 1..8192, got {v}")
        return v

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in v):
            raise ValueError(f"Adam betas must lie in [0, 1), got {v}")
        return v
