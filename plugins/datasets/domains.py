"""Two unpaired image domains for CycleGAN: scenes by day and scenes by night.

``scenes-day`` is the ordinary ``scenes`` renderer. ``scenes-night`` draws the
same kind of scene at night: a dark blue sky brightening toward the horizon, a
star field, and objects in darker, desaturated colours with a soft glow around
them. The two are unpaired: day image k is scene k of the split, night image k
is scene ``NIGHT_START + k``, so no night image shows the layout of a day image
(for any n below NIGHT_START). Held-out colour-shape pairs follow the split's
rules in both domains (see ``scenes``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from zoo.plugins.datasets import scenes

NIGHT_START = 1 << 30  # scene index of night image 0
NUM_STARS = 12
SKY = (0.02, 0.035, 0.12)  # RGB at the top of the night sky
HORIZON = (0.06, 0.06, 0.16)  # added toward the bottom
DIM, GREY, GLOW = 0.6, 0.45, 0.5  # object brightness, share of grey, glow strength


def _gauss(centres: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """exp(-d^2 / 2 sigma^2) from each centre (unit coordinates) to each pixel centre,
    with d and sigma in pixels: (..., S) for centres (...)."""
    g = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    return torch.exp(-(((g - centres[..., None]) * size / sigma) ** 2) / 2)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (N, C, S, S) with zero padding, as G x G^T (G: (S, S) weights)."""
    s = x.shape[-1]
    g = _gauss((torch.arange(s, dtype=torch.float32) + 0.5) / s, s, sigma)
    g = g / g.sum(dim=1, keepdim=True).max()  # the weights of an unclipped row sum to 1
    return g @ x @ g.T


def night(lay: scenes.Layout, u: np.ndarray, image_size: int) -> torch.Tensor:
    """Draw laid-out scenes at night.

    Args:
        lay: the scenes, from ``scenes.sample``.
        u: (N, 3 * NUM_STARS + 3) uniforms for the stars and the sky tint.
        image_size: side S.

    Returns:
        (N, 3, S, S) float32 in [0, 1].
    """
    n, s = len(lay.attributes), image_size
    g = (torch.arange(s, dtype=torch.float32) + 0.5) / s
    uu = torch.from_numpy(u).float()
    # 1. sky: dark blue, brighter toward the horizon, slightly tinted per scene
    tint = 1 + 0.3 * (2 * uu[:, -3:] - 1)
    sky = torch.tensor(SKY)[None, :, None, None] * tint[:, :, None, None]
    sky = sky + torch.tensor(HORIZON)[None, :, None, None] * g[None, None, :, None] ** 2
    sky = sky.expand(n, 3, s, s).clone()
    # 2. stars: dots about one pixel wide at every resolution; a separable Gaussian each
    sx, sy = uu[:, :NUM_STARS], uu[:, NUM_STARS : 2 * NUM_STARS]
    bright = 0.4 + 0.6 * uu[:, 2 * NUM_STARS : 3 * NUM_STARS]
    ey = bright[:, :, None] * _gauss(sy, s, 0.45)  # (N, K, S)
    stars = torch.einsum("nky,nkx->nyx", ey, _gauss(sx, s, 0.45)).clamp(max=1)
    sky = sky + stars[:, None] * torch.tensor([0.9, 0.9, 1.0])[None, :, None, None]
    # 3. objects: darker, greyer colours that glow onto the sky
    rgb = torch.from_numpy(lay.colour).float()  # (N, 2, 3)
    grey = rgb.mean(dim=2, keepdim=True)
    dim = DIM * ((1 - GREY) * rgb + GREY * grey)
    cov = scenes.coverage(lay, s)
    halo = _blur(cov, sigma=max(0.8, 0.06 * s))  # (N, 2, S, S)
    sky = sky + GLOW * torch.einsum("njc,njhw->nchw", dim, halo)
    return scenes.paint(sky.clamp(0, 1), cov, dim.numpy()).clamp(0, 1)


def load_day(
    split: str = "train",
    image_size: int = 32,
    n: int | None = None,
    seed: int = 0,
    objects: Any = (1, 2),
) -> dict[str, torch.Tensor]:
    """Scenes by day: {"image": (N, 3, S, S) float32 in [0, 1]}; arguments as ``scenes.load``."""
    scenes.check_args(split, image_size, n, seed, objects)
    lay, _ = scenes.sample(split, n, seed, objects)
    return {"image": scenes.render_layout(lay, image_size)["image"]}


def load_night(
    split: str = "train",
    image_size: int = 32,
    n: int | None = None,
    seed: int = 0,
    objects: Any = (1, 2),
) -> dict[str, torch.Tensor]:
    """Scenes by night: {"image": (N, 3, S, S) float32 in [0, 1]}; arguments as ``scenes.load``."""
    n, _ = scenes.check_args(split, image_size, n, seed, objects)
    lay, _ = scenes.sample(split, n, seed, objects, start=NIGHT_START)
    index = np.arange(NIGHT_START, NIGHT_START + n)
    u = scenes.uniforms(seed, split, index, 3 * NUM_STARS + 3, first=scenes.NUM_STREAMS)
    images = torch.empty(n, 3, image_size, image_size)
    step = scenes.chunk_size(image_size)
    with scenes.one_thread():
        for i in range(0, n, step):
            j = slice(i, i + step)
            images[j] = night(lay[j], u[j], image_size)
    return {"image": images}


def load_daynight(
    split: str = "train",
    image_size: int = 32,
    n: int | None = None,
    seed: int = 0,
    objects: Any = (1, 2),
) -> dict[str, torch.Tensor]:
    """Both domains, unpaired: {"image_a": day (N, 3, S, S), "image_b": night (N, 3, S, S)}."""
    return {
        "image_a": load_day(split, image_size, n, seed, objects)["image"],
        "image_b": load_night(split, image_size, n, seed, objects)["image"],
    }
