"""StyleGAN training recipe: non-saturating loss, lazy R1, mixing regularisation, w_avg."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.nn.gan import to_signed
from zoo.plugins.stylegan.config import StyleGANConfig
from zoo.plugins.stylegan.model import StyleGANGenerator
from zoo.registry.contracts import Recipe


class Discriminator(nn.Module):
    """Plain convolutional D without normalisation (R1 needs per-sample gradients)."""

    def __init__(self, c: StyleGANConfig):
        super().__init__()
        ch, layers, size = (
            c.d_channels,
            [nn.Conv2d(c.channels, c.d_channels, 3, 1, 1)],
            c.image_size,
        )
        while size > 4:
            layers += [nn.LeakyReLU(0.2), nn.Conv2d(ch, ch * 2, 4, 2, 1)]
            ch, size = ch * 2, size // 2
        layers += [nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(ch * 16, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


class StyleGANRecipe(Recipe):
    """One D update (R1 every r1_every steps), then one G update, per batch.

    L_D = softplus(D(G(z))) + softplus(-D(x)) [+ gamma/2 |grad_x D(x)|^2];
    L_G = softplus(-D(G(z))). With probability mixing_prob a batch's fakes use two
    latents switched at a random layer.
    """

    generator: StyleGANGenerator
    config: StyleGANConfig

    def __init__(self, generator: StyleGANGenerator, config: StyleGANConfig, device: torch.device):
        super().__init__(generator, config, device)
        self.net = generator.net.to(device)
        self.D = Discriminator(config).to(device)
        c = config
        self.opt_g = torch.optim.Adam(
            [
                {"params": self.net.mapping.parameters(), "lr": c.lr * c.mapping_lr_mult},
                {"params": self.net.synthesis.parameters(), "lr": c.lr},
            ],
            betas=c.betas,
        )
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=c.betas)
        self.D.register_buffer("updates", torch.zeros((), dtype=torch.long, device=device))

    def fakes(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        c, net = self.config, self.net
        w = net.mapping(torch.randn(n, c.latent_dim, device=self.device))
        ws = w[:, None].repeat(1, net.num_layers, 1)
        if torch.rand(()) < c.mixing_prob:
            w2 = net.mapping(torch.randn(n, c.latent_dim, device=self.device))
            cut = int(torch.randint(1, net.num_layers, ()))
            ws = torch.cat([ws[:, :cut], w2[:, None].expand(-1, net.num_layers - cut, -1)], dim=1)
        sizes = net.synthesis.sizes()
        noise = [torch.randn(n, 1, s, s, device=self.device) for s in sizes]
        return net.synthesis(ws, noise), w

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        real = to_signed(batch["image"].to(self.device))
        n = real.shape[0]

        # 1. D: non-saturating logistic loss, lazy R1 on real images
        with torch.no_grad():
            fake, _ = self.fakes(n)
        lazy = int(self.D.updates) % c.r1_every == 0 and c.r1_gamma > 0
        real_in = real.detach().requires_grad_(lazy)
        d_real = self.D(real_in)
        loss_d = F.softplus(self.D(fake)).mean() + F.softplus(-d_real).mean()
        r1 = torch.zeros((), device=self.device)
        if lazy:
            (grad,) = torch.autograd.grad(d_real.sum(), real_in, create_graph=True)
            r1 = grad.pow(2).flatten(1).sum(1).mean()
            loss_d = loss_d + c.r1_gamma / 2 * r1 * c.r1_every
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        self.D.updates += 1

        # 2. G, and the moving average of w the truncation trick pulls towards
        fake, w = self.fakes(n)
        loss_g = F.softplus(-self.D(fake)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        with torch.no_grad():
            self.net.w_avg.lerp_(w.mean(0), 1 - c.w_avg_beta)
        out = {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
        if lazy:
            out["r1"] = r1.item()
        return out

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.net, "discriminator": self.D}

    def optimizers(self) -> dict[str, Any]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def recipe_summary(self) -> dict[str, Any]:
        c = self.config
        return {
            "loss": "non-saturating logistic; lazy R1 on reals",
            "r1": f"gamma {c.r1_gamma:g}, every {c.r1_every} steps",
            "mixing": f"two latents switched at a random layer for {c.mixing_prob:.0%} of batches",
            "optimizer": f"Adam, lr {c.lr:g} (mapping x{c.mapping_lr_mult:g}), betas {list(c.betas)}",
            "w_avg": f"moving average, beta {c.w_avg_beta}",
        }
