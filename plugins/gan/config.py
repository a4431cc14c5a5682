"""GAN (MLP) configuration: the network shape and the training recipe's settings."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from zoo.plugins.nn.gan_config import AdversarialConfig


class GANConfig(AdversarialConfig):
    """An MLP GAN. The field defaults are the shipped model (preset "default")."""

    image_size: int = Field(default=16, ge=4, le=64, description="image side in pixels")
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
