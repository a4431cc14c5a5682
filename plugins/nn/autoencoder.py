"""Encoder and decoder bodies shared by the autoencoder families (AE, DAE, VAE).

Fully connected, as in the seeds' picture of an autoencoder: image -> hidden
layers -> bottleneck -> mirrored hidden layers -> image. The decoder ends in a
sigmoid, so its output is already an image in [0, 1].
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from zoo.registry.contracts import FamilyConfig


class AutoencoderConfig(FamilyConfig):
    """Sizes and training settings every autoencoder family has. Defaults: digits."""

    image_size: int = Field(default=16, ge=4, le=64, description="image side in pixels")
    channels: int = Field(default=1, ge=1, le=4, description="image channels")
    latent_dim: int = Field(default=8, ge=1, le=1024, description="bottleneck size")
    hidden: tuple[int, ...] = Field(default=(256, 128), description="encoder layer widths")
    lr: float = Field(default=1e-3, gt=0, le=1, description="Adam learning rate")
    batch_size: int = Field(default=64, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=4000, ge=1, description="training steps")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"image_size": 8, "latent_dim": 2, "hidden": (8,), "batch_size": 8, "steps": 3},
        "default": {},
    }


def mlp(sizes: list[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
    return layers


class Encoder(nn.Module):
    """(B, C, S, S) -> (B, out_dim): the hidden layers, then a linear bottleneck."""

    def __init__(self, c: AutoencoderConfig, out_dim: int):
        super().__init__()
        pixels = c.channels * c.image_size**2
        self.net = nn.Sequential(nn.Flatten(), *mlp([pixels, *c.hidden]), nn.Linear(c.hidden[-1], out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """(B, latent_dim) -> (B, C, S, S) in [0, 1]: the hidden layers mirrored, then a sigmoid."""

    def __init__(self, c: AutoencoderConfig):
        super().__init__()
        pixels = c.channels * c.image_size**2
        sizes = [c.latent_dim, *reversed(c.hidden)]
        self.net = nn.Sequential(*mlp(sizes), nn.Linear(sizes[-1], pixels), nn.Sigmoid())
        self.shape = (c.channels, c.image_size, c.image_size)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(len(z), *self.shape)
