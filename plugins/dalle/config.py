"""DALL-E configuration: the discrete VAE, the transformer, the tokenizer and both phases."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from zoo.plugins.nn.schedules import first_phase_steps
from zoo.plugins.nn.text_config import BPE, TokenizerConfig

DOWNSAMPLE = 4  # the dVAE's encoder halves the image twice: an S x S image is (S/4)^2 codes


class DalleConfig(TokenizerConfig):
    """A small DALL-E (dVAE + decoder-only transformer). The field defaults are the scenes model.

    One run trains the dVAE for its ``dvae_steps`` (``dvae_fraction`` of ``steps``), then
    the transformer for the remaining steps on the dVAE's argmax codes of each batch.
    """

    image_size: int = Field(default=32, ge=8, le=128, description="image side (a multiple of 4)")
    channels: int = Field(default=3, ge=1, le=4, description="image channels (1 grey, 3 RGB)")

    # -- the discrete VAE
    codebook_size: int = Field(default=512, ge=2, le=8192, description="K, codes per grid cell")
    code_dim: int = Field(default=64, ge=1, le=1024, description="width of a code's embedding")
    dvae_width: int = Field(default=64, ge=1, le=1024, description="dVAE channels at full size")
    dvae_blocks: int = Field(
        default=2, ge=0, le=8, description="residual blocks at grid size, in encoder and decoder"
    )
    tau_start: float = Field(
        default=1.0, gt=0, le=10, description="Gumbel-softmax temperature at step 0"
    )
    tau_end: float = Field(
        default=1 / 16, gt=0, le=10, description="temperature at the end of the dVAE phase"
    )
    tau_anneal: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="share of the dVAE phase over which tau falls (exponentially); held after",
    )
    kl_weight: float = Field(
        default=3e-4,
        ge=0,
        le=10,
        description="beta: weight of KL(q(z|x) || uniform) per cell against the per-value MSE",
    )
    kl_ramp: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="share of the dVAE phase over which beta rises linearly from 0",
    )
    dvae_lr: float = Field(default=2e-3, gt=0, le=1, description="dVAE Adam peak learning rate")
    dvae_fraction: float = Field(
        default=0.4,
        gt=0,
        lt=1,
        description="share of the steps spent on the dVAE phase; the transformer takes the rest",
    )

    # -- the transformer (its text tokens: ``TokenizerConfig``)
    text_length: int = Field(
        default=16,
        ge=2,
        le=256,
        description="text tokens per sequence: start, words or BPE tokens (and end), padding",
    )
    width: int = Field(default=96, ge=8, le=2048, description="transformer width")
    layers: int = Field(default=4, ge=1, le=48, description="transformer blocks")
    heads: int = Field(default=4, ge=1, le=32, description="attention heads per block")
    text_loss_weight: float = Field(
        default=1 / 8,
        ge=0,
        le=1,
        description="weight of the text tokens' cross-entropy; the image tokens' is 1 minus it",
    )
    lr: float = Field(default=1e-3, gt=0, le=1, description="transformer AdamW peak learning rate")
    weight_decay: float = Field(default=0.01, ge=0, le=1, description="AdamW weight decay")
    warmup: int = Field(default=100, ge=0, description="warm-up steps of each phase's LR")

    # -- both
    batch_size: int = Field(default=32, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=4800, ge=2, description="steps of both phases together")
    clip_model: str = Field(
        default="clip-scenes-bpe",
        min_length=1,
        max_length=200,
        description="the CLIP reference network --rerank scores with (loaded when used)",
    )

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 8,
            "codebook_size": 8,
            "code_dim": 4,
            "dvae_width": 4,
            "dvae_blocks": 1,
            "text_length": 8,
            "width": 8,
            "layers": 1,
            "heads": 2,
            "batch_size": 4,
            "dvae_fraction": 0.5,
            "steps": 2,
            "warmup": 1,
            **BPE,
        },
        "scenes": {**BPE},
        "default": {**BPE},
    }

    @model_validator(mode="after")
    def _consistent(self) -> DalleConfig:
        if self.image_size % DOWNSAMPLE:
            raise ValueError(f"image_size {self.image_size} must be a multiple of {DOWNSAMPLE}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be divisible by heads {self.heads}")
        return self

    @property
    def dvae_steps(self) -> int:
        """Steps of the dVAE phase (at least 1, and 1 fewer than ``steps`` when it can)."""
        return first_phase_steps(self.dvae_fraction, self.steps)

    @property
    def grid(self) -> int:
        """Side of the code grid."""
        return self.image_size // DOWNSAMPLE

    @property
    def image_tokens(self) -> int:
        """Codes per image (the transformer's image sequence length)."""
        return self.grid**2
