"""Pix2Pix configuration: U-Net and PatchGAN widths, the loss weight and Adam settings."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from zoo.plugins.nn.gan_config import AdversarialConfig


class Pix2PixConfig(AdversarialConfig):
    """Condition map (cond_channels) -> image (channels). Defaults are the shipped model."""

    image_size: int = Field(default=32, ge=8, le=512, description="training image side")
    channels: int = Field(default=3, ge=1, le=4, description="output image channels")
    cond_channels: int = Field(default=1, ge=1, le=4, description="condition map channels")
    depth: int = Field(
        default=3, ge=2, le=7, description="U-Net downsamplings (sides: multiples of 2**depth)"
    )
    g_channels: int = Field(
        default=32, ge=1, le=512, description="U-Net channels after its first layer"
    )
    d_channels: int = Field(
        default=32, ge=1, le=512, description="PatchGAN channels after its first layer"
    )
    dropout: float = Field(
        default=0.5, ge=0, lt=1, description="dropout in the innermost decoder layer (the noise)"
    )
    l1_weight: float = Field(default=100.0, ge=0, le=10_000, description="lambda of the L1 term")
    latent_dim: int = Field(default=1, ge=1, le=1, description="unused: the noise is dropout")
    batch_size: int = Field(default=32, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=3000, ge=1, description="training steps (one D + one G update)")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 16,
            "depth": 2,
            "g_channels": 4,
            "d_channels": 4,
            "batch_size": 4,
            "steps": 3,
        },
        "default": {},
    }
