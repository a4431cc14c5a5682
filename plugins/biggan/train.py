"""BigGAN training recipe: hinge loss, d_steps D updates per G update, orthogonal regulariser."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.biggan.config import BigGANConfig
from zoo.plugins.biggan.model import BigGANGenerator, ProjectionDiscriminator
from zoo.plugins.nn.gan import to_signed
from zoo.registry.contracts import DataNeeds, Recipe


def orthogonal_penalty(net: torch.nn.Module) -> torch.Tensor:
    """sum over weight matrices W of |W W^T * (1 - I)|_F^2 (BigGAN's off-diagonal form).

    Pushes the filters of a layer towards orthogonality without constraining their
    norms; embeddings and 1-D parameters are left out.
    """
    total = torch.zeros(())
    for name, p in net.named_parameters():
        if p.ndim < 2 or "shared" in name:
            continue
        w = p.flatten(1)
        gram = w @ w.t()
        total = total + (gram * (1 - torch.eye(gram.shape[0], device=w.device))).pow(2).sum()
    return total


# the config field that sets each need (zoo train names it when the data differ)
FIELDS = {"image": "channels", "label": "num_classes"}


class BigGANRecipe(Recipe):
    """One step = one D update on the batch; every d_steps-th step also updates G.

    L_D = E[relu(1 - D(x, y))] + E[relu(1 + D(G(z, y), y))], L_G = -E[D(G(z, y), y)]
    (+ beta * orthogonal penalty). Fakes use the batch's own labels.
    """

    generator: BigGANGenerator
    config: BigGANConfig

    @classmethod
    def needs(cls, config: BigGANConfig) -> DataNeeds:
        labels = {"label": config.num_classes}
        return replace(super().needs(config), labels=labels, config_fields=FIELDS)

    def __init__(self, generator: BigGANGenerator, config: BigGANConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.G = generator.net.to(device)
        self.D = ProjectionDiscriminator(config).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.g_lr, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=config.betas)
        self.D.register_buffer("updates", torch.zeros((), dtype=torch.long, device=device))

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        real = to_signed(batch["image"].to(self.device))
        y = batch["label"].to(self.device, torch.long)
        z = torch.randn(real.shape[0], c.latent_dim, device=self.device)
        with torch.no_grad():
            fake = self.G(z, y)
        d_real, d_fake = self.D(real, y), self.D(fake, y)
        loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        self.D.updates += 1
        out = {
            "loss_d": loss_d.item(),
            "d_real": d_real.mean().item(),
            "d_fake": d_fake.mean().item(),
        }
        if int(self.D.updates) % c.d_steps == 0:
            z = torch.randn(real.shape[0], c.latent_dim, device=self.device)
            loss_g = -self.D(self.G(z, y), y).mean()
            total = loss_g
            if c.ortho_weight > 0:
                total = total + c.ortho_weight * orthogonal_penalty(self.G)
            self.opt_g.zero_grad(set_to_none=True)
            total.backward()
            self.opt_g.step()
            out["loss_g"] = loss_g.item()
        return out

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.G, "discriminator": self.D}

    def optimizers(self) -> dict[str, Any]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": "hinge: L_D = E[relu(1 - D(x,y))] + E[relu(1 + D(G(z,y),y))], L_G = -E[D(G(z,y),y)]",
            "regulariser": f"orthogonal, beta={c.ortho_weight:g}" if c.ortho_weight else "none",
            "normalisation": "spectral norm in G and D; conditional batch norm in G",
            "updates": f"{c.d_steps} D steps per G step (a step = a D step)",
            "optimizer": f"Adam, betas {list(c.betas)}, lr G {c.g_lr:g}, D {c.lr:g}",
        }
