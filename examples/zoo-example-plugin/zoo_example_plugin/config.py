"""Checkers configuration: network sizes and the training recipe's settings."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator
from zoo.registry.contracts import FamilyConfig
from zoo.registry.options import Options


class CheckersConfig(FamilyConfig):
    """A conditional VAE for checkerboards. The defaults are the shipped model ("default")."""

    image_size: int = Field(default=8, ge=8, le=64, description="image side, a multiple of 8")
    channels: int = Field(default=1, ge=1, le=1, description="image channels (grey only)")
    num_classes: int = Field(
        default=3, ge=3, le=3, description="cell sizes the data has (1, 2 and 4 pixels at 8x8)"
    )
    latent_dim: int = Field(default=4, ge=1, le=256, description="length of the latent z")
    hidden: int = Field(default=32, ge=1, le=4096, description="width of the hidden layer")
    kl_weight: float = Field(
        default=1.0, ge=0, le=100, description="weight of the KL term in the loss (beta)"
    )
    lr: float = Field(default=3e-3, gt=0, le=1, description="Adam learning rate")
    batch_size: int = Field(default=64, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=1500, ge=1, description="training steps")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"latent_dim": 2, "hidden": 8, "batch_size": 8, "steps": 2},
        "default": {},
    }

    @field_validator("image_size")
    @classmethod
    def _multiple_of_8(cls, v: int) -> int:
        if v % 8:
            raise ValueError(f"image_size must be a multiple of 8, got {v}")
        return v


class CheckersOptions(Options):
    """The family's own sampling option. The zoo turns each field into a typed flag of
    `zoo sample` (`--sharpness`), accepts it as `-O sharpness=2` and as a keyword of
    `Model.sample`, records it in every PNG and replays it with `--from`."""

    sharpness: float | None = Field(
        default=None,
        gt=0,
        le=20,
        description="scale of the decoder's logits: above 1 draws crisper cells, below 1 softer",
    )
