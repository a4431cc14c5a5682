"""Autoregressive sampling: draw a token sequence one position at a time, then decode it.

At each position the generator gives logits; they are divided by the temperature,
cut to the k most likely tokens (top-k) and/or the smallest set holding probability
p (top-p, "nucleus" sampling, Holtzman et al. 2019), and one token is drawn per image
by inverting its cumulative distribution with a uniform number from that image's own
torch.Generator, so an image never depends on its batch.

Reranking (DALL-E, Ramesh et al. 2021) draws N candidates per image, each from a seed
derived from the image's seed, and keeps the one the generator scores highest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from zoo.plugins.samplers.options import AutoregressiveOptions
from zoo.registry.contracts import AutoregressiveGenerator, Draw, Sampler
from zoo.registry.errors import RequestError
from zoo.registry.seeds import candidate_seed

MASK = float("-inf")


def filter_logits(
    logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None
) -> torch.Tensor:
    """Temperature, then top-k, then top-p on (B, V) logits; removed tokens get -inf."""
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, MASK)
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # drop a token when the tokens ranked above it already hold p; the first always stays
        drop = (probs.cumsum(-1) - probs) >= top_p
        drop = torch.zeros_like(drop).scatter(-1, order, drop)
        logits = logits.masked_fill(drop, MASK)
    return logits


def draw_tokens(logits: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """One token per row of (B, V) filtered logits by inverse CDF with (B,) uniforms in [0, 1)."""
    probs = torch.softmax(logits, dim=-1)
    cdf = probs.cumsum(-1)
    u = uniforms.to(cdf.dtype)[:, None] * cdf[:, -1:]
    index = torch.searchsorted(cdf, u, right=True).clamp_max(logits.shape[-1] - 1)
    # rounding may land on a removed token at the end of the CDF: step back to a kept one
    token = index[:, 0]
    kept = probs > 0
    bad = ~kept.gather(1, token[:, None])[:, 0]
    if bad.any():
        last_kept = kept.shape[-1] - 1 - kept.flip(-1).float().argmax(-1)
        token = torch.where(bad, last_kept, token)
    return token


class AutoregressiveSampler(Sampler[AutoregressiveGenerator]):
    name = "ar"
    process = "autoregressive"
    generator_class = AutoregressiveGenerator
    options_class = AutoregressiveOptions

    @torch.inference_mode()
    def sample(self, generator: AutoregressiveGenerator, draw: Draw) -> torch.Tensor:
        if not isinstance(generator, AutoregressiveGenerator):
            raise RequestError(f"the ar sampler cannot drive a {generator.process} model")
        opts = draw.sampler_options
        if not isinstance(opts, AutoregressiveOptions):
            raise RequestError("the ar sampler needs its own options (AutoregressiveOptions)")
        rerank = opts.rerank or 1
        # one tick per token of each decoding run: a run per batch, or per image with rerank
        runs = len(draw.seeds) if rerank > 1 else -(-len(draw.seeds) // draw.batch_size)
        tick = draw.ticker(runs * generator.sequence_length())
        out = []
        for chunk in draw.batches():
            if rerank == 1:
                out.append(self._draw(generator, draw, opts, chunk, tick=tick))
                continue
            for s in chunk:  # each image: its candidates in one batch, the best kept
                cands = [candidate_seed(s, j) for j in range(rerank)]
                images = self._draw(
                    generator, draw, opts, cands, context_seeds=[s] * rerank, tick=tick
                )
                context = self._context(generator, draw, [s] * rerank)
                scores = generator.score(images.to(draw.device), context)
                if scores is None:
                    raise RequestError("this model has no score to rerank by; drop --rerank")
                out.append(images[int(torch.argmax(scores.float().cpu()))][None])
        return torch.cat(out).clamp(0, 1)

    @staticmethod
    def _context(
        generator: AutoregressiveGenerator, draw: Draw, seeds: list[int]
    ) -> dict[str, Any]:
        ctx = generator.context(draw.conditions, draw.options, seeds)
        return {k: v.to(draw.device) if isinstance(v, torch.Tensor) else v for k, v in ctx.items()}

    def _draw(
        self,
        generator: AutoregressiveGenerator,
        draw: Draw,
        opts: AutoregressiveOptions,
        seeds: list[int],
        context_seeds: list[int] | None = None,
        tick: Callable[[], None] | None = None,
    ) -> torch.Tensor:
        """Sequences for ``seeds`` (randomness), conditioned as for ``context_seeds``."""
        temperature = opts.temperature if opts.temperature is not None else 1.0
        context = self._context(generator, draw, context_seeds or seeds)
        rngs = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
        length = generator.sequence_length()
        tokens = torch.zeros(len(seeds), 0, dtype=torch.long, device=draw.device)
        state: dict[str, Any] = {}
        for _ in range(length):
            logits = generator.next_logits(tokens, context, state)
            logits = filter_logits(logits, temperature, opts.top_k, opts.top_p)
            u = torch.stack([torch.rand((), generator=g) for g in rngs])
            nxt = draw_tokens(logits.cpu(), u).to(draw.device)
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            if tick is not None:
                tick()
        return generator.decode(tokens).float().cpu()
