"""Autoencoder: compress an image to a small code and rebuild it.

Idea (the seeds, §1.2.1; Hinton & Salakhutdinov, "Reducing the Dimensionality of
Data with Neural Networks", Science 2006): an encoder maps x to a code
z = e(x) in a bottleneck much smaller than x, a decoder maps it back, and both
minimise |d(e(x)) - x|^2. The code is a compression of the data, but nothing
shapes where in code space the data lands, so a code drawn at random (from
N(0, I) or anywhere else) does not decode to a plausible image: an autoencoder
reconstructs, it does not generate. The VAE (plugins/vae) fixes that.

Where it differs: the 2006 paper pretrained deep networks layer by layer with
RBMs; here a small MLP trains end to end with Adam.
"""

from __future__ import annotations

import torch

from zoo.plugins.nn.autoencoder import AutoencoderConfig, Decoder, Encoder
from zoo.registry.contracts import Autoencoder, Network


class AutoencoderNetwork(Network, Autoencoder):
    family = "ae"
    config_class = AutoencoderConfig

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__(config)
        self.encoder = Encoder(config, config.latent_dim)
        self.decoder = Decoder(config)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder}

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decoder(latents)
