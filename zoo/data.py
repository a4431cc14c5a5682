"""Loading a dataset split by name: a registered dataset, or ``folder:PATH``."""

from __future__ import annotations

from typing import Any

from zoo.registry.discovery import get_registry, load_object

FOLDER_PREFIX = "folder:"


def load_split(name: str, split: str = "train", image_size: int | None = None) -> dict[str, Any]:
    """The split of a dataset as a dict of tensors (and lists, e.g. captions).

    ``folder:PATH`` reads a folder of images (with optional same-name .txt
    captions); any other name is looked up in the registry (`zoo datasets`).
    """
    kwargs: dict[str, Any] = {"split": split}
    if image_size is not None:
        kwargs["image_size"] = image_size
    if name.startswith(FOLDER_PREFIX):
        from zoo.plugins.datasets.folder import load_folder

        return load_folder(name[len(FOLDER_PREFIX) :], **kwargs)
    return load_object(get_registry().dataset(name).loader)(**kwargs)


def check_name(name: str) -> None:
    """Fail early (before torch) on an unknown dataset name."""
    if not name.startswith(FOLDER_PREFIX):
        get_registry().dataset(name)
