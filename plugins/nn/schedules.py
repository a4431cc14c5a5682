"""Learning-rate schedules shared by the families' recipes."""

from __future__ import annotations

import math
from collections.abc import Callable


def warmup_cosine(warmup: int, steps: int) -> Callable[[int], float]:
    """LR factor for LambdaLR: linear warm-up to 1, then cosine to 0 at ``steps`` (held at 0 after)."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = min(1.0, (step - warmup) / max(1, steps - warmup))
        return 0.5 * (1 + math.cos(math.pi * t))

    return factor
