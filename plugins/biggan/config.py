"""BigGAN configuration: network widths and the training recipe's settings."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from zoo.plugins.nn.gan_config import ConvGANConfig


class BigGANConfig(ConvGANConfig):
    """A class-conditional BigGAN. The field defaults are the shipped model."""

    num_classes: int = Field(default=10, ge=2, le=10_000, description="number of class labels")
    shared_dim: int = Field(
        default=32, ge=1, le=1024, description="length of the shared class embedding"
    )
    latent_dim: int = Field(
        default=60,
        ge=2,
        le=1024,
        description="length of z, split in equal chunks: one for the 4x4 input, one per block",
    )
    g_channels: int = Field(default=16, ge=1, le=1024, description="generator width unit")
    d_channels: int = Field(default=16, ge=1, le=1024, description="discriminator width unit")
    g_lr: float = Field(default=1e-4, gt=0, le=1, description="generator Adam learning rate")
    lr: float = Field(default=4e-4, gt=0, le=1, description="discriminator Adam learning rate")
    betas: tuple[float, float] = Field(default=(0.0, 0.999), description="Adam betas")
    d_steps: int = Field(default=2, ge=1, le=10, description="D updates per G update")
    ortho_weight: float = Field(
        default=1e-4, ge=0, le=1, description="beta of the orthogonal regulariser on G (0: off)"
    )
    steps: int = Field(default=6000, ge=1, description="training steps (one D update each)")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 8,
            "latent_dim": 8,
            "shared_dim": 4,
            "g_channels": 4,
            "d_channels": 4,
            "batch_size": 8,
            "steps": 4,
        },
        "default": {},
    }
