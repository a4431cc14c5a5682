"""One-shot sampling: z ~ N(0, I) per image, then one pass through the generator.

Truncation (the "truncation trick" of BigGAN / StyleGAN) resamples each latent
component whose magnitude exceeds psi, trading variety for fidelity.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from zoo.registry.contracts import OneShotGenerator, Sampler
from zoo.registry.errors import RequestError
from zoo.registry.schemas import SampleRequest


def latent_for_seed(seed: int, shape: tuple[int, ...], truncation: float | None) -> torch.Tensor:
    """The latent of one image, drawn on the CPU so every device sees the same numbers."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    z = torch.randn(shape, generator=g)
    if truncation is not None:
        # resample |z_i| > psi until every component lies inside [-psi, psi]
        for _ in range(1000):
            outside = z.abs() > truncation
            if not outside.any():
                break
            z = torch.where(outside, torch.randn(shape, generator=g), z)
        z = z.clamp(-truncation, truncation)
    return z


class OneShotSampler(Sampler):
    name = "one-shot"
    process = "one-shot"

    @torch.inference_mode()
    def sample(
        self,
        generator: OneShotGenerator,  # type: ignore[override]
        request: SampleRequest,
        seeds: Sequence[int],
        device: torch.device,
    ) -> torch.Tensor:
        if not isinstance(generator, OneShotGenerator):
            raise RequestError(f"the one-shot sampler cannot drive a {generator.process} model")
        shape = generator.latent_shape()
        dtype = next(iter(generator.networks().values())).parameters().__next__().dtype
        out = []
        # 1. Each image is computed alone: batched kernels may round differently
        #    with the batch size, and an image must not depend on its batch.
        for seed in seeds:
            z = latent_for_seed(seed, shape, request.truncation)[None]
            # 2. conditions (label, ...) come from the request and this image's seed
            cond = generator.conditions(request, [seed])
            cond = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in cond.items()}
            # 3. one pass through the generator
            x = generator.generate(z.to(device=device, dtype=dtype), cond)
            out.append(x.float().cpu())
        return torch.cat(out).clamp(0, 1)
