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

Networks: the generator is the DCGAN one (``UnconditionalConvGenerator`` in
``plugins/nn/gan.py``, shared with the dcgan family); the critic is DCGAN's discriminator
without batch normalisation (the penalty is per sample, which batch statistics
would break) and with layer normalisation instead, as Gulrajani et al. advise.
Where it differs: sized for 16x16 digits rather than the papers' 64x64 / 32x32.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.plugins.nn.gan import UnconditionalConvGenerator, dcgan_init, num_stages
from zoo.plugins.wgan.config import WGANConfig


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


class WGANGenerator(UnconditionalConvGenerator):
    """The DCGAN generator; only the critic and the loss differ (see the recipe)."""

    family = "wgan"
    config_class = WGANConfig
