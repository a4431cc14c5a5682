"""DCGAN configuration: the network shape and the training recipe's settings."""

from __future__ import annotations

from typing import Any, ClassVar

from zoo.plugins.nn.gan_config import ConvGANConfig


class DCGANConfig(ConvGANConfig):
    """A DCGAN. The field defaults are the shipped model (preset "default")."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "image_size": 8,
            "latent_dim": 8,
            "g_channels": 4,
            "d_channels": 4,
            "batch_size": 8,
            "steps": 3,
        },
        "default": {},
    }
