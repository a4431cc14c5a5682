"""Config fields shared by the adversarial families (no torch here: configs load without it)."""

from __future__ import annotations

from pydantic import Field, field_validator

from zoo.registry.contracts import FamilyConfig


class AdversarialConfig(FamilyConfig):
    """Image, latent and Adam training settings every GAN family has."""

    channels: int = Field(default=1, ge=1, le=4, description="image channels (1 grey, 3 RGB)")
    latent_dim: int = Field(default=64, ge=1, le=1024, description="length of the latent z")
    lr: float = Field(default=2e-4, gt=0, le=1, description="Adam learning rate (G and D)")
    betas: tuple[float, float] = Field(default=(0.5, 0.999), description="Adam betas (G and D)")
    batch_size: int = Field(default=64, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=5000, ge=1, description="training steps (one D + one G update)")

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in v):
            raise ValueError(f"Adam betas must lie in [0, 1), got {v}")
        return v


class ConvGANConfig(AdversarialConfig):
    """A convolutional GAN: power-of-two images and channel widths of G and D."""

    image_size: int = Field(default=16, ge=8, le=128, description="image side, a power of two")
    g_channels: int = Field(
        default=64, ge=1, le=1024, description="generator channels before the output layer"
    )
    d_channels: int = Field(
        default=64, ge=1, le=1024, description="discriminator channels after its first layer"
    )

    @field_validator("image_size")
    @classmethod
    def _power_of_two(cls, v: int) -> int:
        if v & (v - 1):
            raise ValueError(f"image_size must be a power of two (8, 16, 32, ...), got {v}")
        return v
