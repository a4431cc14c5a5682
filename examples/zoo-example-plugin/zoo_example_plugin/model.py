"""Checkers: a conditional variational autoencoder whose decoder draws checkerboards.

Papers: Kingma & Welling, "Auto-Encoding Variational Bayes" (2013),
arXiv:1312.6114; the conditional form follows Sohn, Lee & Yan, "Learning
Structured Output Representation using Deep Conditional Generative Models"
(NeurIPS 2015).

The encoder q(z | x, y) = N(mu, diag(sigma^2)) and the decoder p(x | z, y)
(Bernoulli pixel means) are one-hidden-layer MLPs; y, the cell size, enters
both as a one-hot vector. Sampling needs only the decoder: z ~ N(0, I), then
x = sigmoid(decoder(z, y)). Only the decoder is shipped; the encoder lives
while training (see train.py).

Where it differs: the paper's MNIST models had 500 hidden units and used the
Bernoulli likelihood on binarised pixels; here the grey levels are used as
soft targets of the same cross-entropy, and the networks are tiny.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from zoo.registry.contracts import Conditions, OneShotGenerator
from zoo.registry.errors import RequestError
from zoo.registry.options import Options

from zoo_example_plugin.config import CheckersConfig, CheckersOptions


class Decoder(nn.Module):
    """(z (B, latent_dim), y (B,) int64) -> pixel logits (B, C, S, S)."""

    def __init__(self, config: CheckersConfig):
        super().__init__()
        c = config
        self.num_classes = c.num_classes
        self.shape = (c.channels, c.image_size, c.image_size)
        self.net = nn.Sequential(
            nn.Linear(c.latent_dim + c.num_classes, c.hidden),
            nn.ReLU(),
            nn.Linear(c.hidden, c.channels * c.image_size**2),
        )

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(y, self.num_classes).to(z.dtype)
        return self.net(torch.cat([z, onehot], dim=1)).view(-1, *self.shape)


class Encoder(nn.Module):
    """(x (B, C, S, S) in [0, 1], y (B,) int64) -> (mu, log sigma^2), each (B, latent_dim)."""

    def __init__(self, config: CheckersConfig):
        super().__init__()
        c = config
        self.num_classes = c.num_classes
        self.net = nn.Sequential(
            nn.Linear(c.channels * c.image_size**2 + c.num_classes, c.hidden),
            nn.ReLU(),
            nn.Linear(c.hidden, 2 * c.latent_dim),
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        onehot = F.one_hot(y, self.num_classes).to(x.dtype)
        mu, logvar = self.net(torch.cat([x.flatten(1), onehot], dim=1)).chunk(2, dim=1)
        return mu, logvar


class CheckersGenerator(OneShotGenerator):
    family = "checkers"
    capabilities = ("unconditional", "class")
    config_class = CheckersConfig
    options_class = CheckersOptions  # the same class the FamilySpec names

    def __init__(self, config: CheckersConfig) -> None:
        super().__init__(config)
        self.decoder = Decoder(config)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"decoder": self.decoder}

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def labels(self, conditions: Conditions, seeds: Sequence[int]) -> list[int]:
        """The request's label for every image, else seed % num_classes (a grid mixes sizes)."""
        k = self.config.num_classes
        if conditions.label is not None:
            if conditions.label >= k:
                raise RequestError(f"label {conditions.label} is out of range; use 0..{k - 1}")
            return [conditions.label] * len(seeds)
        return [seed % k for seed in seeds]

    def drawn_labels(self, conditions: Conditions, seeds: Sequence[int]) -> list[int] | None:
        return None if conditions.label is not None else self.labels(conditions, seeds)

    def inputs(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        """Labels (B,) int64 and the logit scale from the family's own ``sharpness`` option."""
        sharpness = options.sharpness if isinstance(options, CheckersOptions) else None
        return {
            "label": torch.tensor(self.labels(conditions, seeds), dtype=torch.long),
            "sharpness": 1.0 if sharpness is None else sharpness,
        }

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        """Latents (B, latent_dim) and conditions["label"] (B,) -> images (B, C, S, S) in [0, 1]."""
        y = torch.as_tensor(conditions["label"], dtype=torch.long, device=z.device).reshape(-1)
        logits = self.decoder(z, y)
        scale = conditions.get("sharpness", 1.0)
        return torch.sigmoid(logits if scale == 1.0 else logits * scale)
