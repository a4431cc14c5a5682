"""Reconstruction and latent interpolation for models that implement Autoencoder.

Used by `zoo reconstruct`, `zoo interpolate`, `Model.reconstruct`,
`Model.interpolate` and `zoo eval` (reconstruction metrics, random-latent decodes).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.registry.errors import RequestError

if TYPE_CHECKING:
    import torch

    from zoo.api import Model


def autoencoder_of(model: Model) -> Any:
    """The model's network if it reconstructs, else a one-line RequestError."""
    from zoo.registry.contracts import Autoencoder

    net = model.generator
    if not isinstance(net, Autoencoder):
        raise RequestError(
            f"'{model.id}' does not reconstruct images (it has no encoder); use an autoencoder "
            "such as ae-digits, dae-digits or vae-digits"
        )
    return net


def input_shape(net: Any) -> tuple[int, int, int]:
    c = net.config
    return (c.channels, c.image_size, c.image_size)


def load_inputs(model: Model, paths: Sequence[str | Path]) -> torch.Tensor:
    """Images from files as (N, C, S, S) in [0, 1], at exactly the model's size."""
    import torch

    from zoo.images import load_condition

    c, s, _ = input_shape(autoencoder_of(model))
    return torch.cat([load_condition(p, c, min_size=s, max_size=s) for p in paths])


def corrupt(images: torch.Tensor, noise: float, seed: int) -> torch.Tensor:
    """Gaussian noise of std ``noise`` from a generator seeded ``seed``, clipped to [0, 1]."""
    import torch

    if noise < 0 or noise != noise or noise > 10:
        raise RequestError(f"--noise must lie in 0..10, got {noise}")
    if noise == 0:
        return images
    g = torch.Generator().manual_seed(seed)
    return (images + noise * torch.randn(images.shape, generator=g)).clamp(0, 1)


def reconstruct(
    model: Model, images: torch.Tensor, noise: float = 0.0, seed: int = 0
) -> dict[str, torch.Tensor]:
    """{"input", "noisy", "output"}: each (N, C, S, S) in [0, 1] on the CPU."""
    import torch

    net = autoencoder_of(model)
    want = input_shape(net)
    if tuple(images.shape[1:]) != want:
        raise RequestError(
            f"'{model.id}' takes images of shape {want}, got {tuple(images.shape[1:])}"
        )
    noisy = corrupt(images.float(), noise, seed)
    dtype = next(next(iter(net.networks().values())).parameters()).dtype
    with torch.inference_mode():
        out = net.reconstruct(noisy.to(model.device, dtype)).float().cpu().clamp(0, 1)
    return {"input": images, "noisy": noisy, "output": out}


def interpolate(
    model: Model,
    *,
    images: torch.Tensor | None = None,
    seeds: Sequence[int] | None = None,
    steps: int = 8,
) -> torch.Tensor:
    """Decodes of ``steps`` evenly spaced points from latent A to latent B: (steps, C, S, S).

    The ends come from two images (their codes) or two seeds (``random_latents``,
    meaningful only where codes follow a known prior, as in a VAE).
    """
    import torch

    net = autoencoder_of(model)
    if not 2 <= steps <= 256:
        raise RequestError(f"--steps must lie in 2..256, got {steps}")
    dtype = next(next(iter(net.networks().values())).parameters()).dtype
    with torch.inference_mode():
        if images is not None:
            ends = net.encode(images.to(model.device, dtype))
        elif seeds is not None:
            if model.resolved.family.kind == "autoencoder":
                raise RequestError(
                    f"'{model.id}' has no distribution over codes, so a seed names no latent; "
                    "interpolate between two --images (or use a VAE)"
                )
            ends = torch.cat(
                [net.random_latents(1, torch.Generator().manual_seed(s)) for s in seeds]
            )
            ends = ends.to(model.device, dtype)
        else:
            raise RequestError("give two --images or two --seeds")
        if len(ends) != 2:
            raise RequestError(f"interpolation needs exactly two ends, got {len(ends)}")
        t = torch.linspace(0, 1, steps, device=ends.device, dtype=ends.dtype)
        t = t.view(-1, *([1] * (ends.dim() - 1)))
        path = ends[:1] * (1 - t) + ends[1:] * t
        return net.decode(path).float().cpu().clamp(0, 1)
