"""VAE training recipe: the negative ELBO with a beta-weighted KL term."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.vae.model import VAEConfig, VAEGenerator
from zoo.registry.contracts import Recipe


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) per sample, summed over dimensions: (B,)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)


class VAERecipe(Recipe):
    """L = E_x[ BCE_sum(d(z), x) + beta * KL(q(z|x) || N(0, I)) ], z = mu + sigma * eps."""

    generator: VAEGenerator
    config: VAEConfig

    def __init__(self, generator: VAEGenerator, config: VAEConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.net = generator
        params = [p for m in generator.networks().values() for p in m.to(device).parameters()]
        self.opt = torch.optim.Adam(params, lr=config.lr)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        x = batch["image"].to(self.device)
        mu, logvar = self.net.posterior(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # reparameterisation
        recon = (
            F.binary_cross_entropy(self.net.decode(z), x, reduction="none").flatten(1).sum(1).mean()
        )
        kl = kl_to_standard_normal(mu, logvar).mean()
        loss = recon + self.config.beta * kl
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item(), "reconstruction": recon.item(), "kl": kl.item()}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": f"negative ELBO: BCE summed over pixels + {c.beta:g} * KL(q(z|x) || N(0, I))",
            "sampling": "z = mu + sigma * eps (reparameterisation)",
            "optimizer": f"Adam, lr {c.lr:g}",
        }
