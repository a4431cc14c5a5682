"""StyleGAN configuration: mapping and synthesis widths, training settings."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from zoo.plugins.nn.gan_config import AdversarialConfig
from zoo.registry.options import TruncationOptions


class StyleGANConfig(AdversarialConfig):
    """A style-based generator. The field defaults are the shipped model."""

    image_size: int = Field(default=32, ge=8, le=256, description="image side, a power of two")
    channels: int = Field(default=3, ge=1, le=4, description="image channels")
    latent_dim: int = Field(default=64, ge=2, le=1024, description="length of z and of w")
    mapping_layers: int = Field(default=4, ge=1, le=8, description="fully connected layers z -> w")
    widths: tuple[int, ...] = Field(
        default=(64, 32, 32, 16),
        description="synthesis channels at 4x4, 8x8, ... (one entry per resolution)",
    )
    d_channels: int = Field(
        default=16, ge=1, le=512, description="discriminator channels at full size"
    )
    mixing_prob: float = Field(
        default=0.9, ge=0, le=1, description="style mixing regularisation rate"
    )
    r1_gamma: float = Field(default=1.0, ge=0, le=100, description="R1 penalty weight gamma")
    r1_every: int = Field(
        default=4, ge=1, le=64, description="lazy R1: apply every k steps (scaled by k)"
    )
    w_avg_beta: float = Field(
        default=0.995, ge=0, lt=1, description="moving average of w for truncation"
    )
    lr: float = Field(
        default=2e-3, gt=0, le=1, description="Adam learning rate (G synthesis and D)"
    )
    betas: tuple[float, float] = Field(default=(0.0, 0.99), description="Adam betas")
    mapping_lr_mult: float = Field(
        default=0.01, gt=0, le=1, description="mapping network lr multiplier"
    )
    batch_size: int = Field(default=16, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=4000, ge=1, description="training steps (one D + one G update)")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 8,
            "latent_dim": 8,
            "mapping_layers": 2,
            "widths": (8, 4),
            "d_channels": 4,
            "batch_size": 4,
            "steps": 3,
            "r1_every": 2,
        },
        "default": {},
    }

    @field_validator("image_size")
    @classmethod
    def _power_of_two(cls, v: int) -> int:
        if v & (v - 1):
            raise ValueError(f"image_size must be a power of two, got {v}")
        return v

    def model_post_init(self, context: Any) -> None:
        need = self.image_size.bit_length() - 2  # 4x4 .. image_size
        if len(self.widths) != need:
            raise ValueError(
                f"widths needs {need} entries (4x4 .. {self.image_size}), got {len(self.widths)}"
            )


class StyleGANOptions(TruncationOptions):
    """StyleGAN's controls: truncation in w, style mixing, per-layer noise."""

    mix_seed: int | None = Field(
        default=None, ge=0, le=2**63 - 1, description="style mixing: the seed of a second latent"
    )
    mix_layers: Literal["coarse", "fine"] | None = Field(
        default=None,
        description="style mixing: the layers that take the second latent (default coarse)",
    )
    noise: bool | None = Field(
        default=None, description="per-layer noise inputs on (default) or off"
    )

    @model_validator(mode="after")
    def _mixing(self) -> StyleGANOptions:
        if self.mix_layers is not None and self.mix_seed is None:
            raise ValueError("--mix-layers needs --mix-seed (the seed of the second latent)")
        return self
