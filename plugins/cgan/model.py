"""Conditional GAN: a GAN whose generator and discriminator both see a class label.

Paper: Mirza & Osindero, "Conditional Generative Adversarial Nets" (2014),
arXiv:1411.1784. The game becomes
min_G max_D E_{x,y}[log D(x | y)] + E_{z,y}[log(1 - D(G(z | y) | y))],
so D judges whether an image is a real example *of its label*, and G must
follow the label to fool it.

Where it differs: the paper used MLPs (with maxout in D) on MNIST; here the
networks are the DCGAN bodies of ``plugins/nn/gan.py`` (Radford et al. 2015).
G receives [z, e(y)], a learned label embedding appended to the latent; D
receives the image with num_classes one-hot label planes stacked on its
channels, the convolutional form of the paper's concatenation. Training uses
Adam and the non-saturating generator loss -log D(G(z | y) | y).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.cgan.config import CGANConfig
from zoo.plugins.nn.gan import ConvDiscriminator, UpsampleGenerator, to_unit
from zoo.registry.contracts import Conditions, OneShotGenerator
from zoo.registry.errors import RequestError
from zoo.registry.options import Options, TruncationOptions
from zoo.registry.seeds import class_labels


class ConditionalGenerator(nn.Module):
    """(z (B, latent_dim), y (B,) int64) -> image (B, C, S, S) in [-1, 1]."""

    def __init__(self, config: CGANConfig):
        super().__init__()
        c = config
        self.embed = nn.Embedding(c.num_classes, c.embed_dim)
        self.body = UpsampleGenerator(
            c.latent_dim + c.embed_dim, c.channels, c.image_size, c.g_channels
        )

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([z, self.embed(y)], dim=1))


class ConditionalDiscriminator(nn.Module):
    """(x (B, C, S, S) in [-1, 1], y (B,) int64) -> logit (B,) of D(x | y)."""

    def __init__(self, config: CGANConfig):
        super().__init__()
        self.num_classes = config.num_classes
        self.body = ConvDiscriminator(
            config.channels + config.num_classes, config.image_size, config.d_channels
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # one-hot label planes: channel y is all ones, the others all zeros
        planes = F.one_hot(y, self.num_classes).to(x.dtype)[:, :, None, None]
        return self.body(torch.cat([x, planes.expand(-1, -1, *x.shape[2:])], dim=1))


class CGANGenerator(OneShotGenerator):
    family = "cgan"
    capabilities = ("class",)
    config_class = CGANConfig
    options_class = TruncationOptions

    def __init__(self, config: CGANConfig) -> None:
        super().__init__(config)
        self.net = ConditionalGenerator(config)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.net}

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def labels(self, conditions: Conditions, seeds: Sequence[int]) -> list[int]:
        """The conditions' label for every image, else seed % num_classes.

        Without a label, image k's class comes from its own seed, so a grid shows
        every class and each image can still be regenerated alone.
        """
        return class_labels(conditions.label, self.config.num_classes, list(seeds))

    def drawn_labels(self, conditions: Conditions, seeds: Sequence[int]) -> list[int] | None:
        return None if conditions.label is not None else self.labels(conditions, seeds)

    def inputs(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        """{"label": (B,) int64}, as ``labels`` gives them."""
        return {"label": torch.tensor(self.labels(conditions, seeds), dtype=torch.long)}

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        """Latents (B, latent_dim) and conditions["label"] (B,) -> images (B, C, S, S) in [0, 1]."""
        y = conditions.get("label")
        if y is None:
            raise RequestError("the cgan generator needs conditions['label'] (one label per image)")
        y = torch.as_tensor(y, dtype=torch.long, device=z.device).reshape(-1)
        if y.shape[0] != z.shape[0]:
            raise RequestError(f"got {y.shape[0]} labels for {z.shape[0]} latents; give one each")
        if (y < 0).any() or (y >= self.config.num_classes).any():
            raise RequestError(f"labels must lie in 0..{self.config.num_classes - 1}")
        return to_unit(self.net(z, y))
