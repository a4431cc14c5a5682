"""StyleGAN: a style-based generator with per-layer styles, noise inputs and truncation in w.

Paper: Karras, Laine & Aila, "A Style-Based Generator Architecture for Generative
Adversarial Networks" (2019), arXiv:1812.04948.

- Mapping network f: z (normalised to the unit hypersphere's scale) -> w through
  fully connected layers; w lives in an intermediate space the data shapes.
- Synthesis network: a learned constant 4x4 input; at every resolution two
  layers, each a convolution (except the first, which is the constant), per-pixel
  noise added with a learned per-channel scale, LeakyReLU(0.2) and AdaIN:
  x_i <- y_s,i (x_i - mu(x_i)) / sigma(x_i) + y_b,i, the style (y_s, y_b) an
  affine map of w (one per layer). Images are drawn from the last layer by a 1x1
  convolution (toRGB).
- Style mixing: training draws two latents for a share of batches and switches
  from w1 to w2 at a random layer (mixing regularisation); sampling can do the
  same (``--mix-seed``, ``--mix-layers coarse`` takes the second latent for the
  4x4 and 8x8 layers, ``fine`` for the rest).
- Truncation trick in w: w' = w_avg + psi (w - w_avg), with w_avg the moving
  average of w kept during training (``--truncation psi``).
- Noise on or off (``--no-noise``): per-layer noise is drawn from each image's seed.

Where it differs: 32x32 scenes with 4 resolutions (the paper: 1024x1024, 9);
no progressive growing (trained at full size, as StyleGAN2 does), no equalised
learning rate (the mapping network's learning rate is scaled by 0.01 instead),
no blur in up/downsampling. The discriminator is a plain convolutional one,
trained with the non-saturating loss and a lazy R1 penalty, as in the paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.plugins.nn.gan import to_unit
from zoo.plugins.samplers.oneshot import latent_for_seed
from zoo.plugins.stylegan.config import StyleGANConfig, StyleGANOptions
from zoo.registry.contracts import Conditions, OneShotGenerator
from zoo.registry.errors import RequestError
from zoo.registry.options import Options
from zoo.registry.seeds import stream_seed


class Mapping(nn.Module):
    def __init__(self, c: StyleGANConfig):
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(c.mapping_layers):
            layers += [nn.Linear(c.latent_dim, c.latent_dim), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)  # pixel norm
        return self.net(z)


class StyleLayer(nn.Module):
    """(conv) -> + noise * scale -> LeakyReLU -> AdaIN(style(w))."""

    def __init__(self, cin: int, cout: int, w_dim: int, conv: bool):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1) if conv else None
        self.noise_scale = nn.Parameter(torch.zeros(1, cout, 1, 1))
        self.style = nn.Linear(w_dim, 2 * cout)
        nn.init.normal_(self.style.weight, 0.0, w_dim**-0.5)
        with torch.no_grad():  # styles start around scale 1, bias 0
            self.style.bias.copy_(torch.cat([torch.ones(cout), torch.zeros(cout)]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if self.conv is not None:
            x = self.conv(x)
        if noise is not None:
            x = x + self.noise_scale * noise
        x = F.leaky_relu(x, 0.2)
        scale, bias = self.style(w).chunk(2, dim=1)
        x = F.instance_norm(x)  # (x - mu) / sigma per image and channel
        return x * scale[:, :, None, None] + bias[:, :, None, None]


class Synthesis(nn.Module):
    def __init__(self, c: StyleGANConfig):
        super().__init__()
        self.const = nn.Parameter(torch.randn(1, c.widths[0], 4, 4))
        self.layers = nn.ModuleList(
            [StyleLayer(c.widths[0], c.widths[0], c.latent_dim, conv=False)]
        )
        self.layers.append(StyleLayer(c.widths[0], c.widths[0], c.latent_dim, conv=True))
        for cin, cout in zip(c.widths[:-1], c.widths[1:], strict=True):
            self.layers.append(StyleLayer(cin, cout, c.latent_dim, conv=True))
            self.layers.append(StyleLayer(cout, cout, c.latent_dim, conv=True))
        self.to_rgb = nn.Conv2d(c.widths[-1], c.channels, 1)

    def sizes(self) -> list[int]:
        """Side of each layer's output: 4, 4, 8, 8, 16, 16, ..."""
        return [4 * 2 ** (i // 2) for i in range(len(self.layers))]

    def forward(self, ws: torch.Tensor, noise: list[torch.Tensor | None]) -> torch.Tensor:
        """ws (B, L, w_dim): one w per layer; noise: one (B, 1, s, s) or None per layer."""
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        for i, layer in enumerate(self.layers):
            if i >= 2 and i % 2 == 0:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = layer(x, ws[:, i], noise[i])
        return torch.tanh(self.to_rgb(x))


class StyleNetwork(nn.Module):
    def __init__(self, c: StyleGANConfig):
        super().__init__()
        self.mapping = Mapping(c)
        self.synthesis = Synthesis(c)
        self.register_buffer("w_avg", torch.zeros(c.latent_dim))

    @property
    def num_layers(self) -> int:
        return len(self.synthesis.layers)


class StyleGANGenerator(OneShotGenerator):
    family = "stylegan"
    capabilities = ("unconditional",)
    config_class = StyleGANConfig
    options_class = StyleGANOptions
    truncates_latent = False  # psi acts on w here, not on z in the sampler

    def __init__(self, config: StyleGANConfig) -> None:
        super().__init__(config)
        self.net = StyleNetwork(config)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.net}

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def coarse_layers(self) -> int:
        """Layers at 4x4 and 8x8 (the coarse styles: layout, shape), at most half of them;
        the rest are fine (colour, texture)."""
        return min(4, self.net.num_layers // 2)

    def inputs(
        self, conditions: Conditions, options: Options, seeds: Sequence[int]
    ) -> dict[str, Any]:
        """Per image: noise maps from its own seed, and the controls of the options."""
        if not isinstance(options, StyleGANOptions):
            options = StyleGANOptions()
        sizes = self.net.synthesis.sizes()
        use_noise = options.noise is not False
        noise: list[torch.Tensor | None] = [None] * len(sizes)
        if use_noise:
            per_image = []
            for s in seeds:
                g = torch.Generator().manual_seed(stream_seed(s, "stylegan.noise"))
                per_image.append([torch.randn(1, k, k, generator=g) for k in sizes])
            noise = [torch.stack([p[i] for p in per_image]) for i in range(len(sizes))]
        out: dict[str, Any] = {"noise": noise, "psi": options.truncation}
        if options.mix_seed is not None:
            z2 = latent_for_seed(options.mix_seed, self.latent_shape(), None)
            out["mix_z"] = z2.expand(len(seeds), -1)
            out["mix_layers"] = options.mix_layers or "coarse"
        return out

    def styles(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        """(B, L, w_dim): w per layer after truncation and mixing."""
        net = self.net
        psi = conditions.get("psi")

        def w_of(latent: torch.Tensor) -> torch.Tensor:
            w = net.mapping(latent)
            if psi is not None:
                w = net.w_avg + psi * (w - net.w_avg)
            return w

        ws = w_of(z)[:, None].repeat(1, net.num_layers, 1)
        if conditions.get("mix_z") is not None:
            w2 = w_of(conditions["mix_z"].to(z.device, z.dtype))
            k = self.coarse_layers()
            part = (
                slice(0, k)
                if conditions.get("mix_layers", "coarse") == "coarse"
                else slice(k, None)
            )
            ws[:, part] = w2[:, None]
        return ws

    def generate(self, z: torch.Tensor, conditions: dict[str, Any]) -> torch.Tensor:
        noise = conditions.get("noise") or [None] * self.net.num_layers
        if len(noise) != self.net.num_layers:
            raise RequestError(f"give one noise map (or None) per layer: {self.net.num_layers}")
        noise = [None if n is None else n.to(z.device, z.dtype) for n in noise]
        return to_unit(self.net.synthesis(self.styles(z, conditions), noise))
