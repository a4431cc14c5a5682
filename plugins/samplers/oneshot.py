"""One-shot sampling: z ~ N(0, I) per image, then one pass through the generator.

Truncation (the "truncation trick" of BigGAN / StyleGAN) resamples each latent
component whose magnitude exceeds psi, trading variety for fidelity.
"""

from __future__ import annotations

import torch

from zoo.registry.contracts import Draw, OneShotGenerator, Sampler
from zoo.registry.errors import RequestError
from zoo.registry.options import TruncationOptions


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


class OneShotSampler(Sampler[OneShotGenerator]):
    name = "one-shot"
    process = "one-shot"
    generator_class = OneShotGenerator

    @torch.inference_mode()
    def sample(self, generator: OneShotGenerator, draw: Draw) -> torch.Tensor:
        if not isinstance(generator, OneShotGenerator):
            raise RequestError(f"the one-shot sampler cannot drive a {generator.process} model")
        shape = generator.latent_shape()
        # z is truncated here unless the family applies truncation itself (StyleGAN, in w)
        psi = None
        if generator.truncates_latent and isinstance(draw.options, TruncationOptions):
            psi = draw.options.truncation
        dtype = next(next(iter(generator.networks().values())).parameters()).dtype
        tick = draw.ticker(-(-len(draw.seeds) // draw.batch_size))
        out = []
        for chunk in draw.batches():
            # 1. one latent per image, each from its own seed
            z = torch.stack([latent_for_seed(s, shape, psi) for s in chunk])
            # 2. inputs (label, condition image, ...) from the conditions and each image's seed
            inputs = generator.inputs(draw.conditions, draw.options, chunk)
            inputs = {
                k: v.to(draw.device) if isinstance(v, torch.Tensor) else v
                for k, v in inputs.items()
            }
            # 3. one pass through the generator (eval mode: no batch statistics, so an
            #    image does not depend on its batch; zoo.testing checks this per family)
            x = generator.generate(z.to(device=draw.device, dtype=dtype), inputs)
            out.append(x.float().cpu())
            tick()
        return torch.cat(out).clamp(0, 1)
