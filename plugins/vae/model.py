"""Variational autoencoder: an autoencoder whose codes follow a known distribution.

Paper: Kingma & Welling, "Auto-Encoding Variational Bayes" (2014),
arXiv:1312.6114; the seeds, §1.2.3.

The encoder outputs the mean and log-variance of q(z | x) = N(mu(x), sigma(x)^2);
training samples z = mu + sigma * eps, eps ~ N(0, I) (the reparameterisation
trick, so gradients reach the encoder), decodes it, and minimises
reconstruction + beta * KL(q(z | x) || N(0, I)), with
KL = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2). The KL term pulls every
code towards the prior, so the prior's samples land where the decoder has
learnt to draw: z ~ N(0, I) -> decoder -> a new image. ``zoo sample`` does that;
``zoo reconstruct`` encodes to the mean and decodes.

Reconstruction term: binary cross-entropy summed over pixels (a Bernoulli
decoder, as the paper's MNIST experiments); beta = 1 is the paper's ELBO.
Networks: the zoo's encoder/decoder bodies (plugins/nn/autoencoder.py): MLP for
digits, convolutional for scenes (an MLP blurs the objects of a scene away).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field

from zoo.plugins.nn.autoencoder import AutoencoderConfig, Decoder, Encoder
from zoo.registry.contracts import Autoencoder, OneShotGenerator
from zoo.registry.options import TruncationOptions


class VAEConfig(AutoencoderConfig):
    beta: float = Field(default=1.0, ge=0, le=100, description="weight of the KL term")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = AutoencoderConfig.PRESETS


class VAEGenerator(OneShotGenerator, Autoencoder):
    family = "vae"
    capabilities = ("unconditional",)
    config_class = VAEConfig
    options_class = TruncationOptions

    def __init__(self, config: VAEConfig) -> None:
        super().__init__(config)
        self.encoder = Encoder(config, 2 * config.latent_dim)  # mean and log-variance
        self.decoder = Decoder(config)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder}

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def posterior(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z | x), each (B, latent_dim)."""
        mu, logvar = self.encoder(images).chunk(2, dim=1)
        return mu, logvar.clamp(-30, 20)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.posterior(images)[0]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decoder(latents)

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        """z ~ N(0, I) (B, latent_dim) -> images (B, C, S, S) in [0, 1]."""
        return self.decoder(z)
