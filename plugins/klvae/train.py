"""klvae training: reconstruction + a small KL term, then the latent scale from the data.

One step (Rombach et al. 2022, appendix G, without the perceptual and GAN terms): encode
x to q(z | x) = N(mu, sigma^2), draw z = mu + sigma * eps, decode, and minimise per image

    L = sum_pixels |x - D(z)|  (or squared)  +  kl_weight * KL(q(z | x) || N(0, I)),
    KL = 1/2 sum_latent (mu^2 + sigma^2 - 1 - log sigma^2),

both sums over one image, averaged over the batch (the paper's weighting: kl_weight 1e-6
keeps the latents nearly deterministic and their scale free). After the last step the
``latent_images`` first training images are encoded (z drawn from q, as a diffusion model
trains on them) and ``scaling_factor`` is set to 1 / std(z) over all their elements, the
rule of the paper's code, so the latents a diffusion model sees have unit variance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch

from zoo.plugins.klvae.config import KLVAEConfig
from zoo.plugins.klvae.model import KLVAENetwork
from zoo.registry.contracts import DataNeeds, Recipe

ENCODE_BATCH = 256  # images per forward pass when measuring the latents' std


class KLVAERecipe(Recipe):
    generator: KLVAENetwork
    config: KLVAEConfig

    def __init__(self, generator: KLVAENetwork, config: KLVAEConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.vae = generator.vae.to(device)
        self.opt = torch.optim.Adam(self.vae.parameters(), lr=config.lr)
        self.images: torch.Tensor | None = None  # for the latent scale, from ``prepare``

    @classmethod
    def needs(cls, config: KLVAEConfig) -> DataNeeds:
        # the channels are the vae block's in_channels: no single --set field fits them
        return replace(super().needs(config), config_fields={})

    def prepare(self, split: Mapping[str, Any]) -> None:
        self.images = split["image"][: self.config.latent_images]

    def optimizers(self) -> dict[str, Any]:
        return {"adam": self.opt}

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        x = batch["image"].to(self.device) * 2 - 1
        mean, logvar = self.vae.encode(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        error = self.vae.decode(z) - x
        error = error.abs() if c.loss == "l1" else error.pow(2)
        recon = error.flatten(1).sum(1).mean()
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).flatten(1).sum(1).mean()
        loss = recon + c.kl_weight * kl
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        pixels = x[0].numel()
        return {"loss": loss.item() / pixels, c.loss: recon.item() / pixels, "kl": kl.item()}

    @torch.no_grad()
    def latent_std(self, images: torch.Tensor) -> float:
        """std over every element of z ~ q(z | x) for ``images`` (N, C, S, S) in [0, 1]."""
        self.vae.eval()
        total, square, count = 0.0, 0.0, 0
        for chunk in images.split(ENCODE_BATCH):
            mean, logvar = self.vae.encode(chunk.to(self.device).float() * 2 - 1)
            z = (mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)).double()
            total, square, count = (
                total + z.sum().item(),
                square + z.square().sum().item(),
                count + z.numel(),
            )
        mu = total / count
        return max(square / count - mu * mu, 0.0) ** 0.5

    def finish(self) -> None:
        """Set ``vae.scaling_factor`` to 1 / std of the training latents (the folder's config
        and the network's own scaling both take it)."""
        if self.images is None or not len(self.images):
            return  # no data was given (a recipe driven step by step): the scale stays
        std = self.latent_std(self.images)
        if not std > 0:
            return
        self.generator.set_scaling_factor(1.0 / std)

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        term = "|x - D(z)|" if c.loss == "l1" else "(x - D(z))^2"
        return {
            "loss": f"sum over pixels of {term} + {c.kl_weight:g} * KL(q(z|x) || N(0, I)), "
            "per image, z drawn from q (x in [-1, 1])",
            "optimizer": f"Adam, lr {c.lr:g}",
            "scaling_factor": f"1 / std of z ~ q(z|x) over the first {c.latent_images} "
            "training images, after training",
        }
