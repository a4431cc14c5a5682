"""DCGAN training recipe: alternating D and G Adam steps on the non-saturating GAN loss."""

from __future__ import annotations

from typing import Any

import torch

from zoo.plugins.dcgan.config import DCGANConfig
from zoo.plugins.dcgan.model import DCGANGenerator, build_discriminator
from zoo.plugins.nn.gan import adversarial_step, to_signed
from zoo.registry.contracts import Recipe


class DCGANRecipe(Recipe):
    """Per step: one discriminator update, then one generator update (Radford et al. 2015).

    Uses the global torch RNG for z (the zoo seeds it before training).
    """

    generator: DCGANGenerator
    config: DCGANConfig

    def __init__(self, generator: DCGANGenerator, config: DCGANConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.G = generator.net.to(device)
        self.D = build_discriminator(config).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=config.betas)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.G.train()
        self.D.train()
        real = to_signed(batch["image"].to(self.device))
        z = torch.randn(real.shape[0], self.config.latent_dim, device=self.device)
        return adversarial_step(self.G(z), real, self.D, self.opt_d, self.opt_g)

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.G, "discriminator": self.D}

    def optimizers(self) -> dict[str, Any]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": "non-saturating GAN: L_D = -log D(x) - log(1 - D(G(z))), L_G = -log D(G(z))",
            "updates": "one discriminator step, then one generator step, per batch",
            "optimizer": "Adam (generator and discriminator)",
            "lr": c.lr,
            "betas": list(c.betas),
            "init": "N(0, 0.02) conv weights, N(1, 0.02) batchnorm scales",
        }
