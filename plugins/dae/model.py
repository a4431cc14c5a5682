"""Denoising autoencoder: an autoencoder that must undo corruption of its input.

Idea (the seeds, §1.2.2; Vincent, Larochelle, Bengio & Manzagol, "Extracting and
Composing Robust Features with Denoising Autoencoders", ICML 2008): during
training the input is corrupted, x~ ~ q(x~ | x), and the network is asked for the
clean x: min |d(e(x~)) - x|^2. It cannot copy its input, so it must learn what
digits look like, and at use it removes noise of the kind it saw. It still has no
distribution over codes, so it cannot generate either.

Corruption here: Gaussian noise of std ``noise_std`` (clipped to [0, 1]) and,
optionally, masking noise (each pixel zeroed with probability ``mask_prob``, the
paper's choice). The network is the AE's (``BottleneckAutoencoder`` in
``plugins/nn/autoencoder.py``): this family is a new recipe for it, the AE's
reconstruction recipe with the input corrupted first.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field

from zoo.plugins.nn.autoencoder import AutoencoderConfig, BottleneckAutoencoder


class DAEConfig(AutoencoderConfig):
    noise_std: float = Field(default=0.3, ge=0, le=2, description="std of the Gaussian corruption")
    mask_prob: float = Field(default=0.0, ge=0, lt=1, description="share of pixels zeroed")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = AutoencoderConfig.PRESETS


def corrupt(
    x: torch.Tensor,
    noise_std: float,
    mask_prob: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """x~ = clip(x * mask + noise_std * eps, 0, 1) with eps ~ N(0, I), mask ~ Bernoulli(1 - mask_prob)."""
    noisy = x
    if mask_prob > 0:
        keep = torch.rand(x.shape, generator=generator).to(x.device) >= mask_prob
        noisy = noisy * keep
    if noise_std > 0:
        noisy = noisy + noise_std * torch.randn(x.shape, generator=generator).to(x.device)
    return noisy.clamp(0, 1)


class DenoisingAutoencoder(BottleneckAutoencoder):
    """The AE's network under the name "dae", with the corruption settings in its config."""

    family = "dae"
    config_class = DAEConfig
