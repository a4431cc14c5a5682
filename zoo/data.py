"""Loading a dataset split by name: a registered dataset, or ``NAME:PATH`` for a dataset
that reads a path (``folder:PATH``)."""

from __future__ import annotations

from typing import Any

from zoo.registry.discovery import get_registry, load_object
from zoo.registry.errors import RequestError
from zoo.registry.schemas import DatasetSpec


def _spec(name: str) -> tuple[DatasetSpec, str | None]:
    """The dataset spec of ``name`` and its path (``NAME:PATH``), checked."""
    base, colon, path = name.partition(":")
    spec = get_registry().dataset(base if colon else name)
    if colon and not spec.takes_path:
        raise RequestError(f"dataset '{base}' takes no path; use --data {base}")
    if not colon and spec.takes_path:
        raise RequestError(f"dataset '{name}' reads your files: use --data {name}:PATH")
    if colon and not path:
        raise RequestError(f"--data {name} names no path; use {base}:PATH")
    return spec, path if colon else None


def load_split(name: str, split: str = "train", image_size: int | None = None) -> dict[str, Any]:
    """The split of a dataset as a dict of tensors (and lists, e.g. captions).

    ``folder:PATH`` reads a folder of images (with optional same-name .txt
    captions); any other name is looked up in the registry (`zoo datasets`).
    """
    kwargs: dict[str, Any] = {"split": split}
    if image_size is not None:
        kwargs["image_size"] = image_size
    spec, path = _spec(name)
    loader = load_object(spec.loader)
    return loader(path, **kwargs) if path is not None else loader(**kwargs)


def check_name(name: str) -> None:
    """Fail early (before torch) on an unknown dataset name."""
    _spec(name)
