"""Pix2Pix: image-to-image translation with a conditional GAN on paired data.

Paper: Isola, Zhu, Zhou & Efros, "Image-to-Image Translation with Conditional
Adversarial Networks" (2017), arXiv:1611.07004.

G is a U-Net: an encoder of stride-2 convolutions (LeakyReLU 0.2, batch norm
after the first) and a decoder of transposed convolutions (ReLU, batch norm)
whose every layer is concatenated with the encoder layer of the same size (the
skip connections carry the edges' positions straight to the output). D is a
PatchGAN (``plugins/nn/gan.py``) shown (condition, image) pairs. The loss is the
conditional GAN loss plus lambda * |y - G(x)|_1 with lambda = 100; Adam 2e-4,
betas (0.5, 0.999).

Noise: as in the paper, there is no z; the only randomness is dropout in the
innermost decoder layer, kept on at sampling. Here its mask comes from each
image's seed (a torch.Generator per image), so an image is reproducible and does
not depend on its batch. Where it differs: 32x32 scenes and a 3-level U-Net
(the paper's is 8 levels at 256x256); batch norm uses running statistics at
sampling (the paper used the test batch's statistics, which would make an image
depend on its batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.nn.gan import dcgan_init, to_signed, to_unit
from zoo.plugins.pix2pix.config import Pix2PixConfig
from zoo.registry.contracts import Conditions, ImageRule, OneShotGenerator, shape_of_input
from zoo.registry.errors import RequestError
from zoo.registry.options import Options

MAX_SIDE = 512


class UNet(nn.Module):
    """(condition (B, Cc, H, W) in [-1, 1], dropout masks) -> image (B, C, H, W) in [-1, 1]."""

    def __init__(self, c: Pix2PixConfig):
        super().__init__()
        widths = [min(c.g_channels * 2**i, 8 * c.g_channels) for i in range(c.depth)]
        self.down = nn.ModuleList()
        cin = c.cond_channels
        for i, w in enumerate(widths):
            layers: list[nn.Module] = [nn.Conv2d(cin, w, 4, 2, 1)]
            if i > 0:
                layers.append(nn.BatchNorm2d(w))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            self.down.append(nn.Sequential(*layers))
            cin = w
        self.up = nn.ModuleList()
        for i in range(c.depth - 1, 0, -1):  # innermost first; input doubles after the first
            w_in = widths[i] if i == c.depth - 1 else widths[i] * 2
            self.up.append(
                nn.Sequential(
                    nn.ConvTranspose2d(w_in, widths[i - 1], 4, 2, 1),
                    nn.BatchNorm2d(widths[i - 1]),
                    nn.ReLU(inplace=True),
                )
            )
        self.out = nn.ConvTranspose2d(widths[0] * 2, c.channels, 4, 2, 1)
        self.dropout = c.dropout
        self.inner_channels = widths[-2]
        dcgan_init(self)

    def forward(self, x: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = skips.pop()
        for k, layer in enumerate(self.up):
            x = layer(x)
            if k == 0 and self.dropout > 0:  # the innermost decoder layer: the noise
                if masks is None:
                    x = F.dropout(x, self.dropout, training=True)
                else:
                    x = x * masks / (1 - self.dropout)
            x = torch.cat([x, skips.pop()], dim=1)
        return torch.tanh(self.out(x))


class Pix2PixGenerator(OneShotGenerator):
    family = "pix2pix"
    capabilities = ("image",)
    config_class = Pix2PixConfig
    # paired: closeness to the true scene, and whether outputs look like scenes at all
    eval_metrics = ("fid", "kid", "precision", "recall", "ssim", "psnr")

    def __init__(self, config: Pix2PixConfig) -> None:
        super().__init__(config)
        self.net = UNet(config)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.net}

    def latent_shape(self) -> tuple[int, ...]:
        return (1,)  # unused: the noise is the seeded dropout mask (see conditions)

    def condition_shape(self) -> tuple[int, int, int]:
        c = self.config
        return (c.cond_channels, c.image_size, c.image_size)

    def image_rule(self) -> ImageRule:
        c = self.config
        return ImageRule(
            c.cond_channels, multiple_of=2**c.depth, min_size=2**c.depth, max_size=MAX_SIDE
        )

    def shape_for(self, conditions: Conditions) -> tuple[int, int, int]:
        return shape_of_input(self.config.channels, conditions)

    def inputs(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        """The condition image (repeated per seed) and each image's dropout mask."""
        cond = conditions.image
        if cond is None:
            raise RequestError("pix2pix needs a condition map: pass --image MAP.png")
        h, w = cond.shape[-2:]
        return {
            "condition": cond.expand(len(seeds), -1, -1, -1),
            "masks": self.dropout_masks(seeds, h, w),
        }

    def dropout_masks(self, seeds: Sequence[int], h: int, w: int) -> torch.Tensor:
        """(B, channels, h/2**(depth-1), w/2**(depth-1)) keep-masks, one per seed."""
        c, scale = self.config, 2 ** (self.config.depth - 1)
        shape = (self.net.inner_channels, h // scale, w // scale)
        masks = [
            (torch.rand(shape, generator=torch.Generator().manual_seed(s)) >= c.dropout).float()
            for s in seeds
        ]
        return torch.stack(masks)

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        cond = conditions.get("condition")
        if cond is None:
            raise RequestError("pix2pix needs conditions['condition'] (the input map)")
        cond = to_signed(torch.as_tensor(cond).to(z.device, z.dtype))
        masks = conditions.get("masks")
        masks = None if masks is None else masks.to(z.device, z.dtype)
        return to_unit(self.net(cond, masks))
