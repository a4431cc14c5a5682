"""CycleGAN training recipe: both generators, then both discriminators, per batch."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import torch

from zoo.plugins.cyclegan.config import CycleGANConfig
from zoo.plugins.cyclegan.model import CycleGANGenerator
from zoo.plugins.nn.gan import PatchDiscriminator, to_signed
from zoo.registry.contracts import DataNeeds, Recipe


def lsgan(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Least-squares GAN loss: mean (D(x) - target)^2 over the patch grid."""
    return ((logits - target) ** 2).mean()


# the config field that sets each need (zoo train names it when the data differ)
FIELDS = {"image_a": "channels", "image_b": "channels"}


class CycleGANRecipe(Recipe):
    """Per batch (a from domain A, b from B, unpaired):
    L_G = lsgan(D_B(G(a)), 1) + lsgan(D_A(F(b)), 1)
          + lambda (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)
          + identity * lambda (|G(b) - b|_1 + |F(a) - a|_1);
    L_D = 0.5 (lsgan(D(real), 1) + lsgan(D(fake), 0)) for each discriminator."""

    generator: CycleGANGenerator
    config: CycleGANConfig

    @classmethod
    def needs(cls, config: CycleGANConfig) -> DataNeeds:
        images = {"image_a": config.channels, "image_b": config.channels}
        return replace(super().needs(config), images=images, config_fields=FIELDS)

    def __init__(self, generator: CycleGANGenerator, config: CycleGANConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.G, self.F = generator.g_ab.to(device), generator.g_ba.to(device)
        self.D_A = PatchDiscriminator(config.channels, config.d_channels, "instance").to(device)
        self.D_B = PatchDiscriminator(config.channels, config.d_channels, "instance").to(device)
        g_params = itertools.chain(self.G.parameters(), self.F.parameters())
        d_params = itertools.chain(self.D_A.parameters(), self.D_B.parameters())
        self.opt_g = torch.optim.Adam(g_params, lr=config.lr, betas=config.betas)
        self.opt_d = torch.optim.Adam(d_params, lr=config.lr, betas=config.betas)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        a = to_signed(batch["image_a"].to(self.device))
        b = to_signed(batch["image_b"].to(self.device))

        # 1. generators (the discriminators' gradients are cleared before their own step)
        fake_b, fake_a = self.G(a), self.F(b)
        adv = lsgan(self.D_B(fake_b), 1.0) + lsgan(self.D_A(fake_a), 1.0)
        cycle = (self.F(fake_b) - a).abs().mean() + (self.G(fake_a) - b).abs().mean()
        loss_g = adv + c.cycle_weight * cycle
        identity = torch.zeros((), device=self.device)
        if c.identity_weight > 0:
            identity = (self.G(b) - b).abs().mean() + (self.F(a) - a).abs().mean()
            loss_g = loss_g + c.identity_weight * c.cycle_weight * identity
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()

        # 2. discriminators, on the fakes just made
        loss_d = 0.5 * (
            lsgan(self.D_A(a), 1.0)
            + lsgan(self.D_A(fake_a.detach()), 0.0)
            + lsgan(self.D_B(b), 1.0)
            + lsgan(self.D_B(fake_b.detach()), 0.0)
        )
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return {
            "loss_g_adv": adv.item(),
            "cycle": cycle.item(),
            "identity": identity.item(),
            "loss_d": loss_d.item(),
        }

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"g_ab": self.G, "g_ba": self.F, "d_a": self.D_A, "d_b": self.D_B}

    def optimizers(self) -> dict[str, Any]:
        return {"generators": self.opt_g, "discriminators": self.opt_d}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": (
                f"LSGAN both ways + {c.cycle_weight:g} * cycle L1 "
                f"+ {c.identity_weight * c.cycle_weight:g} * identity L1"
            ),
            "discriminators": "two PatchGANs (instance norm), 22x22 patches",
            "updates": "both generators, then both discriminators, per batch",
            "optimizer": f"Adam, lr {c.lr:g}, betas {list(c.betas)}",
        }
