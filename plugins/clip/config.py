"""CLIP configuration: both towers, the tokenizer, and the recipe's settings."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from zoo.plugins.nn.clip_config import ClipTextConfig
from zoo.plugins.nn.text_config import BPE


class ClipConfig(ClipTextConfig):
    """A small CLIP. The field defaults are the scenes model (preset "scenes"); the text
    tower's fields are ``ClipTextConfig``'s."""

    image_size: int = Field(default=32, ge=4, le=256, description="image side the net takes")
    channels: int = Field(default=3, ge=1, le=4, description="image channels (1 grey, 3 RGB)")
    widths: tuple[int, ...] = Field(
        default=(32, 64, 128),
        min_length=1,
        max_length=6,
        description="image tower: channels of each stage (a 3x3 conv, then a 2x2 max-pool)",
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
            **BPE,
        },
        "scenes": {**BPE},
        "default": {**BPE},
    }

    @model_validator(mode="after")
    def _consistent(self) -> ClipConfig:
        if self.image_size % 2 ** len(self.widths):
            raise ValueError(
                f"image_size {self.image_size} must be divisible by 2**{len(self.widths)} "
                "(one 2x2 pool per stage)"
            )
        return self
