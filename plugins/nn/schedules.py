"""Learning-rate schedules shared by the families' recipes."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


def warmup_cosine(warmup: int, steps: int) -> Callable[[int], float]:
    """LR factor for LambdaLR: linear warm-up to 1, then cosine to 0 at ``steps`` (held at 0 after)."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = min(1.0, (step - warmup) / max(1, steps - warmup))
        return 0.5 * (1 + math.cos(math.pi * t))

    return factor


def first_phase_steps(fraction: float, steps: int) -> int:
    """Steps of the first phase of a two-phase run (an autoencoder, then a prior over its
    codes): ``fraction`` of ``steps``, at least 1, and 1 fewer than ``steps`` when it can."""
    return max(1, min(steps - 1, round(fraction * steps)))


def phase_schedule(optimizer: Any, warmup: int, steps: int) -> Any:
    """A LambdaLR for one phase of ``steps`` steps: warm-up (at most half the phase), cosine."""
    import torch

    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(min(warmup, steps // 2), steps)
    )
