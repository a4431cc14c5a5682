"""Noise-aware CLIP configuration: the encoder's shape, the text tower, the schedule it
reads, the recipe."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from zoo.plugins.nn.clip_config import ClipTextConfig
from zoo.plugins.nn.text_config import BPE
from zoo.plugins.nn.unet_config import NoiseAwareConfig

SCENES: dict[str, Any] = {
    "image_size": 32,
    "channels": 3,
    "base_channels": 32,
    "channel_mults": (1, 2, 2),
    # ddpm's "scenes" preset: CLIP guidance needs the guided model's forward process
    "schedule": {"beta_schedule": "cosine", "variance_type": "learned_range"},
}


class NoisyClipConfig(NoiseAwareConfig, ClipTextConfig):
    """The image tower is the U-Net's encoder half reading x_t (``NoiseAwareConfig``), the
    text tower and the shared space are ``ClipTextConfig``'s. Preset "scenes" (= "default") is the
    guide of a ddpm model of the scenes' "scenes" preset."""

    lr: float = Field(default=1e-3, gt=0, le=1, description="AdamW peak learning rate")
    weight_decay: float = Field(default=1e-4, ge=0, le=1, description="AdamW weight decay")
    warmup: int = Field(default=100, ge=0, description="linear warm-up, then cosine decay")
    batch_size: int = Field(default=128, ge=2, le=4096, description="image-caption pairs per step")
    steps: int = Field(default=2000, ge=1, description="training steps")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 8,
            "channels": 3,
            "base_channels": 8,
            "channel_mults": (1, 2),
            "schedule": {"num_train_timesteps": 20, "beta_schedule": "linear"},
            "num_features": 8,
            "text_width": 8,
            "text_layers": 1,
            "text_heads": 2,
            "batch_size": 4,
            "steps": 3,
            "warmup": 0,
            **BPE,
        },
        "scenes": {**SCENES, **BPE},
        "default": {**SCENES, **BPE},
    }
