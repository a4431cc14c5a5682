"""Conditional GAN configuration: the network shape and the training recipe's settings."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from zoo.plugins.nn.gan_config import ConvGANConfig


class CGANConfig(ConvGANConfig):
    """A class-conditional convolutional GAN. The field defaults are the shipped model."""

    num_classes: int = Field(default=10, ge=2, le=10_000, description="number of class labels")
    embed_dim: int = Field(
        default=16, ge=1, le=1024, description="length of the label embedding appended to z"
    )

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 8,
            "latent_dim": 8,
            "embed_dim": 4,
            "g_channels": 4,
            "d_channels": 4,
            "batch_size": 8,
            "steps": 3,
        },
        "default": {},
    }
