"""GAN training recipe: alternating D and G steps (Goodfellow et al. 2014, Algorithm 1, k = 1)."""

from __future__ import annotations

from typing import Any

import torch

from zoo.plugins.gan.config import GANConfig
from zoo.plugins.gan.model import GANGenerator, MLPDiscriminator
from zoo.plugins.nn.gan import adversarial_step, generator_loss_nonsaturating, to_signed
from zoo.registry.contracts import Recipe


class GANRecipe(Recipe):
    """Per step: one discriminator update, then one generator update.

    D ascends E_x[log D(x)] + E_z[log(1 - D(G(z)))]; G descends -E_z[log D(G(z))],
    the non-saturating form the paper recommends over log(1 - D(G(z))), whose
    gradient vanishes while D easily rejects early fakes. Uses the global torch
    RNG for z (the zoo seeds it before training).
    """

    generator: GANGenerator
    config: GANConfig

    def __init__(self, generator: GANGenerator, config: GANConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.G = generator.net.to(device)
        self.D = MLPDiscriminator(config).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=config.betas)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.G.train()
        self.D.train()
        real = to_signed(batch["image"].to(self.device))
        z = torch.randn(real.shape[0], self.config.latent_dim, device=self.device)
        return adversarial_step(
            self.G(z), real, self.D, self.opt_d, self.opt_g, generator_loss_nonsaturating
        )

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.G, "discriminator": self.D}

    def optimizers(self) -> dict[str, Any]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": (
                "minimax GAN for D: L_D = -log D(x) - log(1 - D(G(z))); non-saturating for G: "
                "L_G = -log D(G(z)) (the paper's practical advice)"
            ),
            "updates": "one discriminator step, then one generator step, per batch (k = 1)",
            "optimizer": "Adam (generator and discriminator)",
            "lr": c.lr,
            "betas": list(c.betas),
            "discriminator_dropout": c.d_dropout,
        }
