"""``zoo bench``: how long a model takes to draw a batch on the CPU.

One warm-up draw, then ``repeats`` timed draws of the same request; the figures
are the median over the repeats and their spread (min-max), per batch and per
image. The card's sampling section records them (``zoo bench --write-card``).
"""

from __future__ import annotations

import math
import platform
import shlex
import statistics
import time
from pathlib import Path
from typing import Any

from zoo.registry.errors import RequestError

REPEATS = 5  # timed draws after the warm-up
SPREAD = "min-max"  # what the card's and the output's spread is


def _sig(x: float, digits: int = 4) -> float:
    """``x`` rounded to ``digits`` significant digits (per-image times are microseconds)."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def summarise(values: list[float]) -> dict[str, float]:
    """{"median", "min", "max"} of ``values``, each to 4 significant digits."""
    return {
        "median": _sig(statistics.median(values)),
        "min": _sig(min(values)),
        "max": _sig(max(values)),
    }


def measure_sampling(model: Any, n: int = 64, repeats: int = REPEATS) -> dict[str, Any]:
    """Time drawing ``n`` images from a loaded model: a warm-up, then ``repeats`` timed draws.

    Returns the card's sampling section: the command that reproduces it, ``images``
    (per batch), ``repeats``, ``spread`` ("min-max"), ``seconds_per_batch`` and
    ``seconds_per_image`` as {"median", "min", "max"} over the repeats,
    ``images_per_second`` (the median's), device, threads, Python, and the request
    flags a conditioned model needed (``request``).

    Raises:
        RequestError: ``n`` or ``repeats`` below 1.
    """
    import torch

    from zoo.train import example_options

    if n < 1:
        raise RequestError(f"-n must be at least 1, not {n}")
    if repeats < 1:
        raise RequestError(f"--repeats must be at least 1, not {repeats}")
    opts = example_options(model)  # a prompt or an input image for conditioned models
    model.sample(n=n, seed=0, **opts)  # warm-up: the same request as the timed draws
    batch = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.sample(n=n, seed=0, **opts)
        batch.append(time.perf_counter() - t0)
    per_batch = summarise(batch)
    flags = "".join(
        f" --{k.replace('_', '-')} {shlex.quote(Path(v).name if k == 'image' else str(v))}"
        for k, v in opts.items()
    )
    return {
        "command": f"zoo bench {model.resolved.folder.name} -n {n} --repeats {repeats}",
        "images": n,
        "repeats": repeats,
        "spread": SPREAD,
        "seconds_per_batch": per_batch,
        "seconds_per_image": summarise([t / n for t in batch]),
        "images_per_second": _sig(n / statistics.median(batch)),
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        **({"request": flags.strip()} if flags else {}),
    }


def duration(seconds: float) -> str:
    """A time for people: "6.4 s", "15.1 ms", "0.236 ms"."""
    return f"{seconds:.3g} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"


def spread_text(figures: dict[str, float]) -> str:
    """ "15.1 ms (12.3-19 ms)": a median with its min-max."""
    lo, hi = duration(figures["min"]), duration(figures["max"])
    if lo.split()[1] == hi.split()[1]:
        lo = lo.split()[0]
    return f"{duration(figures['median'])} ({lo}-{hi})"


def report(sampling: dict[str, Any]) -> str:
    """The lines ``zoo bench`` prints for a sampling section written by measure_sampling."""
    b, i = sampling["seconds_per_batch"], sampling["seconds_per_image"]
    return "\n".join(
        [
            f"{sampling['images']} images per batch, 1 warm-up then {sampling['repeats']} "
            f"timed repeats on {sampling['device']} ({sampling['threads']} threads); "
            f"median ({sampling['spread']}):",
            f"  per batch  {spread_text(b)}",
            f"  per image  {spread_text(i)}",
            f"  images/s   {sampling['images_per_second']:,.4g}",
        ]
    )
