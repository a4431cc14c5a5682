"""WGAN-GP: a generator trained against a critic that estimates the Wasserstein-1 distance.

Papers: Arjovsky, Chintala & Bottou, "Wasserstein GAN" (2017), arXiv:1701.07875;
Gulrajani et al., "Improved Training of Wasserstein GANs" (2017), arXiv:1704.00028.

The critic f is not a classifier: it outputs an unbounded score, and by the
Kantorovich-Rubinstein duality W(P_r, P_g) = sup_{|f|_L <= 1} E_x[f(x)] - E_z[f(G(z))].
The critic maximises that difference, the generator minimises -E_z[f(G(z))].
The supremum is over 1-Lipschitz functions: the original WGAN clips every critic
weight to [-c, c] (RMSprop, lr 5e-5); WGAN-GP instead adds
lambda * E_x^[(|grad f(x^)|_2 - 1)^2] at points x^ on lines between real and fake
samples (lambda = 10, Adam lr 1e-4, betas (0, 0.9), 5 critic steps per G step).
Both are in the recipe (``lipschitz`` in the config).

Networks: the generator is the DCGAN body; the critic is DCGAN's discriminator
without batch normalisation (the penalty is per sample, which batch statistics
would break) and with layer normalisation instead, as Gulrajani et al. advise.
Where it differs: sized for 16x16 digits rather than the papers' 64x64 / 32x32.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from zoo.plugins.nn.gan import UpsampleGenerator, dcgan_init, num_stages, to_unit
from zoo.plugins.wgan.config import WGANConfig
from zoo.registry.contracts import OneShotGenerator


class Critic(nn.Module):
    """(B, C, S, S) in [-1, 1] -> scores (B,): strided convs, layer norm, LeakyReLU(0.2)."""

    def __init__(self, config: WGANConfig):
        super().__init__()
        ch = config.d_channels
        layers: list[nn.Module] = [
            nn.Conv2d(config.channels, ch, 4, 2, 1),
            nn.LeakyReLU(0.2),
        ]
        for _ in range(num_stages(config.image_size) - 1):
            # GroupNorm with one group normalises each sample over (C, H, W): layer norm
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1), nn.GroupNorm(1, ch * 2), nn.LeakyReLU(0.2)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, 4, 1, 0)]  # 4x4 -> 1x1: the score, no sigmoid
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


class WGANGenerator(OneShotGenerator):
    family = "wgan"
    capabilities = ("unconditional",)
    config_class = WGANConfig

    def __init__(self, config: WGANConfig) -> None:
        super().__init__(config)
        self.net = UpsampleGenerator(
            config.latent_dim, config.channels, config.image_size, config.g_channels
        )

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.net}

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        """Latents (B, latent_dim) -> images (B, C, S, S) in [0, 1]."""
        return to_unit(self.net(z))
