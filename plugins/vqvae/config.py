"""VQ-VAE configuration: the autoencoder, its codebook, the PixelCNN prior and both phases."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from zoo.plugins.nn.schedules import first_phase_steps
from zoo.registry.contracts import FamilyConfig

DOWNSAMPLE = 4  # two stride-2 convolutions: an S x S image becomes an (S/4) x (S/4) code grid


class VQVAEConfig(FamilyConfig):
    """A VQ-VAE with a gated PixelCNN prior. The field defaults are the scenes model.

    One run trains the VQ-VAE for its ``vq_steps`` (``vq_fraction`` of ``steps``), then
    the prior for the remaining steps on the frozen VQ-VAE's codes of each batch.
    """

    image_size: int = Field(default=32, ge=8, le=128, description="image side (a multiple of 4)")
    channels: int = Field(default=3, ge=1, le=4, description="image channels (1 grey, 3 RGB)")

    # -- the VQ-VAE
    hidden: int = Field(default=64, ge=1, le=1024, description="encoder/decoder channels")
    res_blocks: int = Field(
        default=2, ge=0, le=8, description="residual blocks at grid size, in encoder and decoder"
    )
    codebook_size: int = Field(default=128, ge=2, le=8192, description="K, entries of the codebook")
    code_dim: int = Field(default=32, ge=1, le=1024, description="D, width of a codebook entry")
    beta: float = Field(
        default=0.25, ge=0, le=10, description="weight of the commitment loss ||z_e - sg[e]||^2"
    )
    vq_lr: float = Field(default=1e-3, gt=0, le=1, description="VQ-VAE Adam peak learning rate")
    restart_after: int = Field(
        default=100,
        ge=0,
        description=(
            "dead-code restarts: a code no batch has chosen for this many steps is moved onto a "
            "random encoder output of the current batch (0 = never)"
        ),
    )
    restart_until: float = Field(
        default=0.75,
        ge=0,
        le=1,
        description="share of the VQ-VAE phase during which dead codes are restarted",
    )
    vq_fraction: float = Field(
        default=0.4,
        gt=0,
        lt=1,
        description="share of the steps spent on the VQ-VAE phase; the prior takes the rest",
    )

    # -- the PixelCNN prior
    prior_channels: int = Field(default=64, ge=2, le=1024, description="PixelCNN channels")
    prior_layers: int = Field(
        default=5, ge=1, le=32, description="gated layers (the first uses mask A, the rest mask B)"
    )
    prior_first_kernel: int = Field(
        default=7, ge=3, le=15, description="kernel side of the first (mask A) layer (odd)"
    )
    prior_kernel: int = Field(
        default=3, ge=3, le=15, description="kernel side of the later (mask B) layers (odd)"
    )
    prior_lr: float = Field(default=1e-3, gt=0, le=1, description="prior Adam peak learning rate")

    # -- both
    warmup: int = Field(default=100, ge=0, description="warm-up steps of each phase's LR")
    batch_size: int = Field(default=64, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=6000, ge=2, description="steps of both phases together")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 8,
            "hidden": 4,
            "res_blocks": 1,
            "codebook_size": 8,
            "code_dim": 4,
            "prior_channels": 4,
            "prior_layers": 2,
            "prior_first_kernel": 3,
            "prior_kernel": 3,
            "restart_after": 1,
            "vq_fraction": 0.5,
            "batch_size": 4,
            "steps": 4,
            "warmup": 1,
        },
        "scenes": {},
        "default": {},
    }

    @model_validator(mode="after")
    def _consistent(self) -> VQVAEConfig:
        if self.image_size % DOWNSAMPLE:
            raise ValueError(f"image_size {self.image_size} must be a multiple of {DOWNSAMPLE}")
        for name in ("prior_first_kernel", "prior_kernel"):
            if getattr(self, name) % 2 == 0:
                raise ValueError(f"{name} {getattr(self, name)} must be odd")
        return self

    @property
    def vq_steps(self) -> int:
        """Steps of the VQ-VAE phase (at least 1, and 1 fewer than ``steps`` when it can)."""
        return first_phase_steps(self.vq_fraction, self.steps)

    @property
    def grid(self) -> int:
        """Side of the code grid."""
        return self.image_size // DOWNSAMPLE

    @property
    def tokens(self) -> int:
        """Codes per image (the prior's sequence length)."""
        return self.grid**2
