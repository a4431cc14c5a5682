"""Config fields of the U-Net-shaped networks (no torch here: configs load without it)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from zoo.registry.contracts import FamilyConfig
from zoo.registry.diffusion import NoiseSchedule


class UNetShapeConfig(FamilyConfig):
    """Image size and channels, and the widths and levels of a U-Net or its encoder half."""

    image_size: int = Field(default=16, ge=8, le=256, description="image side, a power of two")
    channels: int = Field(default=1, ge=1, le=4, description="image channels (1 grey, 3 RGB)")
    base_channels: int = Field(default=32, ge=4, le=512, description="U-Net width at full size")
    channel_mults: tuple[int, ...] = Field(
        default=(1, 2, 2), min_length=1, max_length=6, description="width multiple per level"
    )
    num_res_blocks: int = Field(default=1, ge=1, le=4, description="ResBlocks per level")
    attention_resolutions: tuple[int, ...] = Field(
        default=(), description="image sides at which self-attention follows each ResBlock"
    )

    @field_validator("image_size")
    @classmethod
    def _power_of_two(cls, v: int) -> int:
        if v & (v - 1):
            raise ValueError(f"image_size must be a power of two (8, 16, 32, ...), got {v}")
        return v

    @model_validator(mode="after")
    def _levels(self) -> UNetShapeConfig:
        if self.image_size >> (len(self.channel_mults) - 1) < 2:
            raise ValueError(
                f"{len(self.channel_mults)} levels halve a {self.image_size}-pixel image too often"
            )
        return self


class NoiseAwareConfig(UNetShapeConfig):
    """A network that reads noisy samples x_t (a guide): its encoder and its schedule."""

    schedule: NoiseSchedule = Field(
        default_factory=lambda: NoiseSchedule(beta_schedule="cosine"),
        description="the forward process whose x_t it reads (the guided model's)",
    )
