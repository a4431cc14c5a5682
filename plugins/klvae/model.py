"""The KL autoencoder of latent diffusion, alone: it reconstructs, it does not sample.

Paper: Rombach, Blattmann, Lorenz, Esser & Ommer, "High-Resolution Image Synthesis with
Latent Diffusion Models" (2022), arXiv:2112.10752, section 3.1 and appendix G: the
first stage maps an image to a diagonal Gaussian q(z | x) over latents (C, H/f, W/f),
trained to reconstruct with a small KL(q(z | x) || N(0, I)) penalty, so the latent space
stays close to the image (f is small) and a diffusion model can be trained in it.

The network is ``zoo.plugins.nn.sd_vae.KLAutoencoder`` (diffusers' AutoencoderKL names
and config), saved as the part ``vae``: an ldm model holds the same part under the same
name, and an ldm recipe takes a klvae model as its frozen autoencoder.

Latents here are what a diffusion model sees: the posterior mean times
``scaling_factor`` (1 / std of the training latents, set after training), so they have
about unit variance and ``random_latents``' N(0, I) draws lie where the data's latents
lie (they decode to blobs, not scenes: only the ldm learns the latents' distribution).

Where it differs from the paper: no perceptual (LPIPS) or patch-GAN loss; reconstruction
is a per-pixel L1 (or L2), so fine texture blurs more than in Stable Diffusion's VAE.
"""

from __future__ import annotations

import torch

from zoo.plugins.klvae.config import KLVAEConfig
from zoo.plugins.nn.sd_vae import KLAutoencoder
from zoo.registry.contracts import Autoencoder, Network


class KLVAENetwork(Network, Autoencoder):
    family = "klvae"
    config_class = KLVAEConfig

    def __init__(self, config: KLVAEConfig) -> None:
        super().__init__(config)
        self.config: KLVAEConfig = config
        self.vae = KLAutoencoder(config.vae)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"vae": self.vae}

    def latent_shape(self) -> tuple[int, ...]:
        side = self.config.image_size // self.vae.downscale
        return (self.config.vae.latent_channels, side, side)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> scaled latents (B, latent_channels, S/f, S/f), the mean."""
        return self.vae.latents(images * 2 - 1)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents (B, latent_channels, h, w) -> images (B, C, h*f, w*f) in [0, 1]."""
        return ((self.vae.images(latents) + 1) / 2).clamp(0, 1)

    def set_scaling_factor(self, value: float) -> None:
        """Give the latents a new scale (after training: 1 / their std): the config, which
        config.json keeps, and the network's scaling both take it; the weights stay."""
        vae_config = self.config.vae.model_copy(update={"scaling_factor": float(value)})
        self.config = self.config.model_copy(update={"vae": vae_config})
        weight = next(self.vae.parameters())
        vae = KLAutoencoder(vae_config).to(device=weight.device, dtype=weight.dtype)
        vae.load_state_dict(self.vae.state_dict())
        self.vae = vae.train(self.vae.training)
