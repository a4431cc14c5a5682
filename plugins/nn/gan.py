"""Building blocks shared by the GAN families: losses, DCGAN-style bodies, one training step,
and the unconditional DCGAN generator that DCGAN and WGAN share.

Notation (Goodfellow et al. 2014): D(x) = sigmoid(l(x)) is the discriminator's
probability that x is real, l its logit; G(z) maps noise z ~ N(0, I) to an image.
The networks work on images in [-1, 1] (tanh output); `to_unit` / `to_signed`
convert from and to the zoo's [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.nn.gan_config import ConvGANConfig
from zoo.registry.contracts import OneShotGenerator
from zoo.registry.options import TruncationOptions


def to_signed(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1]."""
    return x * 2 - 1


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1]."""
    return (x + 1) / 2


# -- losses ---------------------------------------------------------------------
# The minimax game: min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))].
# Written on logits, log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l),
# which stays finite where D saturates.


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_D = -E_x[log D(x)] - E_z[log(1 - D(G(z)))]: D maximises V."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """L_G = E_z[log(1 - D(G(z)))]: G minimises V as written in the game.

    Its gradient vanishes when D confidently rejects the fakes (early training).
    """
    return -F.softplus(fake_logits).mean()


def generator_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """L_G = -E_z[log D(G(z))]: same fixed point, strong gradients early (the paper's advice)."""
    return F.softplus(-fake_logits).mean()


def adversarial_step(
    fake: torch.Tensor,
    real: torch.Tensor,
    discriminate: Callable[[torch.Tensor], torch.Tensor],
    opt_d: torch.optim.Optimizer,
    opt_g: torch.optim.Optimizer,
    generator_loss: Callable[[torch.Tensor], torch.Tensor] = generator_loss_nonsaturating,
) -> dict[str, float]:
    """One discriminator update, then one generator update, on one batch.

    Args:
        fake: G(z), still attached to the generator's graph, (B, C, H, W) in [-1, 1].
        real: data, (B, C, H, W) in [-1, 1].
        discriminate: image batch -> logits (B,); closes over any condition.
        opt_d: optimiser of the discriminator's parameters.
        opt_g: optimiser of the generator's parameters.
        generator_loss: the generator's objective on D's logits of the fakes.

    Returns:
        loss_d, loss_g, and d_real / d_fake (mean D(x) and D(G(z)) seen by the D step).
    """
    # 1. D step: push D(x) up and D(G(z)) down; the fakes are detached so G is untouched
    real_logits = discriminate(real)
    fake_logits = discriminate(fake.detach())
    loss_d = discriminator_loss(real_logits, fake_logits)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()

    # 2. G step: the same fakes scored by the updated D; gradients flow into G only
    #    (D's gradients are computed but cleared before its next step)
    loss_g = generator_loss(discriminate(fake))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()

    return {
        "loss_d": loss_d.item(),
        "loss_g": loss_g.item(),
        "d_real": torch.sigmoid(real_logits).mean().item(),
        "d_fake": torch.sigmoid(fake_logits).mean().item(),
    }


# -- DCGAN bodies (Radford et al. 2015) ----------------------------------------------


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: conv weights ~ N(0, 0.02), batchnorm scales ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def num_stages(image_size: int) -> int:
    """Number of 2x resolution changes between 4x4 and image_size (a power of two >= 8)."""
    return int(math.log2(image_size)) - 2


class UpsampleGenerator(nn.Module):
    """DCGAN generator body: a vector -> 4x4 maps -> doubled by transposed convs -> image.

    Each stage is ConvTranspose(4, stride 2) + BatchNorm + ReLU and halves the
    channels; the last one maps to image channels with tanh and no batchnorm.

    Args:
        in_dim: length of the input vector (latent, plus any condition embedding).
        out_channels: image channels.
        image_size: output side, a power of two >= 8.
        base_channels: channels just before the output layer; 4x4 maps have
            base_channels * 2**(stages - 1).
    """

    def __init__(self, in_dim: int, out_channels: int, image_size: int, base_channels: int):
        super().__init__()
        stages = num_stages(image_size)
        ch = base_channels * 2 ** (stages - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(in_dim, ch, 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.BatchNorm2d(ch),
            nn.ReLU(inplace=True),
        ]
        for _ in range(stages - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch // 2),
                nn.ReLU(inplace=True),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, out_channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """(B, in_dim) -> (B, out_channels, S, S) in [-1, 1]."""
        return self.net(v[:, :, None, None])


class UnconditionalConvGenerator(OneShotGenerator):
    """z ~ N(0, I) -> image through one ``UpsampleGenerator``: the sampling side of the
    families that differ only in how they train it (DCGAN, WGAN).

    A family subclasses it to set ``family`` and ``config_class`` (a ``ConvGANConfig``).
    The network's weights are the part "generator".
    """

    capabilities = ("unconditional",)
    options_class = TruncationOptions

    def __init__(self, config: ConvGANConfig) -> None:
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


class ConvDiscriminator(nn.Module):
    """DCGAN discriminator body: strided convs + LeakyReLU(0.2) down to 4x4, then one logit.

    The first layer has no batchnorm (as in the paper); each later stage doubles
    the channels and halves the side. ``features`` and ``head`` are separate so
    a conditional model can add a projection term on the 4x4 features.

    Args:
        in_channels: input channels (image channels, plus any condition maps).
        image_size: input side, a power of two >= 8.
        base_channels: channels after the first layer.
    """

    def __init__(self, in_channels: int, image_size: int, base_channels: int):
        super().__init__()
        ch = base_channels
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, ch, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for _ in range(num_stages(image_size) - 1):
            layers += [
                nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            ch *= 2
        self.features = nn.Sequential(*layers)
        self.out_channels = ch
        self.head = nn.Conv2d(ch, 1, 4, 1, 0)  # 4x4 -> 1x1
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, S, S) -> logits (B,)."""
        return self.head(self.features(x)).flatten()


# -- image-to-image pieces (Pix2Pix, CycleGAN) -------------------------------------------


def norm2d(kind: str, channels: int) -> nn.Module:
    """'batch' or 'instance' normalisation (instance: per image, so no batch dependence)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.InstanceNorm2d(channels, affine=True)


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017): a grid of logits, each judging one patch of the input.

    Two stride-2 convolutions then two stride-1 convolutions (4x4 kernels): each
    output logit sees a 22x22 patch of the input, and the loss averages over the
    grid, so D models local texture and leaves global structure to the L1 term (or
    to cycle consistency).

    Args:
        in_channels: channels of what D sees (the image, plus the condition for Pix2Pix).
        base_channels: channels after the first layer (doubled after each later one).
        norm: "batch" or "instance".
    """

    def __init__(self, in_channels: int, base_channels: int, norm: str = "batch"):
        super().__init__()
        ch = base_channels
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, ch, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ch, ch * 2, 4, 2, 1),
            norm2d(norm, ch * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ch * 2, ch * 4, 4, 1, 1),
            norm2d(norm, ch * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ch * 4, 1, 4, 1, 1),
        )
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> logits (B, 1, H/4 - 2, W/4 - 2)."""
        return self.net(x)
