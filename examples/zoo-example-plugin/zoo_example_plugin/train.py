"""Checkers training recipe: maximise the conditional ELBO (Kingma & Welling 2013, eq. 10)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from zoo.registry.contracts import Recipe
from zoo.registry.errors import RequestError

from zoo_example_plugin.config import CheckersConfig
from zoo_example_plugin.model import CheckersGenerator, Encoder


class CheckersRecipe(Recipe):
    """Per step: encode, reparameterise, decode, one Adam step on encoder and decoder.

    loss = E_q[-log p(x | z, y)] + kl_weight * KL(q(z | x, y) || N(0, I)), both
    summed over pixels / latent components and averaged over the batch. The
    zoo seeds the global torch RNG before training; eps is drawn from it.
    """

    generator: CheckersGenerator
    config: CheckersConfig

    def __init__(self, generator: CheckersGenerator, config: CheckersConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.decoder = generator.decoder.to(device)
        self.encoder = Encoder(config).to(device)
        params = [*self.encoder.parameters(), *self.decoder.parameters()]
        self.opt = torch.optim.Adam(params, lr=config.lr)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        if "label" not in batch:
            raise RequestError("the checkers recipe needs labelled data (cell sizes 0..2)")
        x = batch["image"].to(self.device)
        y = batch["label"].to(self.device).long()
        mu, logvar = self.encoder(x, y)
        # reparameterisation: z = mu + sigma * eps, eps ~ N(0, I)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.decoder(z, y)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        # KL(N(mu, sigma^2) || N(0, 1)) = -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
        loss = recon + self.config.kl_weight * kl
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item(), "recon": recon.item(), "kl": kl.item()}

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"decoder": self.decoder, "encoder": self.encoder}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": "negative ELBO: cross-entropy reconstruction"
            " + kl_weight * KL(q(z|x,y) || N(0, I))",
            "optimizer": "Adam (encoder and decoder)",
            "lr": c.lr,
            "kl_weight": c.kl_weight,
            "batch_size": c.batch_size,
            "steps": c.steps,
        }
