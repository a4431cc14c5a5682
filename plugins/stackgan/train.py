"""StackGAN training recipe: Stage-I, then Stage-II with Stage-I frozen; matching-aware Ds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.nn.gan import dcgan_init, to_signed
from zoo.plugins.stackgan.config import StackGANConfig
from zoo.plugins.stackgan.model import StackGANGenerator, kl_loss
from zoo.registry.contracts import DataNeeds, Recipe


class MatchingDiscriminator(nn.Module):
    """(image (B, C, S, S), text embedding (B, text_dim)) -> logit (B,).

    Image features down to 4x4, the text compressed to c_dim and replicated over
    the 4x4 grid, a joint 1x1 convolution, then one 4x4 convolution to the logit.
    """

    def __init__(self, c: StackGANConfig, size: int):
        super().__init__()
        ch, layers = (
            c.d_channels,
            [nn.Conv2d(c.channels, c.d_channels, 4, 2, 1), nn.LeakyReLU(0.2, True)],
        )
        size //= 2
        while size > 4:
            layers += [
                nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch * 2),
                nn.LeakyReLU(0.2, True),
            ]
            ch, size = ch * 2, size // 2
        self.image = nn.Sequential(*layers)
        self.text = nn.Linear(c.text_dim, c.c_dim)
        self.joint = nn.Sequential(
            nn.Conv2d(ch + c.c_dim, ch, 1, bias=False),
            nn.BatchNorm2d(ch),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ch, 1, 4),
        )
        dcgan_init(self)
        self.text.reset_parameters()  # fan-in init, like the generator's CA

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.image(x)
        t = F.leaky_relu(self.text(e), 0.2)[:, :, None, None].expand(-1, -1, *h.shape[2:])
        return self.joint(torch.cat([h, t], 1)).flatten()


class StackGANRecipe(Recipe):
    """Per step: one D update, then one G update, of the stage in training.

    L_D = BCE(D(x, e), 1) + [BCE(D(G(z, e), e), 0) + BCE(D(x, e_wrong), 0)] / 2
    L_G = BCE(D(G(z, e), e), 1) + kl_weight * KL(CA)
    with e_wrong the batch's embeddings rolled by one (a mismatched caption).
    """

    generator: StackGANGenerator
    config: StackGANConfig

    @classmethod
    def needs(cls, config: StackGANConfig) -> DataNeeds:
        return replace(super().needs(config), captions=True)

    def __init__(self, generator: StackGANGenerator, config: StackGANConfig, device: torch.device):
        super().__init__(generator, config, device)
        c = config
        self.net = generator.net.to(device)
        self.D1 = MatchingDiscriminator(c, c.image_size // 2).to(device)
        self.D2 = MatchingDiscriminator(c, c.image_size).to(device)
        adam = {"lr": c.lr, "betas": c.betas}
        self.opt_g1 = torch.optim.Adam(self.net.stage1.parameters(), **adam)
        self.opt_d1 = torch.optim.Adam(self.D1.parameters(), **adam)
        self.opt_g2 = torch.optim.Adam(self.net.stage2.parameters(), **adam)
        self.opt_d2 = torch.optim.Adam(self.D2.parameters(), **adam)
        self.D1.register_buffer("updates", torch.zeros((), dtype=torch.long, device=device))
        self.switch = max(1, round(c.steps * c.stage1_fraction))

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        stage = 1 if int(self.D1.updates) < self.switch else 2
        self.D1.updates += 1
        real = to_signed(batch["image"].to(self.device))
        e = self.generator.embed(list(batch["caption"])).to(self.device)
        wrong = e.roll(1, dims=0)
        z = torch.randn(len(real), c.latent_dim, device=self.device)

        if stage == 1:
            real = F.avg_pool2d(real, 2)  # Stage-I learns the half-size image
            fake, mu, logvar = self.net.stage1(z, e)
            D, opt_g, opt_d = self.D1, self.opt_g1, self.opt_d1
        else:
            self.net.stage1.eval()  # frozen, as in the paper
            with torch.no_grad():
                low, _, _ = self.net.stage1(z, e)
            fake, mu, logvar = self.net.stage2(low, e)
            D, opt_g, opt_d = self.D2, self.opt_g2, self.opt_d2

        def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
            return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

        loss_d = bce(D(real, e), 1.0) + 0.5 * (
            bce(D(fake.detach(), e), 0.0) + bce(D(real, wrong), 0.0)
        )
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        adv = bce(D(fake, e), 1.0)
        kl = kl_loss(mu, logvar)
        opt_g.zero_grad(set_to_none=True)
        (adv + c.kl_weight * kl).backward()
        opt_g.step()
        return {
            f"loss_d{stage}": loss_d.item(),
            f"loss_g{stage}": adv.item(),
            f"kl{stage}": kl.item(),
        }

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.net, "d_stage1": self.D1, "d_stage2": self.D2}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": "matching-aware GAN (BCE; real image + wrong caption counts as fake) + KL of CA",
            "phases": f"Stage-I for the first {self.switch} steps, then Stage-II with Stage-I frozen",
            "text": f"frozen {c.text_encoder} text embeddings ({c.text_dim}-d)",
            "optimizer": f"Adam, lr {c.lr:g}, betas {list(c.betas)}",
        }
