"""Pix2Pix training recipe: one PatchGAN update, then one U-Net update (cGAN + lambda L1)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from zoo.plugins.nn.gan import PatchDiscriminator, to_signed
from zoo.plugins.pix2pix.config import Pix2PixConfig
from zoo.plugins.pix2pix.model import Pix2PixGenerator
from zoo.registry.contracts import DataNeeds, Recipe

# the config field that sets each need (zoo train names it when the data differ)
FIELDS = {"image": "channels", "condition": "cond_channels"}


class Pix2PixRecipe(Recipe):
    """L_D = BCE(D(x, y), 1) + BCE(D(x, G(x)), 0) over the patch grid;
    L_G = BCE(D(x, G(x)), 1) + lambda |y - G(x)|_1 (x: condition, y: the true image)."""

    generator: Pix2PixGenerator
    config: Pix2PixConfig

    @classmethod
    def needs(cls, config: Pix2PixConfig) -> DataNeeds:
        images = {"image": config.channels, "condition": config.cond_channels}
        return replace(super().needs(config), images=images, config_fields=FIELDS)

    def __init__(self, generator: Pix2PixGenerator, config: Pix2PixConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.G = generator.net.to(device)
        self.D = PatchDiscriminator(config.cond_channels + config.channels, config.d_channels).to(
            device
        )
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=config.betas)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        x = to_signed(batch["condition"].to(self.device))
        y = to_signed(batch["image"].to(self.device))
        fake = self.G(x)  # training-mode dropout is the noise

        def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
            return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

        d_real = self.D(torch.cat([x, y], 1))
        d_fake = self.D(torch.cat([x, fake.detach()], 1))
        loss_d = 0.5 * (bce(d_real, 1.0) + bce(d_fake, 0.0))  # halved, as in the paper
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        gan = bce(self.D(torch.cat([x, fake], 1)), 1.0)
        l1 = (fake - y).abs().mean()
        loss_g = gan + self.config.l1_weight * l1
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {"loss_d": loss_d.item(), "loss_g_gan": gan.item(), "l1": l1.item()}

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.G, "discriminator": self.D}

    def optimizers(self) -> dict[str, Any]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": f"conditional GAN (BCE on PatchGAN logits) + {c.l1_weight:g} * L1",
            "discriminator": "PatchGAN on (condition, image) pairs, 22x22 patches",
            "updates": "one D step, then one G step, per batch",
            "optimizer": f"Adam, lr {c.lr:g}, betas {list(c.betas)}",
        }
