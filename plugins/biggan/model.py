"""BigGAN: a class-conditional GAN built to scale, with the truncation trick.

Paper: Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity
Natural Image Synthesis" (2018), arXiv:1809.11096.

What is here, as in the paper:
- a *shared* class embedding: one embedding of the label, fed to every
  generator block's conditional batch norm, whose per-channel gain and bias are
  linear projections of [shared embedding, chunk of z] ("hierarchical latent":
  z is split into one chunk for the 4x4 input and one per block);
- residual up-blocks in G and down-blocks in D (BN-ReLU-upsample-conv-BN-ReLU-conv,
  with a 1x1 conv on the upsampled shortcut);
- spectral normalisation of every convolution and linear layer of G and D;
- a projection discriminator (Miyato & Koyama 2018): D(x, y) = psi(h) + <embed(y), h>
  on globally sum-pooled features h;
- the hinge loss; Adam with betas (0, 0.999), D learning rate 4x G's, two D steps per
  G step; the orthogonal regulariser on G's weights (off-diagonal form);
- the truncation trick at sampling: z components with |z| > psi are redrawn
  (``--truncation``; done by the one-shot sampler).

Where it differs: sized for 16x16 digits (two up-blocks, widths 64/32/16, not
256x256 ImageNet); no self-attention block (at 16x16 it would see every pixel
from the first convolution anyway) and no exponential moving average of G's
weights; batch 64, not 2048.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from zoo.plugins.biggan.config import BigGANConfig
from zoo.plugins.nn.gan import num_stages, to_unit
from zoo.registry.contracts import Conditions, OneShotGenerator
from zoo.registry.errors import RequestError
from zoo.registry.options import Options, TruncationOptions
from zoo.registry.seeds import class_labels


def sn_conv(cin: int, cout: int, k: int = 3) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, k, 1, k // 2))


def sn_linear(cin: int, cout: int, bias: bool = True) -> nn.Module:
    return spectral_norm(nn.Linear(cin, cout, bias=bias))


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without its own affine; gain 1 + W_g c and bias W_b c from the condition c."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = sn_linear(cond_dim, channels, bias=False)
        self.bias = sn_linear(cond_dim, channels, bias=False)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.bn(x) * (1 + self.gain(c))[:, :, None, None] + self.bias(c)[:, :, None, None]


class UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int, cond_dim: int):
        super().__init__()
        self.bn1, self.bn2 = (
            ConditionalBatchNorm(cin, cond_dim),
            ConditionalBatchNorm(cout, cond_dim),
        )
        self.conv1, self.conv2 = sn_conv(cin, cout), sn_conv(cout, cout)
        self.skip = sn_conv(cin, cout, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, c)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), c)))
        return h + self.skip(F.interpolate(x, scale_factor=2))


class BigGANNetwork(nn.Module):
    """(z (B, latent_dim), y (B,)) -> image (B, C, S, S) in [-1, 1]."""

    def __init__(self, c: BigGANConfig):
        super().__init__()
        blocks = num_stages(c.image_size)  # 4x4 -> image_size
        if c.latent_dim % (blocks + 1):
            raise ValueError(
                f"latent_dim {c.latent_dim} must split into {blocks + 1} equal chunks "
                f"(one for the input, one per block) at image_size {c.image_size}"
            )
        self.chunk = c.latent_dim // (blocks + 1)
        widths = [c.g_channels * 2**i for i in range(blocks, -1, -1)]  # e.g. 128, 64, 32
        self.shared = nn.Embedding(c.num_classes, c.shared_dim)
        self.input = sn_linear(self.chunk, widths[0] * 16)
        self.blocks = nn.ModuleList(
            UpBlock(widths[i], widths[i + 1], c.shared_dim + self.chunk) for i in range(blocks)
        )
        self.out_bn = nn.BatchNorm2d(widths[-1])
        self.out = sn_conv(widths[-1], c.channels)
        self.width = widths[0]

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        chunks = z.split(self.chunk, dim=1)
        shared = self.shared(y)
        h = self.input(chunks[0]).view(z.shape[0], self.width, 4, 4)
        for block, zc in zip(self.blocks, chunks[1:], strict=True):
            h = block(h, torch.cat([shared, zc], dim=1))
        return torch.tanh(self.out(F.relu(self.out_bn(h))))


class DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int, first: bool):
        super().__init__()
        self.first = first
        self.conv1, self.conv2 = sn_conv(cin, cout), sn_conv(cout, cout)
        self.skip = sn_conv(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)  # no activation on the raw image
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(h))), 2)
        return h + F.avg_pool2d(self.skip(x), 2)


class ProjectionDiscriminator(nn.Module):
    """(x (B, C, S, S) in [-1, 1], y (B,)) -> logits (B,): psi(h) + <embed(y), h>."""

    def __init__(self, c: BigGANConfig):
        super().__init__()
        blocks = num_stages(c.image_size)
        widths = [c.channels] + [c.d_channels * 2**i for i in range(blocks)]
        self.blocks = nn.Sequential(
            *(DownBlock(widths[i], widths[i + 1], i == 0) for i in range(blocks))
        )
        self.psi = sn_linear(widths[-1], 1)
        self.embed = spectral_norm(nn.Embedding(c.num_classes, widths[-1]))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling
        return self.psi(h).flatten() + (self.embed(y) * h).sum(dim=1)


class BigGANGenerator(OneShotGenerator):
    family = "biggan"
    capabilities = ("class",)
    config_class = BigGANConfig
    options_class = TruncationOptions

    def __init__(self, config: BigGANConfig) -> None:
        super().__init__(config)
        self.net = BigGANNetwork(config)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.net}

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def labels(self, conditions: Conditions, seeds: Sequence[int]) -> list[int]:
        """The conditions' label for every image, else seed % num_classes."""
        return class_labels(conditions.label, self.config.num_classes, list(seeds))

    def drawn_labels(self, conditions: Conditions, seeds: Sequence[int]) -> list[int] | None:
        return None if conditions.label is not None else self.labels(conditions, seeds)

    def inputs(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        """{"label": (B,) int64}, as ``labels`` gives them."""
        return {"label": torch.tensor(self.labels(conditions, seeds), dtype=torch.long)}

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        y = conditions.get("label")
        if y is None:
            raise RequestError("the biggan generator needs conditions['label'] (one per image)")
        y = torch.as_tensor(y, dtype=torch.long, device=z.device).reshape(-1)
        if y.shape[0] != z.shape[0] or (y < 0).any() or (y >= self.config.num_classes).any():
            raise RequestError(f"give one label in 0..{self.config.num_classes - 1} per latent")
        return to_unit(self.net(z, y))
