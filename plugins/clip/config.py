"""CLIP configuration: both towers, the word vocabulary, and the recipe's settings."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from zoo.plugins.nn.scenes import scene_vocabulary
from zoo.plugins.nn.text import check_vocabulary
from zoo.registry.contracts import FamilyConfig


class ClipConfig(FamilyConfig):
    """A small CLIP. The field defaults are the scenes model (preset "scenes")."""

    image_size: int = Field(default=32, ge=4, le=256, description="image side the net takes")
    channels: int = Field(default=3, ge=1, le=4, description="image channels (1 grey, 3 RGB)")
    widths: tuple[int, ...] = Field(
        default=(32, 64, 128),
        min_length=1,
        max_length=6,
        description="image tower: channels of each stage (a 3x3 conv, then a 2x2 max-pool)",
    )
    num_features: int = Field(default=128, ge=2, le=1024, description="shared embedding width")
    vocabulary: tuple[str, ...] = Field(
        default_factory=scene_vocabulary,
        min_length=1,
        description="the tokenizer's words (lower-case letters); others map to UNK",
    )
    max_tokens: int = Field(
        default=24, ge=2, le=256, description="tokens per text, the leading BOS included"
    )
    text_width: int = Field(default=96, ge=4, le=1024, description="text transformer width")
    text_layers: int = Field(default=2, ge=1, le=12, description="text transformer blocks")
    text_heads: int = Field(default=4, ge=1, le=16, description="attention heads per block")
    temperature: float = Field(
        default=0.07, gt=0.01, le=1, description="initial softmax temperature (learned after)"
    )
    lr: float = Field(default=2e-3, gt=0, le=1, description="AdamW peak learning rate")
    weight_decay: float = Field(default=1e-4, ge=0, le=1, description="AdamW weight decay")
    warmup: int = Field(default=100, ge=0, description="linear warm-up steps before cosine decay")
    batch_size: int = Field(default=256, ge=2, le=4096, description="image-caption pairs per step")
    steps: int = Field(default=700, ge=1, description="training steps (also sets the LR schedule)")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 8,
            "widths": (4,),
            "num_features": 8,
            "text_width": 8,
            "text_layers": 1,
            "text_heads": 2,
            "batch_size": 4,
            "steps": 2,
        },
        "scenes": {},
        "default": {},
    }

    @field_validator("vocabulary")
    @classmethod
    def _vocabulary(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return check_vocabulary(v)

    @model_validator(mode="after")
    def _consistent(self) -> ClipConfig:
        if self.image_size % 2 ** len(self.widths):
            raise ValueError(
                f"image_size {self.image_size} must be divisible by 2**{len(self.widths)} "
                "(one 2x2 pool per stage)"
            )
        if self.text_width % self.text_heads:
            raise ValueError(
                f"text_width {self.text_width} must be divisible by text_heads {self.text_heads}"
            )
        return self
