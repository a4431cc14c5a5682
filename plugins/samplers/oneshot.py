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
        # families with their own truncation (StyleGAN's, in w space) read request.truncation
        # themselves and set `applies_truncation`; the others get z resampled here
        psi = None if getattr(generator, "applies_truncation", False) else request.truncation
        dtype = next(next(iter(generator.networks().values())).parameters()).dtype
        out = []
        for i in range(0, len(seeds), request.batch_size):
            chunk = list(seeds[i : i + request.batch_size])
            # 1. one latent per image, each from its own seed
            z = torch.stack([latent_for_seed(s, shape, psi) for s in chunk])
            # 2. conditions (label, ...) from the request and each image's own seed
            cond = generator.conditions(request, chunk)
            cond = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in cond.items()}
            # 3. one pass through the generator (eval mode: no batch statistics, so an
            #    image does not depend on its batch; zoo.testing checks this per family)
            x = generator.generate(z.to(device=device, dtype=dtype), cond)
            out.append(x.float().cpu())
        return torch.cat(out).clamp(0, 1)
