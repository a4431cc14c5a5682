"""Conditional GAN training recipe: alternating D and G steps, both conditioned on labels."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from zoo.plugins.cgan.config import CGANConfig
from zoo.plugins.cgan.model import CGANGenerator, ConditionalDiscriminator
from zoo.plugins.nn.gan import adversarial_step, to_signed
from zoo.registry.contracts import DataNeeds, Recipe

# the config field that sets each need (zoo train names it when the data differ)
FIELDS = {"image": "channels", "label": "num_classes"}


class CGANRecipe(Recipe):
    """Per step: one discriminator update, then one generator update (Mirza & Osindero 2014).

    The fakes of a batch are drawn with the batch's own labels, so the labels
    alone never tell D which images are fake: it must judge whether each image
    is a real example of its label. Uses the global torch RNG for z.
    """

    generator: CGANGenerator
    config: CGANConfig

    @classmethod
    def needs(cls, config: CGANConfig) -> DataNeeds:
        labels = {"label": config.num_classes}
        return replace(super().needs(config), labels=labels, config_fields=FIELDS)

    def __init__(self, generator: CGANGenerator, config: CGANConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.G = generator.net.to(device)
        self.D = ConditionalDiscriminator(config).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=config.betas)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.G.train()
        self.D.train()
        real = to_signed(batch["image"].to(self.device))
        y = batch["label"].to(self.device, torch.long)
        z = torch.randn(real.shape[0], self.config.latent_dim, device=self.device)
        return adversarial_step(self.G(z, y), real, lambda x: self.D(x, y), self.opt_d, self.opt_g)

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.G, "discriminator": self.D}

    def optimizers(self) -> dict[str, Any]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": (
                "conditional non-saturating GAN: L_D = -log D(x|y) - log(1 - D(G(z|y)|y)), "
                "L_G = -log D(G(z|y)|y)"
            ),
            "conditioning": "G: label embedding appended to z; D: one-hot label planes",
            "updates": "one discriminator step, then one generator step, per batch",
            "optimizer": "Adam (generator and discriminator)",
            "lr": c.lr,
            "betas": list(c.betas),
        }
