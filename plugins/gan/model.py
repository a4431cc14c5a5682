"""GAN: the original generative adversarial network, with multilayer perceptrons.

Paper: Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville &
Bengio, "Generative Adversarial Nets" (NeurIPS 2014), arXiv:1406.2661.

G maps z ~ N(0, I) through fully connected layers to all pixels at once; D is
another MLP that outputs the probability that an image is real. They play
min_G max_D E_x[log D(x)] + E_z[log(1 - D(G(z)))] (see ``plugins/nn/gan.py``).

Where it differs: the paper's MNIST nets used ReLU/sigmoid units in G, maxout
units with dropout in D, a uniform z, and SGD with momentum. Here both nets
use LeakyReLU(0.2) (D keeps dropout), G's hidden layers have batchnorm (on
1,438 training digits the plain MLP drifts onto a few classes), z is
Gaussian, the output is tanh (images in [-1, 1]) and training uses Adam. The
generator minimises the non-saturating loss -log D(G(z)), which the paper
recommends in practice over the minimax log(1 - D(G(z))).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from zoo.plugins.gan.config import GANConfig
from zoo.plugins.nn.gan import to_unit
from zoo.registry.contracts import OneShotGenerator
from zoo.registry.options import TruncationOptions


def mlp(widths: list[int], dropout: float = 0.0, batchnorm: bool = False) -> list[nn.Module]:
    """Linear (+ BatchNorm) + LeakyReLU(0.2) (+ dropout) between consecutive widths."""
    layers: list[nn.Module] = []
    for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
        layers.append(nn.Linear(w_in, w_out, bias=not batchnorm))
        if batchnorm:
            layers.append(nn.BatchNorm1d(w_out))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        if dropout:
            layers.append(nn.Dropout(dropout))
    return layers


class MLPGenerator(nn.Module):
    """z (B, latent_dim) -> image (B, C, S, S) in [-1, 1] through hidden layers."""

    def __init__(self, config: GANConfig):
        super().__init__()
        c = config
        self.shape = (c.channels, c.image_size, c.image_size)
        pixels = c.channels * c.image_size**2
        self.net = nn.Sequential(
            *mlp([c.latent_dim, *c.g_hidden], batchnorm=c.g_batchnorm),
            nn.Linear(c.g_hidden[-1], pixels),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.shape)


class MLPDiscriminator(nn.Module):
    """Image (B, C, S, S) in [-1, 1] -> logit (B,) of D(x) = sigmoid(logit)."""

    def __init__(self, config: GANConfig):
        super().__init__()
        c = config
        pixels = c.channels * c.image_size**2
        self.net = nn.Sequential(
            *mlp([pixels, *c.d_hidden], dropout=c.d_dropout), nn.Linear(c.d_hidden[-1], 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).flatten()


class GANGenerator(OneShotGenerator):
    family = "gan"
    capabilities = ("unconditional",)
    config_class = GANConfig
    options_class = TruncationOptions

    def __init__(self, config: GANConfig) -> None:
        super().__init__(config)
        self.net = MLPGenerator(config)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.net}

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        """Latents (B, latent_dim) -> images (B, C, S, S) in [0, 1]."""
        return to_unit(self.net(z))
