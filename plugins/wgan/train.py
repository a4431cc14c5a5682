"""WGAN training recipe: n_critic critic updates per generator update."""

from __future__ import annotations

from typing import Any

import torch

from zoo.plugins.nn.gan import to_signed
from zoo.plugins.wgan.config import WGANConfig
from zoo.plugins.wgan.model import Critic, WGANGenerator
from zoo.registry.contracts import Recipe


def gradient_penalty(
    critic: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """E[(|grad_x^ f(x^)|_2 - 1)^2] with x^ = eps x + (1 - eps) G(z), eps ~ U[0, 1] per sample."""
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


class WGANRecipe(Recipe):
    """One step = one critic update on the batch; every n_critic-th step also updates G.

    Critic loss: E[f(G(z))] - E[f(x)] (+ lambda * penalty); generator loss: -E[f(G(z))].
    ``wasserstein`` in the logged losses is E[f(x)] - E[f(G(z))], the critic's estimate
    of the distance (up to the Lipschitz constant): it should fall as G improves.
    """

    generator: WGANGenerator
    config: WGANConfig

    def __init__(self, generator: WGANGenerator, config: WGANConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.G = generator.net.to(device)
        self.D = Critic(config).to(device)
        if config.lipschitz == "clip":
            self.opt_g = torch.optim.RMSprop(self.G.parameters(), lr=config.lr)
            self.opt_d = torch.optim.RMSprop(self.D.parameters(), lr=config.lr)
        else:
            self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=config.betas)
            self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=config.betas)
        # critic updates so far, kept in the critic's state so a resumed run stays in phase
        self.D.register_buffer("updates", torch.zeros((), dtype=torch.long, device=device))

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        self.G.train()
        self.D.train()
        real = to_signed(batch["image"].to(self.device))
        z = torch.randn(real.shape[0], c.latent_dim, device=self.device)

        # 1. critic: maximise E[f(x)] - E[f(G(z))]
        fake = self.G(z).detach()
        f_real, f_fake = self.D(real).mean(), self.D(fake).mean()
        loss_d = f_fake - f_real
        penalty = torch.zeros((), device=self.device)
        if c.lipschitz == "gp":
            penalty = gradient_penalty(self.D, real, fake)
            loss_d = loss_d + c.gp_weight * penalty
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        if c.lipschitz == "clip":
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-c.clip_value, c.clip_value)
        self.D.updates += 1
        out = {
            "loss_d": loss_d.item(),
            "wasserstein": (f_real - f_fake).item(),
            "penalty": penalty.item(),
        }

        # 2. generator, after every n_critic critic updates: minimise -E[f(G(z))]
        if int(self.D.updates) % c.n_critic == 0:
            z = torch.randn(real.shape[0], c.latent_dim, device=self.device)
            loss_g = -self.D(self.G(z)).mean()
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
            out["loss_g"] = loss_g.item()
        return out

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.G, "critic": self.D}

    def optimizers(self) -> dict[str, Any]:
        return {"generator": self.opt_g, "critic": self.opt_d}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        lip = (
            f"gradient penalty, lambda={c.gp_weight:g}"
            if c.lipschitz == "gp"
            else f"weight clipping to [-{c.clip_value:g}, {c.clip_value:g}]"
        )
        return {
            "loss": "Wasserstein: L_critic = E[f(G(z))] - E[f(x)], L_G = -E[f(G(z))]",
            "lipschitz": lip,
            "updates": f"{c.n_critic} critic steps per generator step (a step = a critic step)",
            "optimizer": "RMSprop" if c.lipschitz == "clip" else f"Adam, betas {list(c.betas)}",
            "lr": c.lr,
        }
