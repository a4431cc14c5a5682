"""CycleGAN: image-to-image translation learnt from unpaired examples of two domains.

Paper: Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks" (2017), arXiv:1703.10593.

Two generators, G: A -> B and F: B -> A, each fooling its own PatchGAN
discriminator (D_B judges G's outputs against real B images, D_A judges F's).
Nothing pairs an A image with its B counterpart, so the adversarial losses
alone would let G map every image to any plausible B image; the
cycle-consistency loss lambda (|F(G(a)) - a|_1 + |G(F(b)) - b|_1) requires each
translation to keep enough of its input to undo it. An identity loss
(|G(b) - b|_1 + |F(a) - a|_1, weight 0.5 lambda) keeps colours a domain shares.
Adversarial terms use least squares (LSGAN), as in the paper; lambda = 10,
Adam 2e-4 with betas (0.5, 0.999).

Generators are the paper's ResNet design (7x7 stem, two stride-2 convolutions,
residual blocks, two transposed convolutions, 7x7 output, instance norm),
narrower and with 3 residual blocks at 32x32 where the paper uses 6 at 128x128.
Where it differs: no pool of 50 earlier fakes for the discriminators (they see
the current batch's fakes) and no learning-rate decay.

Both directions ship in one model: ``--direction a2b`` (default) runs G,
``b2a`` runs F. Translation is deterministic: the seed does not change it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from zoo.plugins.cyclegan.config import CycleGANConfig, CycleGANOptions
from zoo.plugins.nn.gan import to_signed, to_unit
from zoo.registry.contracts import Conditions, ImageRule, OneShotGenerator, shape_of_input
from zoo.registry.errors import RequestError
from zoo.registry.options import Options

MAX_SIDE = 512


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(ch, ch, 3),
            nn.InstanceNorm2d(ch, affine=True),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(ch, ch, 3),
            nn.InstanceNorm2d(ch, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """(B, C, H, W) in [-1, 1] -> (B, C, H, W) in [-1, 1]; H and W multiples of 4."""

    def __init__(self, c: CycleGANConfig):
        super().__init__()
        ch = c.g_channels

        def norm_relu(k: int) -> list[nn.Module]:
            return [nn.InstanceNorm2d(k, affine=True), nn.ReLU(inplace=True)]

        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(c.channels, ch, 7),
            *norm_relu(ch),
        ]
        layers += [nn.Conv2d(ch, ch * 2, 3, 2, 1), *norm_relu(ch * 2)]
        layers += [nn.Conv2d(ch * 2, ch * 4, 3, 2, 1), *norm_relu(ch * 4)]
        layers += [ResBlock(ch * 4) for _ in range(c.res_blocks)]
        layers += [
            nn.ConvTranspose2d(ch * 4, ch * 2, 3, 2, 1, output_padding=1),
            *norm_relu(ch * 2),
        ]
        layers += [nn.ConvTranspose2d(ch * 2, ch, 3, 2, 1, output_padding=1), *norm_relu(ch)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, c.channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CycleGANGenerator(OneShotGenerator):
    family = "cyclegan"
    capabilities = ("image",)
    config_class = CycleGANConfig
    options_class = CycleGANOptions
    # unpaired: a distribution metric against the target domain, not pairs
    eval_metrics = ("fid", "kid", "precision", "recall")
    seed_varies = False

    def __init__(self, config: CycleGANConfig) -> None:
        super().__init__(config)
        self.g_ab = ResnetGenerator(config)  # G: A -> B
        self.g_ba = ResnetGenerator(config)  # F: B -> A

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"g_ab": self.g_ab, "g_ba": self.g_ba}

    def latent_shape(self) -> tuple[int, ...]:
        return (1,)  # unused: translation is deterministic

    def condition_shape(self) -> tuple[int, int, int]:
        c = self.config
        return (c.channels, c.image_size, c.image_size)

    def image_rule(self) -> ImageRule:
        return ImageRule(self.config.channels, multiple_of=4, min_size=8, max_size=MAX_SIDE)

    def shape_for(self, conditions: Conditions) -> tuple[int, int, int]:
        return shape_of_input(self.config.channels, conditions)

    def eval_datasets(self, options: Options) -> tuple[str, str]:
        """(dataset of the real images, dataset of the inputs) for ``zoo eval``."""
        if isinstance(options, CycleGANOptions) and options.direction == "b2a":
            return "scenes-day", "scenes-night"
        return "scenes-night", "scenes-day"

    def inputs(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        image = conditions.image
        if image is None:
            c = self.config
            raise RequestError(
                f"cyclegan translates an image: pass --image IN.png (a {c.domain_a} scene for "
                f"--direction a2b, a {c.domain_b} scene for b2a)"
            )
        direction = options.direction if isinstance(options, CycleGANOptions) else None
        return {
            "image": image.expand(len(seeds), -1, -1, -1),
            "direction": direction or "a2b",
        }

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        image = conditions.get("image")
        if image is None:
            raise RequestError("cyclegan needs conditions['image'] (the input)")
        net = self.g_ba if conditions.get("direction") == "b2a" else self.g_ab
        return to_unit(net(to_signed(torch.as_tensor(image).to(z.device, z.dtype))))
