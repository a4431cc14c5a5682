"""CycleGAN configuration: generator and discriminator widths, loss weights, Adam settings."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from zoo.plugins.nn.gan_config import AdversarialConfig
from zoo.registry.options import Options


class CycleGANConfig(AdversarialConfig):
    """Domain A <-> domain B, both `channels`-channel images. Defaults are the shipped model."""

    image_size: int = Field(default=32, ge=8, le=512, description="training image side")
    channels: int = Field(default=3, ge=1, le=4, description="image channels of both domains")
    g_channels: int = Field(
        default=16, ge=1, le=512, description="generator channels after its stem"
    )
    res_blocks: int = Field(default=3, ge=0, le=12, description="residual blocks at 1/4 resolution")
    d_channels: int = Field(
        default=32, ge=1, le=512, description="PatchGAN channels after its first layer"
    )
    cycle_weight: float = Field(default=10.0, ge=0, le=1000, description="lambda of the cycle loss")
    identity_weight: float = Field(
        default=0.5, ge=0, le=10, description="identity loss weight, as a fraction of lambda"
    )
    domain_a: str = Field(
        default="day", max_length=40, description="name of domain A (cards, help)"
    )
    domain_b: str = Field(default="night", max_length=40, description="name of domain B")
    latent_dim: int = Field(
        default=1, ge=1, le=1, description="unused: translation is deterministic"
    )
    batch_size: int = Field(default=8, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=2000, ge=1, description="training steps (G pair, then D pair)")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 16,
            "g_channels": 4,
            "res_blocks": 1,
            "d_channels": 4,
            "batch_size": 4,
            "steps": 3,
        },
        "default": {},
    }


class CycleGANOptions(Options):
    """Which way the unpaired translator maps."""

    direction: Literal["a2b", "b2a"] | None = Field(
        default=None, description="map domain A to B (default) or B to A"
    )
