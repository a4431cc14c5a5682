"""The klvae family's config: diffusers' AutoencoderKL keys in ``vae``, and the recipe's settings.

The ``vae`` block is what a diffusers repo keeps in ``vae/config.json`` and what an ldm
model's config holds under the same name, so an ldm recipe copies it as it is.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from zoo.plugins.nn.sd_vae import SCENES_AUTOENCODER, SCENES_AUTOENCODER_64, KLAutoencoderConfig
from zoo.registry.contracts import FamilyConfig
from zoo.registry.errors import CardError

# 32x32 RGB scenes -> (4, 8, 8) latents; ~0.5 s a step on one CPU thread at batch 32
SCENES: dict[str, Any] = {
    "image_size": 32,
    "vae": SCENES_AUTOENCODER,
}
# 64x64 RGB scenes -> the same (4, 8, 8) latents, for ldm's scenes-64 preset
SCENES_64: dict[str, Any] = {
    "image_size": 64,
    "vae": SCENES_AUTOENCODER_64,
}


class KLVAEConfig(FamilyConfig):
    """A KL autoencoder and how it trains. ``vae.sample_size`` is ``image_size``."""

    image_size: int = Field(default=32, ge=4, le=1024, description="training image side")
    vae: KLAutoencoderConfig = Field(
        default_factory=KLAutoencoderConfig,
        description="the autoencoder's diffusers config (AutoencoderKL's config.json keys)",
    )
    loss: Literal["l1", "l2"] = Field(
        default="l1", description="reconstruction term: absolute (l1) or squared (l2) error"
    )
    kl_weight: float = Field(
        default=1e-6,
        ge=0,
        le=1,
        description="weight of KL(q(z|x) || N(0, I)) against the reconstruction, both summed "
        "per image (latent diffusion's 1e-6: the latents stay nearly deterministic)",
    )
    latent_images: int = Field(
        default=1024,
        ge=1,
        le=100_000,
        description="training images whose latents set scaling_factor = 1 / std after training",
    )
    lr: float = Field(default=5e-4, gt=0, le=1, description="Adam learning rate")
    batch_size: int = Field(default=32, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=3000, ge=1, description="training steps")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # a few channels at 8x8, one downsample (4x4 latents): for tests and the contract checks
        "tiny": {
            "image_size": 8,
            "vae": {
                "down_block_types": ["DownEncoderBlock2D"] * 2,
                "up_block_types": ["UpDecoderBlock2D"] * 2,
                "block_out_channels": [8, 8],
                "norm_num_groups": 4,
                "latent_channels": 4,
            },
            "latent_images": 16,
            "batch_size": 4,
            "steps": 3,
        },
        "default": SCENES,  # what `zoo train klvae --data scenes` trains
        "scenes": SCENES,
        "scenes-64": SCENES_64,
    }

    @model_validator(mode="before")
    @classmethod
    def _sample_size(cls, data: Any) -> Any:
        """``vae.sample_size`` defaults to ``image_size`` (diffusers records the training side)."""
        if not isinstance(data, dict):
            return data
        vae = data.get("vae", {})
        if isinstance(vae, KLAutoencoderConfig):
            vae = vae.model_dump()
        if isinstance(vae, dict) and "sample_size" not in vae:
            size = data.get("image_size", cls.model_fields["image_size"].default)
            data = {**data, "vae": {**vae, "sample_size": size}}
        return data

    @model_validator(mode="after")
    def _fits(self) -> KLVAEConfig:
        v = self.vae
        if v.sample_size != self.image_size:
            raise CardError(
                f"vae.sample_size {v.sample_size} is not image_size {self.image_size}; "
                "give the same side to both (or leave sample_size out)"
            )
        if v.in_channels != v.out_channels:
            raise CardError(
                f"vae has in_channels {v.in_channels} and out_channels {v.out_channels}; an "
                "autoencoder reconstructs its input: make them equal"
            )
        factor = 2 ** (len(v.block_out_channels) - 1)
        if self.image_size % factor:
            raise CardError(
                f"image_size {self.image_size} is not a multiple of the autoencoder's factor "
                f"{factor} (2 ** (levels - 1)); change image_size or vae.block_out_channels"
            )
        return self

    @property
    def channels(self) -> int:
        """Image channels (the autoencoder's ``in_channels``)."""
        return self.vae.in_channels
