"""zoo: a plugin-based model zoo for generative image models.

    >>> import zoo
    >>> model = zoo.load("dcgan-digits")
    >>> samples = model.sample(n=16, seed=0)
    >>> samples.images.shape          # (16, 1, 16, 16), float in [0, 1]
    >>> samples.save("grid.png")

This module stays light (no torch, no click): importing ``zoo.registry`` runs
it first, and ``zoo --help`` / ``zoo list`` must start fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "list_models", "load"]


def load(model: str, *, device: str | None = None, dtype: str | None = None) -> Any:
    """Load a model by id, folder path or ``hf:org/name[@revision]``; see ``zoo.api.load``."""
    from zoo.api import load as _load

    return _load(model, device=device, dtype=dtype)


def list_models(pattern: str | None = None) -> list[dict[str, Any]]:
    """Registered models as dicts (id, family, process, capabilities, source, plugin)."""
    from zoo.catalog import list_models as _list

    return _list(pattern)
