"""Encoder and decoder bodies shared by the autoencoder families (AE, DAE, VAE), the
residual block of the VQ-VAE and the dVAE, and the plain autoencoder network and its
reconstruction recipe, which the AE and DAE families share (they differ only in what
the recipe does to the input).

Two shapes, chosen by ``arch``:

- ``mlp``: fully connected, as in the seeds' picture of an autoencoder: image ->
  hidden layers -> bottleneck -> mirrored hidden layers -> image (the digits models).
- ``conv``: stride-2 4x4 convolutions halve the side ``len(hidden)`` times, a linear
  layer maps the last feature map to the bottleneck; the decoder mirrors it with
  transposed convolutions (colour scenes, where an MLP blurs the objects away).

No normalisation layers, so an image's code never depends on its batch. The
decoder ends in a sigmoid, so its output is already an image in [0, 1].
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from zoo.registry.contracts import Autoencoder, FamilyConfig, Network, Recipe


class ResBlock(nn.Module):
    """x + conv1x1(relu(conv3x3(relu(x)))) at constant width: the residual block of the
    VQ-VAE paper's encoder and decoder (the VQ-VAE and DALL-E's dVAE use it)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class AutoencoderConfig(FamilyConfig):
    """Sizes and training settings every autoencoder family has. Defaults: digits."""

    image_size: int = Field(default=16, ge=4, le=64, description="image side in pixels")
    channels: int = Field(default=1, ge=1, le=4, description="image channels")
    latent_dim: int = Field(default=8, ge=1, le=1024, description="bottleneck size")
    arch: Literal["mlp", "conv"] = Field(
        default="mlp",
        description="mlp: fully connected layers of widths `hidden`; conv: stride-2 "
        "convolutions with `hidden` channels (image_size divisible by 2**len(hidden))",
    )
    hidden: tuple[int, ...] = Field(
        default=(256, 128), min_length=1, description="encoder layer widths (conv: channels)"
    )
    lr: float = Field(default=1e-3, gt=0, le=1, description="Adam learning rate")
    batch_size: int = Field(default=64, ge=1, le=4096, description="training batch size")
    steps: int = Field(default=4000, ge=1, description="training steps")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"image_size": 8, "latent_dim": 2, "hidden": (8,), "batch_size": 8, "steps": 3},
        "default": {},
        # 32x32 colour scenes: conv body, a code big enough for two objects and a background
        "scenes": {
            "image_size": 32,
            "channels": 3,
            "latent_dim": 32,
            "arch": "conv",
            "hidden": (32, 64, 128),
        },
    }

    @model_validator(mode="after")
    def _conv_sides(self) -> AutoencoderConfig:
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be positive, got {self.hidden}")
        if self.arch == "conv" and self.image_size % 2 ** len(self.hidden):
            raise ValueError(
                f"a conv autoencoder with {len(self.hidden)} layers needs image_size divisible "
                f"by {2 ** len(self.hidden)}, got {self.image_size}"
            )
        return self


def mlp(sizes: list[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
    return layers


class Encoder(nn.Module):
    """(B, C, S, S) -> (B, out_dim): the hidden layers, then a linear bottleneck."""

    def __init__(self, c: AutoencoderConfig, out_dim: int):
        super().__init__()
        if c.arch == "mlp":
            body = [nn.Flatten(), *mlp([c.channels * c.image_size**2, *c.hidden])]
            width = c.hidden[-1]
        else:
            body = []
            for a, b in zip((c.channels, *c.hidden[:-1]), c.hidden, strict=True):
                body += [nn.Conv2d(a, b, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
            body.append(nn.Flatten())
            width = c.hidden[-1] * (c.image_size // 2 ** len(c.hidden)) ** 2
        self.net = nn.Sequential(*body, nn.Linear(width, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """(B, latent_dim) -> (B, C, S, S) in [0, 1]: the hidden layers mirrored, then a sigmoid."""

    def __init__(self, c: AutoencoderConfig):
        super().__init__()
        self.shape = (c.channels, c.image_size, c.image_size)
        if c.arch == "mlp":
            sizes = [c.latent_dim, *reversed(c.hidden)]
            tail = [nn.Linear(sizes[-1], c.channels * c.image_size**2)]
            self.net = nn.Sequential(*mlp(sizes), *tail, nn.Sigmoid())
        else:
            side = c.image_size // 2 ** len(c.hidden)
            widths = [*reversed(c.hidden)]
            layers: list[nn.Module] = [
                nn.Linear(c.latent_dim, widths[0] * side * side),
                nn.Unflatten(1, (widths[0], side, side)),
                nn.ReLU(inplace=True),
            ]
            for a, b in zip(widths[:-1], widths[1:], strict=True):
                layers += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.ReLU(inplace=True)]
            layers += [nn.ConvTranspose2d(widths[-1], c.channels, 4, 2, 1), nn.Sigmoid()]
            self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(len(z), *self.shape)


class BottleneckAutoencoder(Network, Autoencoder):
    """Encoder -> code (B, latent_dim) -> decoder: the network of the AE and DAE families.

    A family subclasses it to set ``family`` (and ``config_class`` if its config adds
    fields); the weights are the parts "encoder" and "decoder".
    """

    config_class = AutoencoderConfig

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__(config)
        self.encoder = Encoder(config, config.latent_dim)
        self.decoder = Decoder(config)

    def networks(self) -> dict[str, torch.nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder}

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [0, 1] -> codes (B, latent_dim)."""
        return self.encoder(images)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Codes (B, latent_dim) -> images (B, C, S, S) in [0, 1]."""
        return self.decoder(latents)


class ReconstructionRecipe(Recipe):
    """L = mean |d(e(x~)) - x|^2 with x~ = corrupt(x), Adam on encoder and decoder.

    ``corrupt`` is the identity here (a plain autoencoder); the DAE overrides it.
    """

    generator: BottleneckAutoencoder
    config: AutoencoderConfig

    def __init__(
        self, generator: BottleneckAutoencoder, config: AutoencoderConfig, device: torch.device
    ):
        super().__init__(generator, config, device)
        self.net = generator
        params = [p for m in generator.networks().values() for p in m.to(device).parameters()]
        self.opt = torch.optim.Adam(params, lr=config.lr)

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """The input the network sees for the clean batch x (B, C, S, S) in [0, 1]."""
        return x

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        x = batch["image"].to(self.device)
        loss = F.mse_loss(self.net.reconstruct(self.corrupt(x)), x)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"mse": loss.item()}

    def recipe_summary(self) -> dict[str, Any]:
        return {"loss": "MSE(reconstruction, input)", "optimizer": f"Adam, lr {self.config.lr:g}"}
