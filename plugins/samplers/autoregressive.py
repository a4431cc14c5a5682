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

from collections.abc import Sequence
from typing import Any

import torch

from zoo.registry.contracts import AutoregressiveGenerator, Sampler
from zoo.registry.errors import RequestError
from zoo.registry.schemas import SampleRequest

MASK = float("-inf")


def candidate_seed(seed: int, j: int) -> int:
    """The seed of candidate j of an image seeded ``seed``; candidate 0 is the image itself.

    A fixed mixing of (seed, j) (splitmix64), so candidate seeds of neighbouring images do
    not collide the way seed + j would.
    """
    if j == 0:
        return seed
    x = (seed * 0x9E3779B97F4A7C15 + j) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (x ^ (x >> 31)) & 0x7FFFFFFFFFFFFFFF


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


class AutoregressiveSampler(Sampler):
    name = "ar"
    process = "autoregressive"

    @torch.inference_mode()
    def sample(
        self,
        generator: AutoregressiveGenerator,  # type: ignore[override]
        request: SampleRequest,
        seeds: Sequence[int],
        device: torch.device,
    ) -> torch.Tensor:
        if not isinstance(generator, AutoregressiveGenerator):
            raise RequestError(f"the ar sampler cannot drive a {generator.process} model")
        if request.steps is not None and request.steps != generator.sequence_length():
            raise RequestError(
                f"--steps does not apply: this model always draws {generator.sequence_length()} "
                "tokens per image"
            )
        rerank = request.rerank or 1
        out = []
        for i in range(0, len(seeds), request.batch_size):
            chunk = list(seeds[i : i + request.batch_size])
            if rerank == 1:
                out.append(self._draw(generator, request, chunk, device))
                continue
            for s in chunk:  # each image: its candidates in one batch, the best kept
                cands = [candidate_seed(s, j) for j in range(rerank)]
                images = self._draw(generator, request, cands, device, context_seeds=[s] * rerank)
                context = self._context(generator, request, [s] * rerank, device)
                scores = generator.score(images.to(device), context)
                if scores is None:
                    raise RequestError("this model has no score to rerank by; drop --rerank")
                out.append(images[int(torch.argmax(scores.float().cpu()))][None])
        return torch.cat(out).clamp(0, 1)

    @staticmethod
    def _context(
        generator: AutoregressiveGenerator,
        request: SampleRequest,
        seeds: list[int],
        device: torch.device,
    ) -> dict[str, Any]:
        ctx = generator.context(request, seeds)
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in ctx.items()}

    def _draw(
        self,
        generator: AutoregressiveGenerator,
        request: SampleRequest,
        seeds: list[int],
        device: torch.device,
        context_seeds: list[int] | None = None,
    ) -> torch.Tensor:
        """Sequences for ``seeds`` (randomness), conditioned as for ``context_seeds``."""
        temperature = request.temperature if request.temperature is not None else 1.0
        context = self._context(generator, request, context_seeds or seeds, device)
        rngs = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
        length = generator.sequence_length()
        tokens = torch.zeros(len(seeds), 0, dtype=torch.long, device=device)
        state: dict[str, Any] = {}
        for _ in range(length):
            logits = generator.next_logits(tokens, context, state)
            logits = filter_logits(logits, temperature, request.top_k, request.top_p)
            u = torch.stack([torch.rand((), generator=g) for g in rngs])
            nxt = draw_tokens(logits.cpu(), u).to(device)
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        return generator.decode(tokens).float().cpu()
