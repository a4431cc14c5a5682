"""Noise-aware classifier configuration: the encoder's shape, the schedule it reads, the recipe."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from zoo.plugins.nn.unet_config import NoiseAwareConfig


class NoisyClassifierConfig(NoiseAwareConfig):
    """The field defaults are the classifier of ddpm-digits (16x16 digits, cosine T = 1000)."""

    num_classes: int = Field(default=10, ge=2, le=10_000, description="class labels")
    lr: float = Field(default=1e-3, gt=0, le=1, description="AdamW peak learning rate")
    weight_decay: float = Field(default=0.05, ge=0, le=1, description="AdamW weight decay")
    warmup: int = Field(default=100, ge=0, description="linear warm-up, then cosine decay")
    batch_size: int = Field(default=128, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=3000, ge=1, description="training steps")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 8,
            "base_channels": 8,
            "channel_mults": (1, 2),
            "schedule": {"num_train_timesteps": 20, "beta_schedule": "linear"},
            "batch_size": 4,
            "steps": 3,
            "warmup": 0,
        },
        "default": {},
        "scenes": {
            "image_size": 32,
            "channels": 3,
            "num_classes": 24,
            "schedule": {"beta_schedule": "cosine", "variance_type": "learned_range"},
            "batch_size": 64,
        },
    }
